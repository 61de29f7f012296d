/* crt_variants: the names a user picks a memory mechanism by (`crt train
 * --variant`), each an architecture and its variant (docs/MODEL.md). A new
 * mechanism adds its rows here. */
#include "model.h"

#include <string.h>

static const struct {
    const char *name, *architecture, *variant;
} variants[] = {
    /* clang-format off */
    {"gru", "crt", "gru"},
    {"ncgru", "crt", "ncgru"},
    {"none", "none", "mean"},
    {"none-last", "none", "last"},
    {"rmt", "rmt", "m8"},
    {"xl", "xl", "m1"},
    {"full", "full", "w8"},
    {"brt", "brt", "fixed"},
    {"brt-lstm", "brt", "lstm"},
    {"srformer", "srf", "raf"},
    /* clang-format on */
};

int crt_variant_parse(const char *name, struct crt_config *cfg)
{
    for (size_t i = 0; i < ARRAY_SIZE(variants); i++)
        if (strcmp(variants[i].name, name) == 0) {
            snprintf(cfg->architecture, sizeof(cfg->architecture), "%s", variants[i].architecture);
            snprintf(cfg->variant, sizeof(cfg->variant), "%s", variants[i].variant);
            return 0;
        }
    return -EINVAL;
}

const char *crt_variant_name(int index)
{
    return index >= 0 && (size_t)index < ARRAY_SIZE(variants) ? variants[index].name : NULL;
}

const char *crt_variant_names(void)
{
    static char list[256];
    if (!list[0])
        for (size_t i = 0; i < ARRAY_SIZE(variants); i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                     variants[i].name);
    return list;
}
