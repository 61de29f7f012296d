/* tl_tensor: reference tensors and their differences (tl_tensor.h). */
#include "tl_tensor.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>

#include <cmocka.h>

#include "safetensors.h"

float *tl_tensor_load(const struct safetensors *st, const char *name, int ndim,
                      const int64_t **ret_shape, size_t *ret_numel)
{
    const struct safetensors_tensor *t = safetensors_find(st, name);
    if (!t)
        fail_msg("reference tensor '%s' is missing", name);
    if (ndim >= 0 && t->ndim != ndim)
        fail_msg("reference tensor '%s' has %d dimensions, expected %d", name, t->ndim, ndim);
    /* +1: a tensor of no elements still gets an array to free. */
    float *x = malloc(t->numel * sizeof(float) + 1);
    if (!x)
        fail_msg("reference tensor '%s': out of memory for %zu floats", name, t->numel);
    safetensors_tensor_to_f32(t, x);
    if (ret_shape)
        *ret_shape = t->shape;
    if (ret_numel)
        *ret_numel = t->numel;
    return x;
}

void tl_tensor_diff(struct tl_tensor_diff *ret, const float *got, const float *want, size_t n)
{
    struct tl_tensor_diff d = {0};
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (e > d.max_abs_err) {
            d.max_abs_err = e;
            d.index = i;
        }
        d.max_abs_want = fmax(d.max_abs_want, fabs((double)want[i]));
    }
    *ret = d;
}
