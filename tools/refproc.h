/* refproc: runs a reference script (PyTorch, TensorFlow.js) as a child
 * process and reads the one JSON object it prints, for the benchmarks that
 * print crtd's figure beside the reference's. */
#ifndef CRTD_TOOLS_REFPROC_H
#define CRTD_TOOLS_REFPROC_H

#include <stddef.h>

#include <jansson.h>

/* argv[0] is the program; NULL-terminated. The child's stdout is read whole
 * (up to 1 MiB) and parsed; its stderr passes through. Returns a new
 * reference, or NULL with the reason in why. */
json_t *refproc_run_json(char *const *argv, char *why, size_t why_size);

#endif
