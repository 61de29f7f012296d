/* tfjs_plan: what loading does once the graph is read — the run order, the
 * shape of every value (the infer column of tfjs_ops), folding of constant
 * nodes, the fusions, packing of the filters for the AVX-512 GEMM and the
 * plan of the one arena a context allocates (tfjs_context.c runs it); and
 * plans of other input sizes for a graph that takes any (MultiPose). */
#include <string.h>

#include "tfjs_internal.h"

size_t tfjs_shape_size(const struct tfjs_shape *shape)
{
    size_t n = 1;

    for (int i = 0; i < shape->rank; i++)
        n *= (size_t)shape->dims[i];
    return n;
}

void tfjs_shape_format(char *buf, size_t size, const struct tfjs_shape *s)
{
    size_t used = 0;

    used += snprintf(buf + used, size - used, "[");
    for (int i = 0; i < s->rank && used < size; i++)
        used += snprintf(buf + used, size - used, "%s%d", i ? "," : "", s->dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

void tfjs_shape_strides(const struct tfjs_shape *s, size_t *strides)
{
    size_t n = 1;

    for (int i = s->rank - 1; i >= 0; i--) {
        strides[i] = n;
        n *= (size_t)s->dims[i];
    }
}

int tfjs_const_ints(const struct tfjs_model *m, int v, const struct tfjs_node *n, const char *what,
                    const int32_t **ret, struct errbuf *err)
{
    const struct tfjs_value *val = &m->values[v];

    if (!val->const_data || val->dtype != TFJS_INT32 || val->shape.rank > 1)
        return errbuf_set(err, -ENOTSUP,
                          "node '%s' (%s): %s must be an int32 scalar or vector known when the "
                          "graph is planned",
                          n->name, n->op_name, what);
    *ret = val->const_data;
    return (int)tfjs_shape_size(&val->shape);
}

/* ---- shapes ------------------------------------------------------------------ */

static int const_scalar_int(const struct tfjs_model *m, int v, const struct tfjs_node *n,
                            const char *what, long long *ret, struct errbuf *err)
{
    const struct tfjs_value *val = &m->values[v];

    if (!val->const_data || val->dtype != TFJS_INT32 || tfjs_shape_size(&val->shape) != 1)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): %s must be a constant int32 scalar",
                          n->name, n->op_name, what);
    *ret = *(const int32_t *)val->const_data;
    return 0;
}

/* numpy-style broadcasting of two shapes */
static int broadcast_shape(const struct tfjs_shape *a, const struct tfjs_shape *b,
                           struct tfjs_shape *ret)
{
    struct tfjs_shape s = {0};

    s.rank = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < s.rank; i++) {
        int da = i - (s.rank - a->rank) >= 0 ? a->dims[i - (s.rank - a->rank)] : 1;
        int db = i - (s.rank - b->rank) >= 0 ? b->dims[i - (s.rank - b->rank)] : 1;
        if (da != db && da != 1 && db != 1)
            return -EINVAL;
        s.dims[i] = da == 1 ? db : da;
    }
    *ret = s;
    return 0;
}

/* What every shape rule starts from: its node's first output and first input
 * (the descriptor's min_inputs says whether there is one), and room for two
 * shapes in a message. */
#define INFER_PROLOGUE                                                                             \
    struct tfjs_value *out = &m->values[n->first_output];                                          \
    struct tfjs_value *in0 = n->n_inputs > 0 ? &m->values[n->inputs[0]] : NULL;                    \
    char sa[64], sb[64];                                                                           \
    (void)out, (void)in0, (void)sa, (void)sb, (void)err

/* Const and Placeholder: set at load (tfjs_load.c). */
int tfjs_infer_source(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    (void)m, (void)n, (void)err;
    return 0;
}

int tfjs_infer_identity(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    out->shape = in0->shape;
    out->dtype = in0->dtype;
    return 0;
}

/* Sqrt, Sigmoid, Relu, Relu6: float32 in, the same shape out. */
int tfjs_infer_float(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    out->shape = in0->shape;
    out->dtype = in0->dtype;
    if (in0->dtype != TFJS_FLOAT32)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): int32 input is not supported", n->name,
                          n->op_name);
    return 0;
}

int tfjs_infer_cast(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    out->shape = in0->shape;
    out->dtype = n->dst;
    return 0;
}

