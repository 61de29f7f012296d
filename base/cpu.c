/* cpu: the instruction sets crtd's hand-vectorised kernels pick between at
 * run time. One place asks the CPU, so that the pose GEMM, the segment
 * model's kernels and the tools' reports agree on what "has AVX-512" means. */
#include "base.h"

bool cpu_has_avx512(void)
{
#if defined(__x86_64__)
    /* __builtin_cpu_supports reads what __builtin_cpu_init filled in; init is
     * idempotent and cheap, and it has not run yet when a constructor asks */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

bool cpu_has_avx2_fma(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}
