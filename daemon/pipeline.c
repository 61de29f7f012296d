/* pipeline: dispatch to the real pipeline or the scripted test source. */
#include "pipeline.h"

#include <string.h>

#include "video.h"

struct pipeline {
    const struct pipeline_ops *ops;
    void *impl;
};

static const char *const gate_names[] = {
    [PIPELINE_GATE_OFF] = "off",
    [PIPELINE_GATE_MOVED] = "moved",
    [PIPELINE_GATE_STILL] = "still",
    [PIPELINE_GATE_EMPTY] = "empty",
};
_Static_assert(ARRAY_SIZE(gate_names) == PIPELINE_GATE_COUNT, "one name per gate state");

const char *pipeline_gate_name(enum pipeline_gate gate)
{
    return (unsigned)gate < PIPELINE_GATE_COUNT ? gate_names[gate] : "off";
}

bool pipeline_url_is_synthetic(const char *url)
{
    return strncmp(url, "synthetic:", 10) == 0;
}

int pipeline_open(const struct pipeline_model *model, const char *url,
                  const struct pipeline_source *source, const atomic_bool *stop,
                  struct pipeline **ret_pipeline, struct errbuf *err)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    int r;
    if (!p)
        return -ENOMEM;
    if (pipeline_url_is_synthetic(url))
        r = pipeline_synthetic_open(model, url, source, stop, &p->ops, &p->impl, err);
    else
        r = pipeline_real_open(model, url, source, stop, &p->ops, &p->impl, err);
    if (r < 0) {
        free(p);
        return r;
    }
    *ret_pipeline = p;
    return 0;
}

struct pipeline *pipeline_free(struct pipeline *p)
{
    if (!p)
        return NULL;
    p->ops->free(p->impl);
    free(p);
    return NULL;
}

int pipeline_step(struct pipeline *p, struct pipeline_result *ret_result, struct errbuf *err)
{
    return p->ops->step(p->impl, ret_result, err);
}

void pipeline_status(struct pipeline *p, struct pipeline_status *ret_status)
{
    *ret_status = (struct pipeline_status){0};
    if (p->ops->status)
        p->ops->status(p->impl, ret_status);
}

void pipeline_interrupt(struct pipeline *p)
{
    if (p->ops->interrupt)
        p->ops->interrupt(p->impl);
}

const char *pipeline_memory_kind(const struct pipeline *p)
{
    return p->ops->memory_kind(p->impl);
}

int pipeline_memory_save(struct pipeline *p, void **ret_data, size_t *ret_size)
{
    return p->ops->memory_save(p->impl, ret_data, ret_size);
}

int pipeline_memory_restore(struct pipeline *p, const void *data, size_t size, struct errbuf *err)
{
    return p->ops->memory_restore(p->impl, data, size, err);
}

int pipeline_url_check(const struct pipeline_model *model, const char *url, struct errbuf *err)
{
    if (pipeline_url_is_synthetic(url)) {
        const struct pipeline_ops *ops;
        void *impl;
        static atomic_bool never_stop;
        /* Parsing is all an open of the test source does before its first step. */
        int r = pipeline_synthetic_open(model, url, NULL, &never_stop, &ops, &impl, err);
        if (r == -ENOENT)
            return 0; /* its alive= file may come later */
        if (r < 0)
            return -EINVAL;
        ops->free(impl);
        return 0;
    }
    enum video_source_kind kind;
    int r = video_source_kind_of(url, &kind, err);
    return r < 0 ? -EINVAL : 0;
}

bool pipeline_url_is_local(const char *url)
{
    if (pipeline_url_is_synthetic(url))
        return strstr(url, "alive=") != NULL;
    enum video_source_kind kind;
    if (video_source_kind_of(url, &kind, NULL) < 0)
        return false; /* not a source at all: pipeline_url_check says why */
    return kind == VIDEO_SOURCE_FILE || kind == VIDEO_SOURCE_DEVICE || kind == VIDEO_SOURCE_LAVFI;
}