/* Element-wise ops of two inputs of one dtype, broadcast as numpy does. */
int tfjs_infer_binary(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    struct tfjs_value *in1 = &m->values[n->inputs[1]];
    if (in0->dtype != in1->dtype)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): inputs are %s and %s", n->name,
                          n->op_name, tfjs_dtype_name(in0->dtype), tfjs_dtype_name(in1->dtype));
    if (broadcast_shape(&in0->shape, &in1->shape, &out->shape) < 0) {
        tfjs_shape_format(sa, sizeof(sa), &in0->shape);
        tfjs_shape_format(sb, sizeof(sb), &in1->shape);
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): shapes %s and %s do not broadcast",
                          n->name, n->op_name, sa, sb);
    }
    out->dtype = in0->dtype;
    return 0;
}

/* SquaredDifference: as the others, float32 only. */
int tfjs_infer_binary_float(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    int r = tfjs_infer_binary(m, n, err);
    if (r < 0)
        return r;
    if (in0->dtype != TFJS_FLOAT32)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): int32 is not supported", n->name,
                          n->op_name);
    return 0;
}

/* Conv2D and DepthwiseConv2dNative: the geometry, the output and the FLOPs. */
int tfjs_infer_conv(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    struct tfjs_value *f = &m->values[n->inputs[1]];
    bool dw = n->op == TFJS_OP_DEPTHWISE;
    if (in0->shape.rank != 4 || in0->shape.dims[0] != 1 || in0->dtype != TFJS_FLOAT32) {
        tfjs_shape_format(sa, sizeof(sa), &in0->shape);
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): input %s is not float32 [1,H,W,C]",
                          n->name, n->op_name, sa);
    }
    if (!f->const_data || f->shape.rank != 4 || f->dtype != TFJS_FLOAT32 ||
        f->shape.dims[2] != in0->shape.dims[3] || (dw && f->shape.dims[3] != 1) ||
        f->shape.dims[0] < 1 || f->shape.dims[1] < 1) {
        tfjs_shape_format(sa, sizeof(sa), &f->shape);
        tfjs_shape_format(sb, sizeof(sb), &in0->shape);
        return errbuf_set(err, -EBADMSG,
                          "node '%s' (%s): filter %s does not fit input %s (%s expected)", n->name,
                          n->op_name, sa, sb, dw ? "constant [KH,KW,C,1]" : "constant [KH,KW,C,O]");
    }
    n->oc = dw ? in0->shape.dims[3] : f->shape.dims[3];
    if (n->has_bias) {
        struct tfjs_value *b = &m->values[n->inputs[2]];
        if (!b->const_data || b->dtype != TFJS_FLOAT32 ||
            tfjs_shape_size(&b->shape) != (size_t)n->oc) {
            tfjs_shape_format(sa, sizeof(sa), &b->shape);
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): bias %s, expected [%d]", n->name,
                              n->op_name, sa, n->oc);
        }
    }
    struct conv_geom *g = &n->geom;
    g->h = in0->shape.dims[1];
    g->w = in0->shape.dims[2];
    g->c = in0->shape.dims[3];
    g->kh = f->shape.dims[0];
    g->kw = f->shape.dims[1];
    g->stride_h = n->stride_h;
    g->stride_w = n->stride_w;
    if (!n->same && (g->h < g->kh || g->w < g->kw))
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): window larger than the input", n->name,
                          n->op_name);
    conv_geom_pad(g, n->same);
    out->shape = (struct tfjs_shape){4, {1, g->oh, g->ow, n->oc}};
    out->dtype = TFJS_FLOAT32;
    double taps = (double)g->oh * g->ow * g->kh * g->kw;
    if (dw)
        m->flops_depthwise += 2.0 * taps * g->c;
    else
        m->flops_dense += 2.0 * taps * g->c * n->oc;
    return 0;
}

int tfjs_infer_resize(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    struct tfjs_value *size = &m->values[n->inputs[1]];
    if (in0->shape.rank != 4 || in0->shape.dims[0] != 1 || in0->dtype != TFJS_FLOAT32 ||
        !size->const_data || size->dtype != TFJS_INT32 || tfjs_shape_size(&size->shape) != 2)
        return errbuf_set(err, -ENOTSUP,
                          "node '%s' (%s): needs a float32 [1,H,W,C] image and a constant "
                          "int32 size [2]",
                          n->name, n->op_name);
    const int32_t *sz = size->const_data;
    if (sz[0] < 1 || sz[1] < 1 || sz[0] > 16384 || sz[1] > 16384)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): size %dx%d", n->name, n->op_name, sz[0],
                          sz[1]);
    out->shape = (struct tfjs_shape){4, {1, sz[0], sz[1], in0->shape.dims[3]}};
    out->dtype = TFJS_FLOAT32;
    return 0;
}

