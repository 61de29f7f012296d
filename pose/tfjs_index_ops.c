/* tfjs_index_ops: the ops that pick and gather parts of tensors — StridedSlice,
 * Split, Tile, the reductions Max and Sum, MaxPool and TopKV2 — their shape
 * rules and kernels together, since each rule works out once what its kernel
 * then walks (slice bounds, reduced extents, the pooling window). MoveNet
 * MultiPose's decoding uses them: the centre heatmap's local maxima (MaxPool),
 * the six strongest (TopKV2), boxes and keypoints gathered around them.
 * Semantics as tfjs-backend-cpu 4.22.0 computes them (docs/POSE.md). */
#include <math.h>
#include <string.h>

#include "tfjs_internal.h"

/* ---- StridedSlice ---------------------------------------------------------- */

/* A begin or end index: from the end when negative, then clamped. */
static int slice_index(int x, int d, int lo, int hi)
{
    x = x < 0 ? x + d : x;
    return x < lo ? lo : x > hi ? hi : x;
}

/* TensorFlow's rules: the begin/end/strides entries are a sparse spec over
 * the input's dims, in which an ellipsis (at most one; implied at the end
 * when absent) stands for as many full dims as the others leave, a new-axis
 * entry inserts a dim of 1 and consumes no input dim, and a shrink entry
 * takes one index and removes the dim. Then, per input dim, a masked begin or
 * end is the whole extent in the stride's direction; otherwise negative
 * indices count from the end and are clamped to [0, D] (stride > 0) or
 * [-1, D-1] (stride < 0). */
int tfjs_infer_strided_slice(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    struct tfjs_value *out = &m->values[n->first_output];
    const struct tfjs_shape *in = &m->values[n->inputs[0]].shape;
    const int32_t *begin, *end, *strides;
    int nb = tfjs_const_ints(m, n->inputs[1], n, "begin", &begin, err);
    int ne = tfjs_const_ints(m, n->inputs[2], n, "end", &end, err);
    int ns = tfjs_const_ints(m, n->inputs[3], n, "strides", &strides, err);
    int ellipsis = n->ellipsis_mask, sparse = nb;
    int full = 0, after_ellipsis = 0;
    bool shrink[TFJS_MAX_DIMS] = {0};
    struct tfjs_shape s = {0};
    char sa[64];

    if (nb < 0 || ne < 0 || ns < 0)
        return nb < 0 ? nb : ne < 0 ? ne : ns;
    if (ne != nb || ns != nb || nb > 16)
        return errbuf_set(err, -EBADMSG,
                          "node '%s' (%s): begin, end and strides have %d, %d, %d "
                          "entries",
                          n->name, n->op_name, nb, ne, ns);
    if (!ellipsis) {
        ellipsis = 1 << nb;
        sparse = nb + 1;
    }
    for (int i = __builtin_ctz((unsigned)ellipsis) + 1; i < sparse; i++)
        after_ellipsis += (n->new_axis_mask >> i) & 1;
    for (int i = 0; i < sparse; i++) {
        if (ellipsis & (1 << i)) {
            int next = in->rank - (sparse - i) + 1 + after_ellipsis;
            if (next > in->rank)
                next = in->rank;
            for (; full < next; full++) {
                n->slice_begin[full] = 0;
                n->slice_stride[full] = 1;
                n->slice_size[full] = in->dims[full];
                if (s.rank >= TFJS_MAX_DIMS)
                    goto slice_bad;
                s.dims[s.rank++] = in->dims[full];
            }
            continue;
        }
        if (n->new_axis_mask & (1 << i)) {
            if (s.rank >= TFJS_MAX_DIMS)
                goto slice_bad;
            s.dims[s.rank++] = 1;
            continue;
        }
        if (full >= in->rank)
            goto slice_bad;
        int d = in->dims[full], st = strides[i], b = begin[i], e = end[i], size;
        if (st == 0)
            goto slice_bad;
        if (n->shrink_mask & (1 << i)) {
            b = b < 0 ? b + d : b;
            if (b < 0 || b >= d)
                goto slice_bad;
            st = 1;
            size = 1;
            shrink[full] = true;
        } else {
            int lo = st > 0 ? 0 : -1, hi = st > 0 ? d : d - 1;
            b = (n->begin_mask & (1 << i)) ? (st > 0 ? 0 : d - 1) : slice_index(b, d, lo, hi);
            e = (n->end_mask & (1 << i)) ? (st > 0 ? d : -1) : slice_index(e, d, lo, hi);
            size =
                st > 0 ? (e > b ? (e - b + st - 1) / st : 0) : (b > e ? (b - e - st - 1) / -st : 0);
        }
        n->slice_begin[full] = b;
        n->slice_stride[full] = st;
        n->slice_size[full] = size;
        if (!shrink[full]) {
            if (s.rank >= TFJS_MAX_DIMS)
                goto slice_bad;
            s.dims[s.rank++] = size;
        }
        full++;
    }
    /* dims past the spec (after an explicit ellipsis consumed too few) */
    for (; full < in->rank; full++) {
        n->slice_begin[full] = 0;
        n->slice_stride[full] = 1;
        n->slice_size[full] = in->dims[full];
        if (s.rank >= TFJS_MAX_DIMS)
            goto slice_bad;
        s.dims[s.rank++] = in->dims[full];
    }
    out->shape = s;
    out->dtype = m->values[n->inputs[0]].dtype;
    return 0;
slice_bad:
    tfjs_shape_format(sa, sizeof(sa), in);
    return errbuf_set(err, -EBADMSG, "node '%s' (%s): the slice does not fit input %s", n->name,
                      n->op_name, sa);
}

