/* registry: the memory mechanisms of mem/registry.def as a table, and the
 * names a user picks them by (`crt train --variant`). */
#include "crt_internal.h"

#include <string.h>

#define CRT_VARIANT(name, variant)                                                                 \
    {                                                                                              \
        name, variant                                                                              \
    }
#define CRT_MECHANISM(file, ops, arch, ...)                                                        \
    {.architecture = arch,                                                                         \
     .variants = (const struct crt_variant_name[]){__VA_ARGS__, {NULL, NULL}},                     \
     .forward = &crt_memory_##ops##_ops},
const struct crt_mechanism crt_mechanisms[] = {
#include "mem/registry.def"
};
#undef CRT_MECHANISM
#undef CRT_VARIANT

const int crt_n_mechanisms = (int)ARRAY_SIZE(crt_mechanisms);

const struct crt_mechanism *crt_mechanism_find(const char *architecture)
{
    for (int i = 0; i < crt_n_mechanisms; i++)
        if (strcmp(crt_mechanisms[i].architecture, architecture) == 0)
            return &crt_mechanisms[i];
    return NULL;
}

/* The index-th user-facing name over all mechanisms, in registry order. */
static const struct crt_variant_name *variant_at(int index, const struct crt_mechanism **ret_mech)
{
    for (int i = 0; index >= 0 && i < crt_n_mechanisms; i++)
        for (const struct crt_variant_name *v = crt_mechanisms[i].variants; v->name; v++)
            if (index-- == 0) {
                if (ret_mech)
                    *ret_mech = &crt_mechanisms[i];
                return v;
            }
    return NULL;
}

int crt_variant_parse(const char *name, struct crt_config *cfg)
{
    const struct crt_mechanism *mech;
    const struct crt_variant_name *v;
    for (int i = 0; (v = variant_at(i, &mech)); i++)
        if (strcmp(v->name, name) == 0) {
            snprintf(cfg->architecture, sizeof(cfg->architecture), "%s", mech->architecture);
            snprintf(cfg->variant, sizeof(cfg->variant), "%s", v->variant);
            return 0;
        }
    return -EINVAL;
}

const char *crt_variant_name(int index)
{
    const struct crt_variant_name *v = variant_at(index, NULL);
    return v ? v->name : NULL;
}

const char *crt_variant_names(void)
{
    static char list[256];
    const struct crt_variant_name *v;
    if (!list[0])
        for (int i = 0; (v = variant_at(i, NULL)); i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                     v->name);
    return list;
}