int tfjs_infer_reshape(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    struct tfjs_value *sv = &m->values[n->inputs[1]];
    size_t total = tfjs_shape_size(&in0->shape), known = 1;
    int infer = -1;
    if (!sv->const_data || sv->dtype != TFJS_INT32 || sv->shape.rank > 1 ||
        tfjs_shape_size(&sv->shape) > TFJS_MAX_DIMS)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): shape must be a constant int32 vector",
                          n->name, n->op_name);
    const int32_t *d = sv->const_data;
    struct tfjs_shape s = {.rank = (int)tfjs_shape_size(&sv->shape)};
    for (int i = 0; i < s.rank; i++) {
        if (d[i] == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (d[i] < 0)
            goto reshape_bad;
        s.dims[i] = d[i];
        known *= (size_t)d[i];
    }
    if (infer >= 0) {
        if (known == 0 || total % known)
            goto reshape_bad;
        s.dims[infer] = (int)(total / known);
        known *= (size_t)s.dims[infer];
    }
    if (known != total)
        goto reshape_bad;
    out->shape = s;
    out->dtype = in0->dtype;
    return 0;
reshape_bad:
    tfjs_shape_format(sa, sizeof(sa), &in0->shape);
    return errbuf_set(err, -EBADMSG, "node '%s' (%s): cannot reshape %s as requested", n->name,
                      n->op_name, sa);
}

int tfjs_infer_expand_dims(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    long long dim;
    int r = const_scalar_int(m, n->inputs[1], n, "dim", &dim, err);
    if (r < 0)
        return r;
    if (dim < 0)
        dim += in0->shape.rank + 1;
    if (dim < 0 || dim > in0->shape.rank || in0->shape.rank >= TFJS_MAX_DIMS)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): dim out of range", n->name, n->op_name);
    struct tfjs_shape s = {.rank = in0->shape.rank + 1};
    for (int i = 0, j = 0; i < s.rank; i++)
        s.dims[i] = i == dim ? 1 : in0->shape.dims[j++];
    out->shape = s;
    out->dtype = in0->dtype;
    return 0;
}

int tfjs_infer_squeeze(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    struct tfjs_shape s = {0};
    for (int i = 0; i < in0->shape.rank; i++) {
        bool listed = n->squeeze_mask & (1u << i) ||
                      n->squeeze_mask & (1u << (i - in0->shape.rank + 2 * TFJS_MAX_DIMS));
        if (n->squeeze_mask ? listed : in0->shape.dims[i] == 1) {
            if (in0->shape.dims[i] != 1)
                return errbuf_set(err, -EBADMSG, "node '%s' (%s): dimension %d is not 1", n->name,
                                  n->op_name, i);
            continue;
        }
        s.dims[s.rank++] = in0->shape.dims[i];
    }
    out->shape = s;
    out->dtype = in0->dtype;
    return 0;
}

int tfjs_infer_unpack(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    int axis = n->axis < 0 ? n->axis + in0->shape.rank : n->axis;
    if (axis < 0 || axis >= in0->shape.rank || in0->shape.dims[axis] != n->num)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): num %d does not match the input", n->name,
                          n->op_name, n->num);
    n->axis = axis;
    for (int k = 0; k < n->num; k++) {
        struct tfjs_value *o = &m->values[n->first_output + k];
        o->shape.rank = 0;
        for (int i = 0; i < in0->shape.rank; i++)
            if (i != axis)
                o->shape.dims[o->shape.rank++] = in0->shape.dims[i];
        o->dtype = in0->dtype;
    }
    return 0;
}

/* Pack and ConcatV2. */
int tfjs_infer_stack(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    bool pack = n->op == TFJS_OP_PACK;
    int parts = pack ? n->n_inputs : n->n_inputs - 1;
    long long axis;
    if (pack) {
        axis = n->axis;
        if (axis < 0)
            axis += in0->shape.rank + 1;
        if (axis < 0 || axis > in0->shape.rank || in0->shape.rank >= TFJS_MAX_DIMS)
            goto pack_bad;
    } else {
        int r = const_scalar_int(m, n->inputs[n->n_inputs - 1], n, "axis", &axis, err);
        if (r < 0)
            return r;
        if (axis < 0)
            axis += in0->shape.rank;
        if (axis < 0 || axis >= in0->shape.rank)
            goto pack_bad;
    }
    n->axis = (int)axis;
    struct tfjs_shape s = in0->shape;
    int along = 0;
    for (int k = 0; k < parts; k++) {
        struct tfjs_value *v = &m->values[n->inputs[k]];
        if (v->dtype != in0->dtype || v->shape.rank != in0->shape.rank)
            goto pack_bad;
        for (int i = 0; i < s.rank; i++)
            if (v->shape.dims[i] != in0->shape.dims[i] && (pack || i != axis))
                goto pack_bad;
        along += pack ? 1 : v->shape.dims[axis];
    }
    if (pack) {
        s.rank++;
        for (int i = s.rank - 1; i > axis; i--)
            s.dims[i] = s.dims[i - 1];
    }
    s.dims[axis] = along;
    out->shape = s;
    out->dtype = in0->dtype;
    return 0;
pack_bad:
    return errbuf_set(err, -EBADMSG, "node '%s' (%s): inputs do not stack along axis %d", n->name,
                      n->op_name, n->axis);
}

