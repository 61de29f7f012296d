/* tl_tensor: the numeric tests' reference tensors (written by the PyTorch
 * scripts of tests/ref at test time) loaded as floats, and the worst
 * difference between what crtd computed and what PyTorch did.
 *
 * Only the safetensors reader's types are named here, so that the header
 * needs no include from the model library. */
#ifndef CRTD_TESTS_TL_TENSOR_H
#define CRTD_TESTS_TL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

struct safetensors;

/* The tensor `name` of st as a new array of floats (free it), whatever its
 * dtype. Fails the running cmocka test, naming the tensor, when st has none
 * of that name or when it has not ndim dimensions (ndim < 0: any). Its shape
 * (valid while st is open) and element count go to ret_shape and ret_numel
 * when they are non-NULL. */
float *tl_tensor_load(const struct safetensors *st, const char *name, int ndim,
                      const int64_t **ret_shape, size_t *ret_numel);

/* How far n numbers got are from want. A NaN difference is not counted (it
 * compares as no larger), as the tests that use this compared before it
 * existed; counting it as the worst would make them stricter, a change of
 * its own. */
struct tl_tensor_diff {
    double max_abs_err;  /* max |got - want| */
    double max_abs_want; /* max |want|, the scale of a relative error */
    size_t index;        /* where max_abs_err is */
};

void tl_tensor_diff(struct tl_tensor_diff *ret, const float *got, const float *want, size_t n);

#endif
