/* tfjs_shape_ops: the ops that compute with shapes — Shape, Size, Range and
 * Fill — their shape rules and kernels. MoveNet MultiPose takes any input
 * size and derives its upsampling sizes, its coordinate grids and its
 * reshapes from Shape; a plan is made per input size, so these are all known
 * then and fold to constants (Shape and Size by the descriptor's shape_only,
 * Range and Fill because their inputs are constants). Semantics as
 * tfjs-backend-cpu 4.22.0 computes them. */
#include <math.h>
#include <string.h>

#include "tfjs_internal.h"

/* A constant scalar of either numeric dtype, as a double. */
static int const_scalar(const struct tfjs_model *m, int v, const struct tfjs_node *n,
                        const char *what, double *ret, struct errbuf *err)
{
    const struct tfjs_value *val = &m->values[v];

    if (!val->const_data || val->dtype == TFJS_BOOL || tfjs_shape_size(&val->shape) != 1)
        return errbuf_set(err, -ENOTSUP,
                          "node '%s' (%s): %s must be a scalar known when the graph is planned",
                          n->name, n->op_name, what);
    *ret = val->dtype == TFJS_FLOAT32 ? *(const float *)val->const_data
                                      : *(const int32_t *)val->const_data;
    return 0;
}

int tfjs_infer_shape(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    struct tfjs_value *out = &m->values[n->first_output];

    (void)err;
    out->shape = (struct tfjs_shape){1, {m->values[n->inputs[0]].shape.rank}};
    out->dtype = TFJS_INT32;
    return 0;
}

void tfjs_exec_shape(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                     float *scratch, bool fuse)
{
    const struct tfjs_shape *in = &m->values[n->inputs[0]].shape;
    int32_t *o = ptr[n->first_output];

    (void)scratch, (void)fuse;
    for (int i = 0; i < in->rank; i++)
        o[i] = in->dims[i];
}

int tfjs_infer_size(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    struct tfjs_value *out = &m->values[n->first_output];

    if (tfjs_shape_size(&m->values[n->inputs[0]].shape) > INT32_MAX)
        return errbuf_set(err, -ERANGE, "node '%s' (%s): more than 2^31 elements", n->name,
                          n->op_name);
    out->shape = (struct tfjs_shape){0};
    out->dtype = TFJS_INT32;
    return 0;
}

void tfjs_exec_size(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                    float *scratch, bool fuse)
{
    (void)scratch, (void)fuse;
    *(int32_t *)ptr[n->first_output] = (int32_t)tfjs_shape_size(&m->values[n->inputs[0]].shape);
}

/* tfjs's rule for the length: empty when start == limit, when the range
 * rises with a negative delta, or falls with a delta above 1 (a delta of 1
 * on a falling range is taken as -1); else |ceil((limit - start) / delta)|. */
static long long range_length(double start, double limit, double *delta)
{
    if (start == limit || (start < limit && *delta < 0) || (limit<start && * delta> 1))
        return 0;
    long long len = (long long)fabs(ceil((limit - start) / *delta));
    if (limit < start && *delta == 1)
        *delta = -1;
    return len;
}

int tfjs_infer_range(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    struct tfjs_value *out = &m->values[n->first_output];
    double start, limit, delta;
    int r;

    if ((r = const_scalar(m, n->inputs[0], n, "start", &start, err)) < 0 ||
        (r = const_scalar(m, n->inputs[1], n, "limit", &limit, err)) < 0 ||
        (r = const_scalar(m, n->inputs[2], n, "delta", &delta, err)) < 0)
        return r;
    if (delta == 0 || !isfinite(start) || !isfinite(limit) || !isfinite(delta))
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): range %g..%g step %g", n->name,
                          n->op_name, start, limit, delta);
    long long len = range_length(start, limit, &delta);
    if (len > (1 << 24))
        return errbuf_set(err, -ERANGE, "node '%s' (%s): %lld elements", n->name, n->op_name, len);
    out->shape = (struct tfjs_shape){1, {(int)len}};
    out->dtype = n->dst;
    return 0;
}

/* Each element is the previous one plus delta, rounded to the dtype, as
 * tfjs's loop over a typed array computes it (not start + i * delta). */
void tfjs_exec_range(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                     float *scratch, bool fuse)
{
    const struct tfjs_value *vs = &m->values[n->inputs[0]], *vd = &m->values[n->inputs[2]];
    const struct tfjs_value *vl = &m->values[n->inputs[1]];
    double start = vs->dtype == TFJS_FLOAT32 ? *(const float *)ptr[n->inputs[0]]
                                             : *(const int32_t *)ptr[n->inputs[0]];
    double limit = vl->dtype == TFJS_FLOAT32 ? *(const float *)ptr[n->inputs[1]]
                                             : *(const int32_t *)ptr[n->inputs[1]];
    double delta = vd->dtype == TFJS_FLOAT32 ? *(const float *)ptr[n->inputs[2]]
                                             : *(const int32_t *)ptr[n->inputs[2]];
    long long len = range_length(start, limit, &delta);

    (void)scratch, (void)fuse;
    if (n->dst == TFJS_FLOAT32) {
        float *o = ptr[n->first_output];
        for (long long i = 0; i < len; i++)
            o[i] = i ? (float)((double)o[i - 1] + delta) : (float)start;
    } else {
        int32_t *o = ptr[n->first_output];
        for (long long i = 0; i < len; i++)
            o[i] = i ? (int32_t)((double)o[i - 1] + delta) : (int32_t)start;
    }
}

int tfjs_infer_fill(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    struct tfjs_value *out = &m->values[n->first_output];
    const struct tfjs_value *value = &m->values[n->inputs[1]];
    const int32_t *dims;
    int count = tfjs_const_ints(m, n->inputs[0], n, "dims", &dims, err);

    if (count < 0)
        return count;
    if (count > TFJS_MAX_DIMS || tfjs_shape_size(&value->shape) != 1)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): %d dims, a value of %zu elements",
                          n->name, n->op_name, count, tfjs_shape_size(&value->shape));
    out->shape.rank = count;
    for (int i = 0; i < count; i++) {
        if (dims[i] < 0 || dims[i] > (1 << 24))
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): dim %d is %d", n->name, n->op_name, i,
                              dims[i]);
        out->shape.dims[i] = dims[i];
    }
    out->dtype = value->dtype;
    return 0;
}

void tfjs_exec_fill(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                    float *scratch, bool fuse)
{
    size_t total = tfjs_shape_size(&m->values[n->first_output].shape);
    uint32_t bits, *o = ptr[n->first_output];

    (void)scratch, (void)fuse;
    memcpy(&bits, ptr[n->inputs[1]], 4);
    for (size_t i = 0; i < total; i++)
        o[i] = bits;
}
