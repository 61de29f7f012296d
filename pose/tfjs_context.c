/* tfjs_context: running a planned graph — a context owns the one arena its
 * plan sized (or, with keep_all, a buffer per value), points every value into
 * it and runs the steps in order, skipping folded nodes and depthwise
 * convolutions that their 1x1 convolution computes. */
#include <string.h>

#include "tfjs_internal.h"

int tfjs_context_new(const struct tfjs_model *m, bool keep_all, struct tfjs_context **ret_context,
                     struct errbuf *err)
{
    struct tfjs_context *c = calloc(1, sizeof(*c));
    size_t bytes = keep_all ? m->arena_all : m->arena_reuse;
    size_t scratch = tfjs_align_up(m->scratch_floats * sizeof(float));

    if (!c)
        return errbuf_set(err, -ENOMEM, "context: out of memory");
    c->model = m;
    c->keep_all = keep_all;
    c->ptr = calloc((size_t)m->n_values, sizeof(*c->ptr));
    if (!c->ptr || posix_memalign(&c->arena, TFJS_ALIGN, bytes ? bytes : TFJS_ALIGN)) {
        tfjs_context_free(c);
        return errbuf_set(err, -ENOMEM, "context: out of memory for a %zu-byte arena", bytes);
    }
    memset(c->arena, 0, bytes);
    c->scratch = (float *)((char *)c->arena + bytes - scratch);
    for (int v = 0; v < m->n_values; v++) {
        const struct tfjs_value *val = &m->values[v];
        if (val->const_data)
            c->ptr[v] = val->const_data;
        else if (m->nodes[val->node].step >= 0) {
            const struct tfjs_value *root = &m->values[val->root];
            c->ptr[v] = (char *)c->arena + (keep_all ? root->off_all : root->off_reuse);
        }
    }
    *ret_context = c;
    return 0;
}

struct tfjs_context *tfjs_context_free(struct tfjs_context *c)
{
    if (!c)
        return NULL;
    free(c->arena);
    free(c->ptr);
    free(c);
    return NULL;
}

void *tfjs_context_input(struct tfjs_context *c)
{
    return c->ptr[c->model->input];
}

void tfjs_context_run(struct tfjs_context *c)
{
    const struct tfjs_model *m = c->model;

    for (int s = 0; s < m->n_steps; s++) {
        const struct tfjs_node *n = &m->nodes[m->order[s]];
        if (n->folded || (!c->keep_all && n->fused_into >= 0))
            continue;
        tfjs_ops[n->op].exec(m, n, c->ptr, c->scratch, !c->keep_all);
    }
}

const void *tfjs_context_value(const struct tfjs_context *c, int value)
{
    const struct tfjs_model *m = c->model;

    if (value < 0 || value >= m->n_values)
        return NULL;
    if (m->values[value].const_data || c->keep_all)
        return c->ptr[value];
    int root = m->values[value].root;
    if (root == m->values[m->input].root || root == m->values[m->output].root)
        return c->ptr[value];
    return NULL;
}
