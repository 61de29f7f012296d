/* pipeline_model: the shared, read-only model of the daemon. */
#include "pipeline.h"

#include <string.h>

#include "model.h"

struct pipeline_model {
    bool loaded;
    char path[1024];
};

int pipeline_model_load(const char *path, const char *pose_path,
                        struct pipeline_model **ret_model, struct errbuf *err)
{
    if (path && *path)
        return errbuf_set(err, -ENOSYS,
                          "model '%s': this build of crtd has no model runner yet "
                          "(only synthetic: test sources run)",
                          path);
    struct pipeline_model *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    *ret_model = m;
    return 0;
}

struct pipeline_model *pipeline_model_free(struct pipeline_model *m)
{
    free(m);
    return NULL;
}

bool pipeline_model_loaded(const struct pipeline_model *m)
{
    return m && m->loaded;
}

unsigned pipeline_model_n_classes(const struct pipeline_model *m)
{
    return SMARTHOME_NUM_CLASSES;
}

const char *pipeline_model_class(const struct pipeline_model *m, unsigned index)
{
    return index < SMARTHOME_NUM_CLASSES ? smarthome_classes[index] : NULL;
}

int pipeline_model_card(const struct pipeline_model *m, json_t **ret_card)
{
    if (!pipeline_model_loaded(m))
        return -ENOENT;
    return -ENOENT;
}