int tfjs_infer_argmax(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    long long axis;
    int r = const_scalar_int(m, n->inputs[1], n, "dimension", &axis, err);
    if (r < 0)
        return r;
    if (axis < 0)
        axis += in0->shape.rank;
    if (axis < 0 || axis >= in0->shape.rank || in0->dtype != TFJS_FLOAT32)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): bad dimension or dtype", n->name,
                          n->op_name);
    n->axis = (int)axis;
    out->shape.rank = 0;
    for (int i = 0; i < in0->shape.rank; i++)
        if (i != axis)
            out->shape.dims[out->shape.rank++] = in0->shape.dims[i];
    out->dtype = TFJS_INT32;
    return 0;
}

int tfjs_infer_gather_nd(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    struct tfjs_value *idx = &m->values[n->inputs[1]];
    int d = idx->shape.rank ? idx->shape.dims[idx->shape.rank - 1] : 0;
    if (idx->dtype != TFJS_INT32 || idx->shape.rank < 1 || d < 1 || d > in0->shape.rank ||
        idx->shape.rank - 1 + in0->shape.rank - d > TFJS_MAX_DIMS) {
        tfjs_shape_format(sa, sizeof(sa), &in0->shape);
        tfjs_shape_format(sb, sizeof(sb), &idx->shape);
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): indices %s do not fit params %s", n->name,
                          n->op_name, sb, sa);
    }
    out->shape.rank = 0;
    for (int i = 0; i < idx->shape.rank - 1; i++)
        out->shape.dims[out->shape.rank++] = idx->shape.dims[i];
    for (int i = d; i < in0->shape.rank; i++)
        out->shape.dims[out->shape.rank++] = in0->shape.dims[i];
    out->dtype = in0->dtype;
    return 0;
}

/* Equal, Greater, GreaterEqual, Less: two inputs of one numeric dtype,
 * broadcast; bool out. */
int tfjs_infer_compare(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    int r = tfjs_infer_binary(m, n, err);
    if (r < 0)
        return r;
    out->dtype = TFJS_BOOL;
    return 0;
}

/* LogicalAnd: two bool inputs, broadcast. */
int tfjs_infer_logical(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    int r = tfjs_infer_binary(m, n, err);
    if (r < 0)
        return r;
    if (in0->dtype != TFJS_BOOL)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): inputs are %s, not bool", n->name,
                          n->op_name, tfjs_dtype_name(in0->dtype));
    return 0;
}

/* AddN: any number of inputs of one shape and dtype. */
int tfjs_infer_addn(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    for (int i = 1; i < n->n_inputs; i++) {
        const struct tfjs_value *v = &m->values[n->inputs[i]];
        if (v->dtype != in0->dtype || !tfjs_shape_equal(&v->shape, &in0->shape)) {
            tfjs_shape_format(sa, sizeof(sa), &in0->shape);
            tfjs_shape_format(sb, sizeof(sb), &v->shape);
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): input %d is %s %s, input 0 %s %s",
                              n->name, n->op_name, i, tfjs_dtype_name(v->dtype), sb,
                              tfjs_dtype_name(in0->dtype), sa);
        }
    }
    if (in0->dtype == TFJS_BOOL)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): bool inputs", n->name, n->op_name);
    out->shape = in0->shape;
    out->dtype = in0->dtype;
    return 0;
}

/* Select (tf.where in TensorFlow.js): a bool condition, then the values for
 * true and for false, all three broadcast to one shape. */
int tfjs_infer_select(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    const struct tfjs_value *t = &m->values[n->inputs[1]], *e = &m->values[n->inputs[2]];
    struct tfjs_shape s;
    if (in0->dtype != TFJS_BOOL || t->dtype != e->dtype)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): condition %s, values %s and %s", n->name,
                          n->op_name, tfjs_dtype_name(in0->dtype), tfjs_dtype_name(t->dtype),
                          tfjs_dtype_name(e->dtype));
    if (broadcast_shape(&in0->shape, &t->shape, &s) < 0 ||
        broadcast_shape(&s, &e->shape, &out->shape) < 0) {
        tfjs_shape_format(sa, sizeof(sa), &t->shape);
        tfjs_shape_format(sb, sizeof(sb), &e->shape);
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): values %s and %s do not broadcast",
                          n->name, n->op_name, sa, sb);
    }
    out->dtype = t->dtype;
    return 0;
}

