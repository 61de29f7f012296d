/* blas: the one place crtd talks to OpenBLAS about itself. Whoever runs
 * crtd's numeric libraries from threads of its own (a thread per camera, per
 * clip, per training worker) sets 1, or OpenBLAS's own pool oversubscribes
 * the cores. */
#include <cblas.h>

#include "base.h"

void blas_set_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

const char *blas_core_name(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}
