/* What reading a model's weights costs, alone: the floor under a step that
 * reads every weight once (crt bench model). */
#ifndef CRTD_TOOLS_BENCH_BANDWIDTH_H
#define CRTD_TOOLS_BENCH_BANDWIDTH_H

#include <stddef.h>

/* Microseconds of this thread's CPU time to read bytes of memory once,
 * again and again as a step reads its weights (best of many reads, after
 * warm-up), with the widest vector loads the CPU has; and so GB/s. Returns
 * a negative number when out of memory. */
double bench_read_us(size_t bytes, double *ret_gb_per_s);

#endif