/* Abs: float32 or int32, the same shape out. */
int tfjs_infer_numeric(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    INFER_PROLOGUE;
    out->shape = in0->shape;
    out->dtype = in0->dtype;
    if (in0->dtype == TFJS_BOOL)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): bool input", n->name, n->op_name);
    return 0;
}

/* The input counts of tfjs_ops, checked before a node's shape rule runs. */
static int node_check_inputs(const struct tfjs_node *n, struct errbuf *err)
{
    const struct tfjs_op_desc *d = &tfjs_ops[n->op];

    if (n->n_inputs >= d->min_inputs && (d->max_inputs < 0 || n->n_inputs <= d->max_inputs))
        return 0;
    if (d->min_inputs == d->max_inputs)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): expected %d inputs, found %d", n->name,
                          n->op_name, d->min_inputs, n->n_inputs);
    if (d->max_inputs < 0)
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): expected at least %d inputs, found %d",
                          n->name, n->op_name, d->min_inputs, n->n_inputs);
    return errbuf_set(err, -EBADMSG, "node '%s' (%s): expected %d to %d inputs, found %d", n->name,
                      n->op_name, d->min_inputs, d->max_inputs, n->n_inputs);
}

/* ---- planning ---------------------------------------------------------------- */

/* Depth-first post-order from the output; -ELOOP on a cycle. */
static int plan_visit(struct tfjs_model *m, int node, char *mark, struct errbuf *err)
{
    struct tfjs_node *n = &m->nodes[node];

    if (mark[node] == 2)
        return 0;
    if (mark[node] == 1)
        return errbuf_set(err, -EBADMSG, "node '%s': the graph has a cycle", n->name);
    mark[node] = 1;
    for (int i = 0; i < n->n_inputs; i++) {
        int r = plan_visit(m, m->values[n->inputs[i]].node, mark, err);
        if (r < 0)
            return r;
    }
    mark[node] = 2;
    m->order[m->n_steps++] = node;
    return 0;
}

/* Whether n's outputs can share its first input's buffer; an Unpack of one
 * part is its input reshaped. */
static bool value_is_alias_op(const struct tfjs_node *n)
{
    return tfjs_ops[n->op].alias || (n->op == TFJS_OP_UNPACK && n->num == 1);
}

/* Folds a node whose inputs are all constant: runs it now, keeps the result. */
static int plan_fold(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    void **ptr = calloc((size_t)m->n_values, sizeof(*ptr));
    void **grown = realloc(m->folded, (size_t)(m->n_folded + n->n_outputs) * sizeof(*grown));

    if (!ptr || !grown) {
        free(ptr);
        if (grown)
            m->folded = grown;
        return errbuf_set(err, -ENOMEM, "node '%s': out of memory", n->name);
    }
    m->folded = grown;
    for (int i = 0; i < n->n_inputs; i++)
        ptr[n->inputs[i]] = m->values[n->inputs[i]].const_data;
    for (int k = 0; k < n->n_outputs; k++) {
        struct tfjs_value *v = &m->values[n->first_output + k];
        void *data = calloc(1, v->bytes ? v->bytes : 4);
        if (!data) {
            free(ptr);
            return errbuf_set(err, -ENOMEM, "node '%s': out of memory", n->name);
        }
        m->folded[m->n_folded++] = data;
        v->const_data = data;
        ptr[n->first_output + k] = data;
    }
    tfjs_ops[n->op].exec(m, n, ptr, NULL, false);
    free(ptr);
    n->folded = true;
    return 0;
}

/* AddV2(conv(x), r) -> conv(x) with r added before the activation, when the
 * convolution's output feeds only that add and r is ready before the
 * convolution runs. The add becomes an alias of the convolution's output. */
static void plan_fuse_residuals(struct tfjs_model *m)
{
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        if (n->op != TFJS_OP_ADD || n->folded || m->values[n->first_output].dtype != TFJS_FLOAT32)
            continue;
        const struct tfjs_value *out = &m->values[n->first_output];
        for (int side = 0; side < 2; side++) {
            int x = n->inputs[side], r = n->inputs[1 - side];
            const struct tfjs_value *vx = &m->values[x], *vr = &m->values[r];
            struct tfjs_node *p = &m->nodes[vx->node];
            if (!tfjs_shape_equal(&vx->shape, &out->shape) ||
                !tfjs_shape_equal(&vr->shape, &out->shape))
                continue;
            if (p->op != TFJS_OP_CONV2D || p->folded || p->act != CONV_ACT_NONE ||
                p->residual >= 0 || vx->consumers != 1 || x == m->output || vr->const_data)
                continue;
            if (m->nodes[vr->node].step >= p->step)
                continue;
            p->residual = r;
            p->inputs[p->n_inputs++] = r;
            n->op = TFJS_OP_IDENTITY;
            n->inputs[0] = x;
            n->n_inputs = 1;
            m->fused_adds++;
            break;
        }
    }
}

