/* registry: the training side of crt/mem/registry.def, line for line. */
#include "train_internal.h"

#define CRT_MECHANISM(file, ops, arch, ...) {arch, &crt_train_##ops##_ops},
const struct crt_train_mechanism crt_train_mechanisms[] = {
#include "mem/registry.def"
};
#undef CRT_MECHANISM