/* The output holds the sliced elements in the input's order: new axes and
 * shrunk dims only add or remove dims of 1. */
void tfjs_exec_strided_slice(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                             float *scratch, bool fuse)
{
    const struct tfjs_shape *in = &m->values[n->inputs[0]].shape;
    const uint32_t *a = ptr[n->inputs[0]];
    uint32_t *o = ptr[n->first_output];
    size_t st[TFJS_MAX_DIMS], total = tfjs_shape_size(&m->values[n->first_output].shape);
    int idx[TFJS_MAX_DIMS] = {0};
    int rank = in->rank;

    (void)scratch, (void)fuse;
    tfjs_shape_strides(in, st);
    for (size_t i = 0; i < total; i++) {
        ptrdiff_t off = 0;
        for (int d = 0; d < rank; d++)
            off += (ptrdiff_t)(n->slice_begin[d] + idx[d] * n->slice_stride[d]) * (ptrdiff_t)st[d];
        o[i] = a[off];
        for (int d = rank - 1; d >= 0; d--) {
            if (++idx[d] < n->slice_size[d])
                break;
            idx[d] = 0;
        }
    }
}

/* ---- Split and Tile ---------------------------------------------------------- */

int tfjs_infer_split(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    const struct tfjs_value *in = &m->values[n->inputs[1]];
    const int32_t *axis;
    int count = tfjs_const_ints(m, n->inputs[0], n, "split_dim", &axis, err);
    char sa[64];

    if (count < 0)
        return count;
    int a = count == 1 ? (axis[0] < 0 ? axis[0] + in->shape.rank : axis[0]) : -1;
    if (a < 0 || a >= in->shape.rank || in->shape.dims[a] % n->num) {
        tfjs_shape_format(sa, sizeof(sa), &in->shape);
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): %s does not split in %d along axis %d",
                          n->name, n->op_name, sa, n->num, count == 1 ? axis[0] : -1);
    }
    n->axis = a;
    for (int k = 0; k < n->num; k++) {
        struct tfjs_value *o = &m->values[n->first_output + k];
        o->shape = in->shape;
        o->shape.dims[a] /= n->num;
        o->dtype = in->dtype;
    }
    return 0;
}

void tfjs_exec_split(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                     float *scratch, bool fuse)
{
    const struct tfjs_shape *in = &m->values[n->inputs[1]].shape;
    const char *a = ptr[n->inputs[1]];
    size_t outer = 1, inner = 1;

    (void)scratch, (void)fuse;
    for (int i = 0; i < n->axis; i++)
        outer *= (size_t)in->dims[i];
    for (int i = n->axis; i < in->rank; i++)
        inner *= (size_t)in->dims[i];
    size_t part = inner / (size_t)n->num * 4;
    for (int k = 0; k < n->num; k++) {
        char *o = ptr[n->first_output + k];
        for (size_t i = 0; i < outer; i++)
            memcpy(o + i * part, a + i * inner * 4 + (size_t)k * part, part);
    }
}