/* A depthwise convolution whose output only feeds a 1x1 stride-1
 * convolution runs inside it, block of rows by block of rows (contexts that
 * keep every tensor run the two apart, so that both outputs can be read). */
static void plan_fuse_depthwise(struct tfjs_model *m)
{
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *p = &m->nodes[m->order[s]];
        if (p->op != TFJS_OP_CONV2D || p->folded)
            continue;
        const struct conv_geom *g = &p->geom;
        if (g->kh != 1 || g->kw != 1 || g->stride_h != 1 || g->stride_w != 1 || g->pad_top ||
            g->pad_left || g->oh != g->h || g->ow != g->w)
            continue;
        int x = p->inputs[0];
        struct tfjs_node *d = &m->nodes[m->values[x].node];
        if (d->op != TFJS_OP_DEPTHWISE || d->folded || m->values[x].consumers != 1 ||
            x == m->output || x == m->input)
            continue;
        p->fused_dw = m->values[x].node;
        d->fused_into = m->order[s];
        size_t need = conv_dw_pointwise_scratch_floats(&d->geom, p->oc);
        if (need > m->scratch_floats)
            m->scratch_floats = need;
        m->fused_depthwise++;
    }
}

/* Packs every convolution's filter for crtd's GEMM when the model's kernel
 * set has one (AVX-512, AVX2 + FMA; conv_isa_has_gemm). */
static int plan_pack_filters(struct tfjs_model *m, struct errbuf *err)
{
    if (!conv_isa_has_gemm(m->isa))
        return 0;
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        if (n->op != TFJS_OP_CONV2D || n->folded)
            continue;
        /* a filter does not depend on the input's size: plans of other sizes
         * use the graph's packing */
        if (m->parent) {
            n->packed = m->parent->nodes[m->order[s]].packed;
            continue;
        }
        int k = n->geom.kh * n->geom.kw * n->geom.c;
        size_t bytes = tfjs_align_up(conv_packed_floats(k, n->oc) * sizeof(float));
        if (posix_memalign((void **)&n->packed, TFJS_ALIGN, bytes)) {
            n->packed = NULL;
            return errbuf_set(err, -ENOMEM, "node '%s': out of memory", n->name);
        }
        conv_pack_weights(n->packed, m->values[n->inputs[1]].const_data, k, n->oc);
    }
    return 0;
}

struct plan_block {
    size_t off, size;
};

/* Best-fit allocation of activation buffers in run order, each freed after
 * the last step that reads it (or any alias of it). */
static int plan_buffers(struct tfjs_model *m, struct errbuf *err)
{
    int nv = m->n_values;
    _cleanup_free_ int *last = malloc((size_t)nv * sizeof(int));
    _cleanup_free_ struct plan_block *free_list = malloc((size_t)(nv + 1) * sizeof(*free_list));
    int n_free = 0;
    size_t top = 0, all = 0;

    if (!last || !free_list)
        return errbuf_set(err, -ENOMEM, "plan: out of memory");
    for (int v = 0; v < nv; v++) {
        m->values[v].root = v;
        last[v] = m->nodes[m->values[v].node].step;
    }
    /* roots resolve in run order, so chains of aliases end at a real buffer */
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        for (int k = 0; k < n->n_outputs; k++) {
            struct tfjs_value *val = &m->values[n->first_output + k];
            val->root = (!val->const_data && value_is_alias_op(n)) ? m->values[n->inputs[0]].root
                                                                   : n->first_output + k;
        }
        /* a folded node reads nothing when the graph runs (Shape's input
         * need not live until it) */
        if (n->folded)
            continue;
        for (int i = 0; i < n->n_inputs; i++) {
            int r = m->values[n->inputs[i]].root;
            if (last[r] < s)
                last[r] = s;
        }
        /* a convolution that computes its depthwise input also reads that
         * node's inputs, at its own step */
        const struct tfjs_node *d = n->fused_dw >= 0 ? &m->nodes[n->fused_dw] : NULL;
        for (int i = 0; d && i < d->n_inputs; i++) {
            int r = m->values[d->inputs[i]].root;
            if (last[r] < s)
                last[r] = s;
        }
    }
    last[m->values[m->input].root] = INT32_MAX;
    last[m->values[m->output].root] = INT32_MAX;

    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->first_output + k;
            struct tfjs_value *val = &m->values[v];
            if (val->const_data || val->root != v)
                continue;
            size_t need = tfjs_align_up(val->bytes ? val->bytes : 4);
            int best = -1;
            for (int b = 0; b < n_free; b++)
                if (free_list[b].size >= need &&
                    (best < 0 || free_list[b].size < free_list[best].size))
                    best = b;
            if (best >= 0) {
                val->off_reuse = free_list[best].off;
                free_list[best].off += need;
                free_list[best].size -= need;
                if (free_list[best].size == 0)
                    free_list[best] = free_list[--n_free];
            } else {
                val->off_reuse = top;
                top += need;
            }
            val->off_all = all;
            all += need;
        }
        for (int v = 0; v < nv; v++) {
            struct tfjs_value *val = &m->values[v];
            if (val->root != v || val->const_data || last[v] != s || m->nodes[val->node].step < 0)
                continue;
            struct plan_block blk = {val->off_reuse, tfjs_align_up(val->bytes ? val->bytes : 4)};
            /* merge with neighbours so that large buffers can be reused */
            for (int b = 0; b < n_free;) {
                if (free_list[b].off + free_list[b].size == blk.off) {
                    blk.off = free_list[b].off;
                    blk.size += free_list[b].size;
                } else if (blk.off + blk.size == free_list[b].off) {
                    blk.size += free_list[b].size;
                } else {
                    b++;
                    continue;
                }
                free_list[b] = free_list[--n_free];
            }
            free_list[n_free++] = blk;
        }
    }
    for (int v = 0; v < nv; v++)
        m->values[v].last_use = last[v];
    size_t scratch = tfjs_align_up(m->scratch_floats * sizeof(float));
    m->arena_reuse = top + scratch;
    m->arena_all = all + scratch;
    return 0;
}

int tfjs_model_plan(struct tfjs_model *m, const struct tfjs_options *options, struct errbuf *err)
{
    _cleanup_free_ char *mark = calloc((size_t)m->n_nodes, 1);
    int r;

    if (!mark)
        return errbuf_set(err, -ENOMEM, "plan: out of memory");
    r = plan_visit(m, m->values[m->output].node, mark, err);
    if (r < 0)
        return r;
    if (m->nodes[m->values[m->input].node].step < 0 && !mark[m->values[m->input].node])
        return errbuf_set(err, -EBADMSG, "the output does not depend on the input");
    for (int s = 0; s < m->n_steps; s++)
        m->nodes[m->order[s]].step = s;
    for (int s = 0; s < m->n_steps; s++) {
        struct tfjs_node *n = &m->nodes[m->order[s]];
        const struct tfjs_op_desc *d = &tfjs_ops[n->op];
        bool all_const = d->foldable;
        /* Shape and Size of a known shape are constants */
        bool by_shape = d->shape_only;
        r = node_check_inputs(n, err);
        if (r < 0)
            return r;
        r = d->infer(m, n, err);
        if (r < 0)
            return r;
        for (int k = 0; k < n->n_outputs; k++) {
            struct tfjs_value *v = &m->values[n->first_output + k];
            v->bytes = tfjs_shape_size(&v->shape) * 4;
        }
        for (int i = 0; i < n->n_inputs && !by_shape; i++) {
            m->values[n->inputs[i]].consumers++;
            if (!m->values[n->inputs[i]].const_data)
                all_const = false;
        }
        if (n->op == TFJS_OP_CONV2D) {
            size_t need = conv2d_scratch_floats(&n->geom, n->oc);
            if (need > m->scratch_floats)
                m->scratch_floats = need;
        }
        if (all_const) {
            r = plan_fold(m, n, err);
            if (r < 0)
                return r;
        }
    }
    plan_fuse_residuals(m);
    plan_fuse_depthwise(m);
    r = plan_pack_filters(m, err);
    if (r < 0)
        return r;
    return plan_buffers(m, err);
}

int tfjs_model_keep_proto(struct tfjs_model *m, struct errbuf *err)
{
    m->proto_nodes = calloc((size_t)m->n_nodes, sizeof(*m->proto_nodes));
    m->proto_values = calloc((size_t)m->n_values, sizeof(*m->proto_values));
    if (!m->proto_nodes || !m->proto_values)
        return errbuf_set(err, -ENOMEM, "graph: out of memory");
    memcpy(m->proto_values, m->values, (size_t)m->n_values * sizeof(*m->values));
    for (int i = 0; i < m->n_nodes; i++) {
        struct tfjs_node *p = &m->proto_nodes[i];
        *p = m->nodes[i];
        /* room for a fused residual, as the loader gives */
        p->inputs = calloc((size_t)p->n_inputs + 1, sizeof(int));
        if (!p->inputs)
            return errbuf_set(err, -ENOMEM, "graph: out of memory");
        memcpy(p->inputs, m->nodes[i].inputs, (size_t)p->n_inputs * sizeof(int));
    }
    return 0;
}