int tfjs_infer_tile(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    struct tfjs_value *out = &m->values[n->first_output];
    const struct tfjs_value *in = &m->values[n->inputs[0]];
    const int32_t *reps;
    int count = tfjs_const_ints(m, n->inputs[1], n, "multiples", &reps, err);
    char sa[64];

    if (count < 0)
        return count;
    if (count != in->shape.rank) {
        tfjs_shape_format(sa, sizeof(sa), &in->shape);
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): %d multiples for input %s", n->name,
                          n->op_name, count, sa);
    }
    out->shape = in->shape;
    for (int i = 0; i < count; i++) {
        if (reps[i] < 0 || (long long)reps[i] * in->shape.dims[i] > (1 << 24))
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): multiple %d is %d", n->name,
                              n->op_name, i, reps[i]);
        n->reps[i] = reps[i];
        out->shape.dims[i] *= reps[i];
    }
    out->dtype = in->dtype;
    return 0;
}

void tfjs_exec_tile(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                    float *scratch, bool fuse)
{
    const struct tfjs_shape *in = &m->values[n->inputs[0]].shape;
    const struct tfjs_shape *out = &m->values[n->first_output].shape;
    const uint32_t *a = ptr[n->inputs[0]];
    uint32_t *o = ptr[n->first_output];
    size_t st[TFJS_MAX_DIMS], total = tfjs_shape_size(out);
    int idx[TFJS_MAX_DIMS] = {0};

    (void)scratch, (void)fuse;
    tfjs_shape_strides(in, st);
    for (size_t i = 0; i < total; i++) {
        size_t off = 0;
        for (int d = 0; d < out->rank; d++)
            off += (size_t)(idx[d] % in->dims[d]) * st[d];
        o[i] = a[off];
        for (int d = out->rank - 1; d >= 0; d--) {
            if (++idx[d] < out->dims[d])
                break;
            idx[d] = 0;
        }
    }
}

/* ---- Max and Sum ------------------------------------------------------------- */

/* The reduced dims must be adjacent (they are in every graph seen), so that
 * the input is [outer, reduced, inner] and each output element reduces its
 * column in the order TensorFlow.js does: row-major over the reduced dims. */
int tfjs_infer_reduce(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    struct tfjs_value *out = &m->values[n->first_output];
    const struct tfjs_value *in = &m->values[n->inputs[0]];
    const int32_t *axes;
    int count = tfjs_const_ints(m, n->inputs[1], n, "reduction_indices", &axes, err);

    if (count < 0)
        return count;
    n->reduce_mask = 0;
    for (int i = 0; i < count; i++) {
        int a = axes[i] < 0 ? axes[i] + in->shape.rank : axes[i];
        if (a < 0 || a >= in->shape.rank)
            return errbuf_set(err, -EBADMSG, "node '%s' (%s): axis %d for rank %d", n->name,
                              n->op_name, axes[i], in->shape.rank);
        n->reduce_mask |= 1u << a;
    }
    unsigned mask = n->reduce_mask;
    if (mask && (mask >> __builtin_ctz(mask)) & ((mask >> __builtin_ctz(mask)) + 1))
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): reduction axes must be adjacent", n->name,
                          n->op_name);
    if (in->dtype == TFJS_BOOL && n->op == TFJS_OP_MAX)
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): bool input", n->name, n->op_name);
    out->shape.rank = 0;
    for (int i = 0; i < in->shape.rank; i++) {
        if (!(mask & (1u << i)))
            out->shape.dims[out->shape.rank++] = in->shape.dims[i];
        else if (n->keep_dims)
            out->shape.dims[out->shape.rank++] = 1;
    }
    /* Sum of bool counts, in int32 */
    out->dtype = in->dtype == TFJS_BOOL ? TFJS_INT32 : in->dtype;
    return 0;
}

static void reduce_extents(const struct tfjs_model *m, const struct tfjs_node *n, size_t *ret_outer,
                           size_t *ret_red, size_t *ret_inner)
{
    const struct tfjs_shape *in = &m->values[n->inputs[0]].shape;
    size_t e[3] = {1, 1, 1};
    bool seen = false;

    for (int i = 0; i < in->rank; i++) {
        bool r = n->reduce_mask & (1u << i);
        seen |= r;
        e[r ? 1 : seen ? 2 : 0] *= (size_t)in->dims[i];
    }
    *ret_outer = e[0];
    *ret_red = e[1];
    *ret_inner = e[2];
}

/* NaN wins, as in tfjs's maxImpl; otherwise the largest. */
void tfjs_exec_max(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                   float *scratch, bool fuse)
{
    size_t outer, red, inner;

    (void)scratch, (void)fuse;
    reduce_extents(m, n, &outer, &red, &inner);
    if (m->values[n->inputs[0]].dtype == TFJS_FLOAT32) {
        const float *a = ptr[n->inputs[0]];
        float *o = ptr[n->first_output];
        for (size_t i = 0; i < outer; i++) {
            float *y = o + i * inner;
            memcpy(y, a + i * red * inner, inner * 4);
            for (size_t r = 1; r < red; r++) {
                const float *x = a + (i * red + r) * inner;
                for (size_t j = 0; j < inner; j++)
                    y[j] = (x[j] != x[j] || x[j] > y[j]) ? x[j] : y[j];
            }
        }
    } else {
        const int32_t *a = ptr[n->inputs[0]];
        int32_t *o = ptr[n->first_output];
        for (size_t i = 0; i < outer; i++) {
            int32_t *y = o + i * inner;
            memcpy(y, a + i * red * inner, inner * 4);
            for (size_t r = 1; r < red; r++)
                for (size_t j = 0; j < inner; j++)
                    if (a[(i * red + r) * inner + j] > y[j])
                        y[j] = a[(i * red + r) * inner + j];
        }
    }
}

/* tfjs adds in a JavaScript number (a double) and rounds once at the end. */
void tfjs_exec_sum(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                   float *scratch, bool fuse)
{
    size_t outer, red, inner;

    (void)scratch, (void)fuse;
    reduce_extents(m, n, &outer, &red, &inner);
    for (size_t i = 0; i < outer; i++)
        for (size_t j = 0; j < inner; j++) {
            double acc = 0;
            if (m->values[n->inputs[0]].dtype == TFJS_FLOAT32) {
                const float *a = ptr[n->inputs[0]];
                for (size_t r = 0; r < red; r++)
                    acc += a[(i * red + r) * inner + j];
                ((float *)ptr[n->first_output])[i * inner + j] = (float)acc;
            } else {
                const int32_t *a = ptr[n->inputs[0]];
                for (size_t r = 0; r < red; r++)
                    acc += a[(i * red + r) * inner + j];
                /* as a store into an Int32Array: modulo 2^32 */
                ((int32_t *)ptr[n->first_output])[i * inner + j] =
                    (int32_t)(uint32_t)(long long)fmod(acc, 4294967296.0);
            }
        }
}

/* ---- MaxPool ----------------------------------------------------------------- */

/* Padding as for a convolution (SAME: the odd pixel at the bottom and right);
 * the pixels in the padding are not candidates (as if -infinity). */
int tfjs_infer_maxpool(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    struct tfjs_value *out = &m->values[n->first_output];
    const struct tfjs_value *in = &m->values[n->inputs[0]];
    struct conv_geom *g = &n->geom;
    char sa[64];

    if (in->shape.rank != 4 || in->shape.dims[0] != 1 || in->dtype != TFJS_FLOAT32) {
        tfjs_shape_format(sa, sizeof(sa), &in->shape);
        return errbuf_set(err, -ENOTSUP, "node '%s' (%s): input %s is not float32 [1,H,W,C]",
                          n->name, n->op_name, sa);
    }
    g->h = in->shape.dims[1];
    g->w = in->shape.dims[2];
    g->c = in->shape.dims[3];
    g->stride_h = n->stride_h;
    g->stride_w = n->stride_w;
    if (!n->same && (g->h < g->kh || g->w < g->kw))
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): window larger than the input", n->name,
                          n->op_name);
    conv_geom_pad(g, n->same);
    out->shape = (struct tfjs_shape){4, {1, g->oh, g->ow, g->c}};
    out->dtype = TFJS_FLOAT32;
    return 0;
}