bool tfjs_model_input_dynamic(const struct tfjs_model *m)
{
    return m->dynamic != 0;
}

int tfjs_model_plan_input(const struct tfjs_model *g, const struct tfjs_shape *input,
                          struct tfjs_model **ret_plan, struct errbuf *err)
{
    const struct tfjs_shape *fixed = &g->values[g->input].shape;
    struct tfjs_options options = {.max_isa = g->isa};
    struct tfjs_model *c;
    char sa[64], sb[64];
    bool fits = g->proto_nodes && input->rank == fixed->rank;
    int r;

    for (int d = 0; fits && d < input->rank; d++)
        fits = (g->dynamic & (1u << d)) ? input->dims[d] > 0 && input->dims[d] <= 16384
                                        : input->dims[d] == fixed->dims[d];
    if (!fits) {
        tfjs_shape_format(sa, sizeof(sa), input);
        tfjs_shape_format(sb, sizeof(sb), fixed);
        return errbuf_set(err, -EINVAL, "input %s does not fit the graph's input %s%s", sa, sb,
                          g->dynamic ? " (in its known dims)" : " (a fixed shape)");
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return errbuf_set(err, -ENOMEM, "plan: out of memory");
    c->parent = g;
    c->n_nodes = g->n_nodes;
    c->n_values = g->n_values;
    c->sorted = g->sorted;
    c->input = g->input;
    c->output = g->output;
    c->isa = g->isa;
    c->dynamic = g->dynamic;
    c->nodes = calloc((size_t)c->n_nodes, sizeof(*c->nodes));
    c->values = malloc((size_t)c->n_values * sizeof(*c->values));
    c->order = calloc((size_t)c->n_nodes, sizeof(*c->order));
    if (!c->nodes || !c->values || !c->order) {
        tfjs_model_free(c);
        return errbuf_set(err, -ENOMEM, "plan: out of memory");
    }
    memcpy(c->values, g->proto_values, (size_t)c->n_values * sizeof(*c->values));
    for (int i = 0; i < c->n_nodes; i++) {
        const struct tfjs_node *p = &g->proto_nodes[i];
        c->nodes[i] = *p;
        c->nodes[i].inputs = calloc((size_t)p->n_inputs + 1, sizeof(int));
        if (!c->nodes[i].inputs) {
            c->n_nodes = i; /* free what was copied */
            tfjs_model_free(c);
            return errbuf_set(err, -ENOMEM, "plan: out of memory");
        }
        memcpy(c->nodes[i].inputs, p->inputs, (size_t)p->n_inputs * sizeof(int));
    }
    c->values[c->input].shape = *input;
    c->values[c->input].bytes = tfjs_shape_size(input) * 4;
    r = tfjs_model_plan(c, &options, err);
    if (r < 0) {
        tfjs_model_free(c);
        return r;
    }
    *ret_plan = c;
    return 0;
}

int tfjs_model_input(const struct tfjs_model *m)
{
    return m->input;
}

int tfjs_model_output(const struct tfjs_model *m)
{
    return m->output;
}

void tfjs_model_value_info(const struct tfjs_model *m, int value, struct tfjs_shape *ret_shape,
                           enum tfjs_dtype *ret_dtype)
{
    if (ret_shape)
        *ret_shape = m->values[value].shape;
    if (ret_dtype)
        *ret_dtype = m->values[value].dtype;
}

double tfjs_model_flops(const struct tfjs_model *m, double *ret_dense, double *ret_depthwise)
{
    if (ret_dense)
        *ret_dense = m->flops_dense;
    if (ret_depthwise)
        *ret_depthwise = m->flops_depthwise;
    return m->flops_dense + m->flops_depthwise;
}

enum pose_isa tfjs_model_isa(const struct tfjs_model *m)
{
    return m->isa;
}

bool tfjs_model_packed(const struct tfjs_model *m)
{
    for (int s = 0; s < m->n_steps; s++)
        if (m->nodes[m->order[s]].packed)
            return true;
    return false;
}

size_t tfjs_model_arena_bytes(const struct tfjs_model *m, bool keep_all)
{
    return keep_all ? m->arena_all : m->arena_reuse;
}

void tfjs_model_plan_stats(const struct tfjs_model *m, int *ret_steps, int *ret_folded,
                           int *ret_fused_adds)
{
    int folded = 0;

    for (int s = 0; s < m->n_steps; s++)
        folded += m->nodes[m->order[s]].folded;
    if (ret_steps)
        *ret_steps = m->n_steps;
    if (ret_folded)
        *ret_folded = folded;
    if (ret_fused_adds)
        *ret_fused_adds = m->fused_adds;
}