void tfjs_exec_maxpool(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                       float *scratch, bool fuse)
{
    const struct conv_geom *g = &n->geom;
    const float *a = ptr[n->inputs[0]];
    float *o = ptr[n->first_output];

    (void)m, (void)scratch, (void)fuse;
    for (int oy = 0; oy < g->oh; oy++) {
        int y0 = oy * g->stride_h - g->pad_top, y1 = y0 + g->kh;
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > g->h ? g->h : y1;
        for (int ox = 0; ox < g->ow; ox++) {
            int x0 = ox * g->stride_w - g->pad_left, x1 = x0 + g->kw;
            x0 = x0 < 0 ? 0 : x0;
            x1 = x1 > g->w ? g->w : x1;
            float *y = o + ((size_t)oy * g->ow + ox) * g->c;
            for (int c = 0; c < g->c; c++)
                y[c] = -INFINITY;
            for (int iy = y0; iy < y1; iy++)
                for (int ix = x0; ix < x1; ix++) {
                    const float *x = a + ((size_t)iy * g->w + ix) * g->c;
                    for (int c = 0; c < g->c; c++)
                        y[c] = x[c] > y[c] ? x[c] : y[c];
                }
        }
    }
}

/* ---- TopKV2 ------------------------------------------------------------------ */

int tfjs_infer_topk(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err)
{
    const struct tfjs_value *in = &m->values[n->inputs[0]];
    const int32_t *k;
    int count = tfjs_const_ints(m, n->inputs[1], n, "k", &k, err);
    char sa[64];

    if (count < 0)
        return count;
    if (count != 1 || in->shape.rank < 1 || k[0] < 0 || k[0] > in->shape.dims[in->shape.rank - 1] ||
        in->dtype == TFJS_BOOL) {
        tfjs_shape_format(sa, sizeof(sa), &in->shape);
        return errbuf_set(err, -EBADMSG, "node '%s' (%s): k %d does not fit %s %s", n->name,
                          n->op_name, count == 1 ? k[0] : -1, tfjs_dtype_name(in->dtype), sa);
    }
    n->k = k[0];
    for (int j = 0; j < 2; j++) {
        struct tfjs_value *o = &m->values[n->first_output + j];
        o->shape = in->shape;
        o->shape.dims[o->shape.rank - 1] = n->k;
        o->dtype = j ? TFJS_INT32 : in->dtype;
    }
    return 0;
}

/* The k largest of each last-dim row, largest first, equal values in index
 * order: the order tfjs's comparator (value descending, then index
 * ascending) gives. An insertion into the k best so far, scanning in index
 * order, so a later equal value never displaces an earlier one. With
 * sorted = false TensorFlow leaves the order unspecified; this gives the same
 * sorted order. */
static inline double topk_value(const void *x, bool f32, size_t i)
{
    return f32 ? (double)((const float *)x)[i] : (double)((const int32_t *)x)[i];
}

void tfjs_exec_topk(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                    float *scratch, bool fuse)
{
    const struct tfjs_shape *in = &m->values[n->inputs[0]].shape;
    bool f32 = m->values[n->inputs[0]].dtype == TFJS_FLOAT32;
    int len = in->dims[in->rank - 1], k = n->k;
    size_t rows = len ? tfjs_shape_size(in) / (size_t)len : 0;
    int32_t *idx = ptr[n->first_output + 1];

    (void)scratch, (void)fuse;
    for (size_t r = 0; r < rows; r++) {
        int32_t *best = idx + r * (size_t)k;
        int have = 0;
        const void *row = (const char *)ptr[n->inputs[0]] + r * (size_t)len * 4;
        for (int i = 0; i < len; i++) {
            double v = topk_value(row, f32, (size_t)i);
            if (have == k && (k == 0 || !(v > topk_value(row, f32, (size_t)best[k - 1]))))
                continue;
            int at = have < k ? have++ : k - 1;
            while (at > 0 && v > topk_value(row, f32, (size_t)best[at - 1])) {
                best[at] = best[at - 1];
                at--;
            }
            best[at] = i;
        }
        for (int j = 0; j < k; j++) {
            size_t src = r * len + (size_t)best[j];
            ((uint32_t *)ptr[n->first_output])[r * k + j] =
                ((const uint32_t *)ptr[n->inputs[0]])[src];
        }
    }
}
