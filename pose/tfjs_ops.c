/* tfjs_ops: the kernels of the TensorFlow.js runner's ops (the convolutions
 * themselves are in conv.c) and the op descriptor table that ties each op to
 * its names, inputs, attribute parser, shape rule and kernel. */
#include <math.h>
#include <string.h>

#include "tfjs_internal.h"

/* The project builds with -O2, where GCC only vectorises loops it needs no
 * remainder for; these element-wise loops (the input normalisation and the
 * keypoint decoding run them over 40-110 thousand elements a frame) are
 * compiled with the full cost model, and without errno for sqrtf, so that
 * they use the vector units. Nothing here reads or sets errno. */
#pragma GCC push_options
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "no-math-errno")

/* ---- element-wise binary ops ------------------------------------------------- */

/* Strides of a (broadcast) input against the output's dims: 0 where it repeats. */
static void broadcast_strides(const struct tfjs_shape *in, const struct tfjs_shape *out,
                              size_t *strides)
{
    size_t s = 1;

    for (int i = out->rank - 1; i >= 0; i--) {
        int j = i - (out->rank - in->rank);
        int d = j >= 0 ? in->dims[j] : 1;
        strides[i] = d == 1 ? 0 : s;
        s *= (size_t)d;
    }
}

/* Integer division as TensorFlow's CPU kernels do it: truncated for RealDiv,
 * floored for FloorDiv; 0 where the quotient is undefined. */
static int32_t div_i32(int32_t a, int32_t b, bool floor)
{
    if (b == 0 || (a == INT32_MIN && b == -1))
        return 0;
    int32_t q = a / b;
    if (floor && (a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* A short period (a per-channel constant of an RGB image, a scalar) is
 * repeated to 16 periods in tiled, so that the loops run long and vectorise. */
static void binary_tile(float tiled[16 * 64], const float **a, const float **b, size_t n,
                        size_t *period, bool a_rep)
{
    if (*period > 1 && *period < 64 && n % (*period * 16) == 0) {
        const float *src = a_rep ? *a : *b;
        for (size_t i = 0; i < *period * 16; i++)
            tiled[i] = src[i % *period];
        if (a_rep)
            *a = tiled;
        else
            *b = tiled;
        *period *= 16;
    }
}

/* o[i] = a[i] OP b[i % nb] (or a[i % na] OP b[i]) over n elements, one loop
 * per op and shape of repetition so that each loop vectorises. */
#define BINARY_LOOP(EXPR)                                                                          \
    if (period == 1 && a_rep) {                                                                    \
        float x = a[0];                                                                            \
        for (size_t i = 0; i < n; i++) {                                                           \
            float y = b[i];                                                                        \
            o[i] = (EXPR);                                                                         \
        }                                                                                          \
    } else if (period == 1) {                                                                      \
        float y = b[0];                                                                            \
        for (size_t i = 0; i < n; i++) {                                                           \
            float x = a[i];                                                                        \
            o[i] = (EXPR);                                                                         \
        }                                                                                          \
    } else if (a_rep) {                                                                            \
        for (size_t i0 = 0; i0 < n; i0 += period)                                                  \
            for (size_t j = 0; j < period; j++) {                                                  \
                float x = a[j], y = b[i0 + j];                                                     \
                o[i0 + j] = (EXPR);                                                                \
            }                                                                                      \
    } else {                                                                                       \
        for (size_t i0 = 0; i0 < n; i0 += period)                                                  \
            for (size_t j = 0; j < period; j++) {                                                  \
                float x = a[i0 + j], y = b[j];                                                     \
                o[i0 + j] = (EXPR);                                                                \
            }                                                                                      \
    }

typedef float binary_f32_fn(float x, float y);
typedef int32_t binary_i32_fn(int32_t x, int32_t y);
typedef void binary_repeat_fn(float *o, const float *a, const float *b, size_t n, size_t period,
                              bool a_rep);

/* Whether small (right-aligned against out) is out's trailing dims with only
 * 1s before them, so that it repeats with period size(small). */
static bool repeats_trailing(const struct tfjs_shape *small, const struct tfjs_shape *out)
{
    int lead = 0;

    while (lead < small->rank && small->dims[lead] == 1)
        lead++;
    for (int i = lead; i < small->rank; i++)
        if (small->dims[i] != out->dims[out->rank - small->rank + i])
            return false;
    return true;
}

/* Inlined into each op's kernel with that op's functions, so that the
 * element loops call nothing. */
static inline __attribute__((always_inline)) void
exec_binary(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
            binary_repeat_fn *repeat, binary_f32_fn *op_f32, binary_i32_fn *op_i32)
{
    const struct tfjs_value *va = &m->values[n->inputs[0]], *vb = &m->values[n->inputs[1]];
    const struct tfjs_value *vo = &m->values[n->first_output];
    size_t total = tfjs_shape_size(&vo->shape);
    size_t sa[TFJS_MAX_DIMS], sb[TFJS_MAX_DIMS];
    int idx[TFJS_MAX_DIMS] = {0};
    bool f32 = vo->dtype == TFJS_FLOAT32;
    const void *a = ptr[n->inputs[0]], *b = ptr[n->inputs[1]];
    void *o = ptr[n->first_output];

    if (f32) {
        size_t na = tfjs_shape_size(&va->shape), nb = tfjs_shape_size(&vb->shape);
        if (na == total && nb > 0 && repeats_trailing(&vb->shape, &vo->shape)) {
            repeat(o, a, b, total, nb, false);
            return;
        }
        if (nb == total && na > 0 && repeats_trailing(&va->shape, &vo->shape)) {
            repeat(o, a, b, total, na, true);
            return;
        }
    }
    broadcast_strides(&va->shape, &vo->shape, sa);
    broadcast_strides(&vb->shape, &vo->shape, sb);
    /* the last dimension as a strided loop, the others as an odometer */
    int rank = vo->shape.rank;
    size_t inner = rank ? (size_t)vo->shape.dims[rank - 1] : 1;
    size_t sa_in = rank ? sa[rank - 1] : 0, sb_in = rank ? sb[rank - 1] : 0;
    size_t ia = 0, ib = 0;
    for (size_t i0 = 0; i0 < total; i0 += inner) {
        if (f32 && (sa_in == 1 || sb_in == 1)) {
            /* a row against a row or a scalar: the vectorised loops */
            const float *fa = (const float *)a + ia, *fb = (const float *)b + ib;
            repeat((float *)o + i0, fa, fb, inner, sa_in && sb_in ? inner : 1, sa_in == 0);
        } else if (f32) {
            const float *fa = (const float *)a + ia, *fb = (const float *)b + ib;
            for (size_t j = 0; j < inner; j++)
                ((float *)o)[i0 + j] = op_f32(fa[j * sa_in], fb[j * sb_in]);
        } else {
            const int32_t *xa = (const int32_t *)a + ia, *xb = (const int32_t *)b + ib;
            for (size_t j = 0; j < inner; j++)
                ((int32_t *)o)[i0 + j] = op_i32(xa[j * sa_in], xb[j * sb_in]);
        }
        for (int d = rank - 2; d >= 0; d--) {
            ia += sa[d];
            ib += sb[d];
            if (++idx[d] < vo->shape.dims[d])
                break;
            ia -= sa[d] * (size_t)vo->shape.dims[d];
            ib -= sb[d] * (size_t)vo->shape.dims[d];
            idx[d] = 0;
        }
    }
}

/* One binary op: its float and int32 forms (int32 wraps around, as in
 * TensorFlow), its repeating loops and its kernel. */
#define BINARY_OP(NAME, F32, I32)                                                                  \
    static inline float NAME##_f32(float x, float y)                                               \
    {                                                                                              \
        return F32;                                                                                \
    }                                                                                              \
    static inline int32_t NAME##_i32(int32_t x, int32_t y)                                         \
    {                                                                                              \
        return I32;                                                                                \
    }                                                                                              \
    static void NAME##_repeat(float *o, const float *a, const float *b, size_t n, size_t period,   \
                              bool a_rep)                                                          \
    {                                                                                              \
        float tiled[16 * 64];                                                                      \
        binary_tile(tiled, &a, &b, n, &period, a_rep);                                             \
        BINARY_LOOP(NAME##_f32(x, y));                                                             \
    }                                                                                              \
    static void exec_##NAME(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,     \
                            float *scratch, bool fuse)                                             \
    {                                                                                              \
        (void)scratch;                                                                             \
        (void)fuse;                                                                                \
        exec_binary(m, n, ptr, NAME##_repeat, NAME##_f32, NAME##_i32);                             \
    }

BINARY_OP(add, x + y, (int32_t)((uint32_t)x + (uint32_t)y))
BINARY_OP(sub, x - y, (int32_t)((uint32_t)x - (uint32_t)y))
BINARY_OP(mul, x *y, (int32_t)((uint32_t)x *(uint32_t)y))
BINARY_OP(realdiv, x / y, div_i32(x, y, false))
BINARY_OP(floordiv, floorf(x / y), div_i32(x, y, true))
/* int32 SquaredDifference is refused at load; the form is for completeness */
BINARY_OP(sqdiff, (x - y) * (x - y), (int32_t)((uint32_t)(x - y) * (uint32_t)(x - y)))
BINARY_OP(maximum, x > y ? x : y, x > y ? x : y)
BINARY_OP(minimum, x < y ? x : y, x < y ? x : y)

/* ---- unary ops ---------------------------------------------------------------- */

/* Products of the dims before and after axis. */
static void split_at(const struct tfjs_shape *s, int axis, size_t *ret_outer, size_t *ret_inner)
{
    size_t outer = 1, inner = 1;

    for (int i = 0; i < axis; i++)
        outer *= (size_t)s->dims[i];
    for (int i = axis + 1; i < s->rank; i++)
        inner *= (size_t)s->dims[i];
    *ret_outer = outer;
    *ret_inner = inner;
}

/* The element count of a node's first output, and its input and output. */
#define UNARY_PROLOGUE                                                                             \
    size_t total = tfjs_shape_size(&m->values[n->first_output].shape);                             \
    const void *a = ptr[n->inputs[0]];                                                             \
    void *o = ptr[n->first_output];                                                                \
    (void)scratch;                                                                                 \
    (void)fuse

/* Const and Placeholder: their values are there before a run. */
static void exec_none(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                      float *scratch, bool fuse)
{
    (void)m, (void)n, (void)ptr, (void)scratch, (void)fuse;
}

/* Identity, Reshape, ExpandDims, Squeeze: the same bytes, usually in the same
 * buffer (see alias in the table). */
static void exec_copy(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                      float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    if (o != a)
        memcpy(o, a, total * 4);
}

static void exec_cast(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                      float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    enum tfjs_dtype src = m->values[n->inputs[0]].dtype;
    if (src == n->dst || (src == TFJS_BOOL && n->dst == TFJS_INT32)) {
        if (o != a)
            memcpy(o, a, total * 4);
    } else if (n->dst == TFJS_BOOL && src == TFJS_FLOAT32) {
        for (size_t i = 0; i < total; i++)
            ((int32_t *)o)[i] = ((const float *)a)[i] != 0;
    } else if (n->dst == TFJS_BOOL) {
        for (size_t i = 0; i < total; i++)
            ((int32_t *)o)[i] = ((const int32_t *)a)[i] != 0;
    } else if (n->dst == TFJS_FLOAT32) {
        for (size_t i = 0; i < total; i++)
            ((float *)o)[i] = (float)((const int32_t *)a)[i];
    } else {
        for (size_t i = 0; i < total; i++) {
            float x = ((const float *)a)[i];
            ((int32_t *)o)[i] = isfinite(x) && fabsf(x) < 2147483647.0f ? (int32_t)x : 0;
        }
    }
}

static void exec_sqrt(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                      float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    for (size_t i = 0; i < total; i++)
        ((float *)o)[i] = sqrtf(((const float *)a)[i]);
}

static void exec_sigmoid(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                         float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    conv_sigmoid_forward(o, a, total, m->isa);
}

static void exec_relu(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                      float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    for (size_t i = 0; i < total; i++) {
        float x = ((const float *)a)[i];
        ((float *)o)[i] = x > 0 ? x : 0;
    }
}

static void exec_relu6(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                       float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    for (size_t i = 0; i < total; i++) {
        float x = ((const float *)a)[i];
        x = x > 0 ? x : 0;
        if (x > 6)
            x = 6;
        ((float *)o)[i] = x;
    }
}

static void exec_exp(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                     float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    conv_exp_forward(o, a, total, m->isa);
}

static void exec_reciprocal(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                            float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    for (size_t i = 0; i < total; i++)
        ((float *)o)[i] = 1.0f / ((const float *)a)[i];
}

static void exec_abs(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                     float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    if (m->values[n->first_output].dtype == TFJS_FLOAT32) {
        for (size_t i = 0; i < total; i++)
            ((float *)o)[i] = fabsf(((const float *)a)[i]);
    } else {
        /* |INT32_MIN| wraps to itself, as in TensorFlow */
        for (size_t i = 0; i < total; i++) {
            int32_t x = ((const int32_t *)a)[i];
            ((int32_t *)o)[i] = x < 0 ? (int32_t)(0u - (uint32_t)x) : x;
        }
    }
}

/* AddN: added in input order, each sum rounded to the dtype (as
 * tfjs-backend-cpu's loop over a float32 array does). */
static void exec_addn(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                      float *scratch, bool fuse)
{
    UNARY_PROLOGUE;
    (void)a;
    if (m->values[n->first_output].dtype == TFJS_FLOAT32) {
        float *y = o;
        memcpy(y, ptr[n->inputs[0]], total * 4);
        for (int k = 1; k < n->n_inputs; k++) {
            const float *x = ptr[n->inputs[k]];
            for (size_t i = 0; i < total; i++)
                y[i] += x[i];
        }
    } else {
        int32_t *y = o;
        memcpy(y, ptr[n->inputs[0]], total * 4);
        for (int k = 1; k < n->n_inputs; k++) {
            const int32_t *x = ptr[n->inputs[k]];
            for (size_t i = 0; i < total; i++)
                y[i] = (int32_t)((uint32_t)y[i] + (uint32_t)x[i]);
        }
    }
}

/* ---- comparisons and selection (bool is int32 0/1) ------------------------------ */

/* Walks the output of a node element by element with the offsets of up to
 * three broadcast inputs (the tensors are small: boxes and scores). */
struct bcast_iter {
    int rank, n_in;
    int dims[TFJS_MAX_DIMS], idx[TFJS_MAX_DIMS];
    size_t strides[3][TFJS_MAX_DIMS];
    size_t off[3];
};

static void bcast_init(struct bcast_iter *it, const struct tfjs_model *m, const struct tfjs_node *n,
                       int first, int n_in)
{
    const struct tfjs_shape *out = &m->values[n->first_output].shape;

    memset(it, 0, sizeof(*it));
    it->rank = out->rank;
    it->n_in = n_in;
    memcpy(it->dims, out->dims, sizeof(it->dims));
    for (int k = 0; k < n_in; k++)
        broadcast_strides(&m->values[n->inputs[first + k]].shape, out, it->strides[k]);
}

static inline void bcast_next(struct bcast_iter *it)
{
    for (int d = it->rank - 1; d >= 0; d--) {
        for (int k = 0; k < it->n_in; k++)
            it->off[k] += it->strides[k][d];
        if (++it->idx[d] < it->dims[d])
            return;
        for (int k = 0; k < it->n_in; k++)
            it->off[k] -= it->strides[k][d] * (size_t)it->dims[d];
        it->idx[d] = 0;
    }
}

/* A comparison of float32 or int32 (bool as int32) operands, bool out. */
#define COMPARE_OP(NAME, EXPR)                                                                     \
    static void exec_##NAME(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,     \
                            float *scratch, bool fuse)                                             \
    {                                                                                              \
        size_t total = tfjs_shape_size(&m->values[n->first_output].shape);                         \
        int32_t *o = ptr[n->first_output];                                                         \
        struct bcast_iter it;                                                                      \
        (void)scratch, (void)fuse;                                                                 \
        bcast_init(&it, m, n, 0, 2);                                                               \
        if (m->values[n->inputs[0]].dtype == TFJS_FLOAT32) {                                       \
            const float *fa = ptr[n->inputs[0]], *fb = ptr[n->inputs[1]];                          \
            for (size_t i = 0; i < total; i++, bcast_next(&it)) {                                  \
                float x = fa[it.off[0]], y = fb[it.off[1]];                                        \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            const int32_t *ia = ptr[n->inputs[0]], *ib = ptr[n->inputs[1]];                        \
            for (size_t i = 0; i < total; i++, bcast_next(&it)) {                                  \
                int32_t x = ia[it.off[0]], y = ib[it.off[1]];                                      \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        }                                                                                          \
    }

COMPARE_OP(equal, x == y)
COMPARE_OP(greater, x > y)
COMPARE_OP(greater_equal, x >= y)
COMPARE_OP(less, x < y)
COMPARE_OP(logical_and, x != 0 && y != 0)

/* Select: condition ? t : e, element by element after broadcasting (tf.where
 * in TensorFlow.js broadcasts all three); the values are copied as bits. */
static void exec_select(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                        float *scratch, bool fuse)
{
    size_t total = tfjs_shape_size(&m->values[n->first_output].shape);
    const int32_t *c = ptr[n->inputs[0]];
    const uint32_t *t = ptr[n->inputs[1]], *e = ptr[n->inputs[2]];
    uint32_t *o = ptr[n->first_output];
    struct bcast_iter it;

    (void)scratch, (void)fuse;
    bcast_init(&it, m, n, 0, 3);
    for (size_t i = 0; i < total; i++, bcast_next(&it))
        o[i] = c[it.off[0]] ? t[it.off[1]] : e[it.off[2]];
}

/* ---- convolutions and resizing (conv.c) ---------------------------------------- */

static void exec_conv2d(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                        float *scratch, bool fuse)
{
    void *o = ptr[n->first_output];

    if (fuse && n->fused_dw >= 0) {
        const struct tfjs_node *d = &m->nodes[n->fused_dw];
        conv_dw_pointwise_forward(
            o, scratch, ptr[d->inputs[0]], ptr[d->inputs[1]],
            d->has_bias ? ptr[d->inputs[2]] : NULL, &d->geom, d->act, ptr[n->inputs[1]], n->packed,
            n->has_bias ? ptr[n->inputs[2]] : NULL, n->residual >= 0 ? ptr[n->residual] : NULL,
            n->oc, n->act, m->isa);
        return;
    }
    conv2d_forward(o, scratch, ptr[n->inputs[0]], ptr[n->inputs[1]], n->packed,
                   n->has_bias ? ptr[n->inputs[2]] : NULL,
                   n->residual >= 0 ? ptr[n->residual] : NULL, &n->geom, n->oc, n->act, m->isa);
}

static void exec_depthwise(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                           float *scratch, bool fuse)
{
    (void)scratch, (void)fuse;
    conv_depthwise_forward(ptr[n->first_output], ptr[n->inputs[0]], ptr[n->inputs[1]],
                           n->has_bias ? ptr[n->inputs[2]] : NULL, &n->geom, n->act, m->isa);
}

static void exec_resize_bilinear(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                                 float *scratch, bool fuse)
{
    const struct tfjs_shape *in = &m->values[n->inputs[0]].shape;
    const struct tfjs_shape *out = &m->values[n->first_output].shape;

    (void)scratch, (void)fuse;
    conv_resize_bilinear_forward(ptr[n->first_output], ptr[n->inputs[0]], in->dims[1], in->dims[2],
                                 in->dims[3], out->dims[1], out->dims[2], n->align_corners,
                                 n->half_pixel_centers, m->isa);
}

/* ---- moving data ----------------------------------------------------------------- */

static void exec_unpack(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                        float *scratch, bool fuse)
{
    const void *a = ptr[n->inputs[0]];
    size_t outer, inner;

    (void)scratch, (void)fuse;
    split_at(&m->values[n->inputs[0]].shape, n->axis, &outer, &inner);
    for (int k = 0; k < n->num; k++) {
        char *dst = ptr[n->first_output + k];
        if ((const void *)dst == a)
            continue; /* num 1: an alias */
        for (size_t i = 0; i < outer; i++)
            memcpy(dst + i * inner * 4, (const char *)a + ((i * n->num + k) * inner) * 4,
                   inner * 4);
    }
}

/* Pack (a new axis) and ConcatV2 (an existing one, given by a last input). */
static void exec_stack(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                       float *scratch, bool fuse)
{
    bool pack = n->op == TFJS_OP_PACK;
    int parts = pack ? n->n_inputs : n->n_inputs - 1;
    size_t outer, inner;
    char *dst = ptr[n->first_output];

    (void)scratch, (void)fuse;
    split_at(&m->values[n->first_output].shape, n->axis, &outer, &inner);
    for (size_t i = 0; i < outer; i++) {
        for (int k = 0; k < parts; k++) {
            const struct tfjs_value *v = &m->values[n->inputs[k]];
            size_t chunk = pack ? inner : inner * (size_t)v->shape.dims[n->axis];
            memcpy(dst, (const char *)ptr[n->inputs[k]] + i * chunk * 4, chunk * 4);
            dst += chunk * 4;
        }
    }
}

static void exec_argmax(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                        float *scratch, bool fuse)
{
    const struct tfjs_shape *in = &m->values[n->inputs[0]].shape;
    const float *x = ptr[n->inputs[0]];
    int32_t *o = ptr[n->first_output];
    int len = in->dims[n->axis];
    size_t outer, inner;

    (void)scratch, (void)fuse;
    split_at(in, n->axis, &outer, &inner);
    for (size_t i = 0; i < outer; i++) {
        for (size_t j = 0; j < inner; j++) {
            const float *p = x + i * len * inner + j;
            float best = p[0];
            int32_t arg = 0;
            for (int k = 1; k < len; k++)
                if (p[(size_t)k * inner] > best) {
                    best = p[(size_t)k * inner];
                    arg = k;
                }
            o[i * inner + j] = arg;
        }
    }
}

static void exec_gather_nd(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                           float *scratch, bool fuse)
{
    const struct tfjs_shape *in = &m->values[n->inputs[0]].shape;
    const struct tfjs_value *iv = &m->values[n->inputs[1]];
    const char *a = ptr[n->inputs[0]];
    char *o = ptr[n->first_output];
    const int32_t *idx = ptr[n->inputs[1]];
    int d = iv->shape.dims[iv->shape.rank - 1];
    size_t count = tfjs_shape_size(&iv->shape) / (size_t)d;
    size_t slice = 1, strides[TFJS_MAX_DIMS];

    (void)scratch, (void)fuse;
    for (int i = d; i < in->rank; i++)
        slice *= (size_t)in->dims[i];
    size_t s = slice;
    for (int i = d - 1; i >= 0; i--) {
        strides[i] = s;
        s *= (size_t)in->dims[i];
    }
    for (size_t c = 0; c < count; c++) {
        size_t off = 0;
        bool ok = true;
        for (int i = 0; i < d; i++) {
            int32_t k = idx[c * d + i];
            if (k < 0 || k >= in->dims[i])
                ok = false;
            else
                off += (size_t)k * strides[i];
        }
        /* an index out of range yields zeros (TensorFlow's GPU rule) */
        if (ok)
            memcpy(o + c * slice * 4, a + off * 4, slice * 4);
        else
            memset(o + c * slice * 4, 0, slice * 4);
    }
}

#pragma GCC pop_options

/* ---- the table ---------------------------------------------------------------------- */

#define BINARY_ROW(NAME, INFER, ...)                                                               \
    {                                                                                              \
        .names = {__VA_ARGS__}, .min_inputs = 2, .max_inputs = 2, .foldable = true,                \
        .infer = tfjs_infer_##INFER, .exec = exec_##NAME,                                          \
    }
#define UNARY_ROW(NAME, INFER, ...)                                                                \
    {                                                                                              \
        .names = {__VA_ARGS__}, .min_inputs = 1, .max_inputs = 1, .foldable = true,                \
        .infer = tfjs_infer_##INFER, .exec = exec_##NAME,                                          \
    }

const struct tfjs_op_desc tfjs_ops[] = {
    [TFJS_OP_CONST] = {.names = {"Const"},
                       .max_inputs = -1,
                       .infer = tfjs_infer_source,
                       .exec = exec_none},
    [TFJS_OP_PLACEHOLDER] = {.names = {"Placeholder"},
                             .max_inputs = -1,
                             .infer = tfjs_infer_source,
                             .exec = exec_none},
    [TFJS_OP_IDENTITY] = {.names = {"Identity"},
                          .min_inputs = 1,
                          .max_inputs = 1,
                          .alias = true,
                          .foldable = true,
                          .infer = tfjs_infer_identity,
                          .exec = exec_copy},
    [TFJS_OP_CAST] = {.names = {"Cast"},
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .foldable = true,
                      .parse = tfjs_parse_cast,
                      .infer = tfjs_infer_cast,
                      .exec = exec_cast},
    [TFJS_OP_ADD] = BINARY_ROW(add, binary, "Add", "AddV2"),
    [TFJS_OP_SUB] = BINARY_ROW(sub, binary, "Sub"),
    [TFJS_OP_MUL] = BINARY_ROW(mul, binary, "Mul"),
    [TFJS_OP_REALDIV] = BINARY_ROW(realdiv, binary, "RealDiv"),
    [TFJS_OP_FLOORDIV] = BINARY_ROW(floordiv, binary, "FloorDiv"),
    [TFJS_OP_SQDIFF] = BINARY_ROW(sqdiff, binary_float, "SquaredDifference"),
    [TFJS_OP_MAXIMUM] = BINARY_ROW(maximum, binary, "Maximum"),
    [TFJS_OP_MINIMUM] = BINARY_ROW(minimum, binary, "Minimum"),
    [TFJS_OP_SQRT] = UNARY_ROW(sqrt, float, "Sqrt"),
    [TFJS_OP_SIGMOID] = UNARY_ROW(sigmoid, float, "Sigmoid"),
    [TFJS_OP_RELU] = UNARY_ROW(relu, float, "Relu"),
    [TFJS_OP_RELU6] = UNARY_ROW(relu6, float, "Relu6"),
    /* two inputs and the bias when fused_ops says BiasAdd (tfjs_parse_conv);
     * folding would skip the packing and the fusions */
    [TFJS_OP_CONV2D] = {.names = {"Conv2D", "_FusedConv2D"},
                        .min_inputs = 2,
                        .max_inputs = 3,
                        .parse = tfjs_parse_conv,
                        .infer = tfjs_infer_conv,
                        .exec = exec_conv2d},
    [TFJS_OP_DEPTHWISE] = {.names = {"DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"},
                           .min_inputs = 2,
                           .max_inputs = 3,
                           .parse = tfjs_parse_conv,
                           .infer = tfjs_infer_conv,
                           .exec = exec_depthwise},
    [TFJS_OP_RESIZE_BILINEAR] = {.names = {"ResizeBilinear"},
                                 .min_inputs = 2,
                                 .max_inputs = 2,
                                 .foldable = true,
                                 .parse = tfjs_parse_resize,
                                 .infer = tfjs_infer_resize,
                                 .exec = exec_resize_bilinear},
    [TFJS_OP_RESHAPE] = {.names = {"Reshape"},
                         .min_inputs = 2,
                         .max_inputs = 2,
                         .alias = true,
                         .foldable = true,
                         .infer = tfjs_infer_reshape,
                         .exec = exec_copy},
    [TFJS_OP_EXPAND_DIMS] = {.names = {"ExpandDims"},
                             .min_inputs = 2,
                             .max_inputs = 2,
                             .alias = true,
                             .foldable = true,
                             .infer = tfjs_infer_expand_dims,
                             .exec = exec_copy},
    [TFJS_OP_SQUEEZE] = {.names = {"Squeeze"},
                         .min_inputs = 1,
                         .max_inputs = 1,
                         .alias = true,
                         .foldable = true,
                         .parse = tfjs_parse_squeeze,
                         .infer = tfjs_infer_squeeze,
                         .exec = exec_copy},
    /* an alias too when num is 1 (tfjs_plan.c) */
    [TFJS_OP_UNPACK] = {.names = {"Unpack"},
                        .min_inputs = 1,
                        .max_inputs = 1,
                        .foldable = true,
                        .outputs_attr = "num",
                        .parse = tfjs_parse_unpack,
                        .infer = tfjs_infer_unpack,
                        .exec = exec_unpack},
    [TFJS_OP_PACK] = {.names = {"Pack"},
                      .min_inputs = 1,
                      .max_inputs = -1,
                      .foldable = true,
                      .parse = tfjs_parse_pack,
                      .infer = tfjs_infer_stack,
                      .exec = exec_stack},
    /* the parts, then the axis */
    [TFJS_OP_CONCAT] = {.names = {"ConcatV2"},
                        .min_inputs = 2,
                        .max_inputs = -1,
                        .foldable = true,
                        .infer = tfjs_infer_stack,
                        .exec = exec_stack},
    [TFJS_OP_ARGMAX] = {.names = {"ArgMax"},
                        .min_inputs = 2,
                        .max_inputs = 2,
                        .foldable = true,
                        .infer = tfjs_infer_argmax,
                        .exec = exec_argmax},
    [TFJS_OP_GATHER_ND] = {.names = {"GatherNd"},
                           .min_inputs = 2,
                           .max_inputs = 2,
                           .foldable = true,
                           .infer = tfjs_infer_gather_nd,
                           .exec = exec_gather_nd},
    [TFJS_OP_ABS] = UNARY_ROW(abs, numeric, "Abs"),
    [TFJS_OP_EXP] = UNARY_ROW(exp, float, "Exp"),
    [TFJS_OP_RECIPROCAL] = UNARY_ROW(reciprocal, float, "Reciprocal", "Inv"),
    [TFJS_OP_ADDN] = {.names = {"AddN"},
                      .min_inputs = 1,
                      .max_inputs = -1,
                      .foldable = true,
                      .infer = tfjs_infer_addn,
                      .exec = exec_addn},
    [TFJS_OP_EQUAL] = BINARY_ROW(equal, compare, "Equal"),
    [TFJS_OP_GREATER] = BINARY_ROW(greater, compare, "Greater"),
    [TFJS_OP_GREATER_EQUAL] = BINARY_ROW(greater_equal, compare, "GreaterEqual"),
    [TFJS_OP_LESS] = BINARY_ROW(less, compare, "Less"),
    [TFJS_OP_LOGICAL_AND] = BINARY_ROW(logical_and, logical, "LogicalAnd"),
    /* the condition, then the values for true and for false */
    [TFJS_OP_SELECT] = {.names = {"Select", "SelectV2"},
                        .min_inputs = 3,
                        .max_inputs = 3,
                        .foldable = true,
                        .infer = tfjs_infer_select,
                        .exec = exec_select},
    /* the input's shape, known when the graph is planned */
    [TFJS_OP_SHAPE] = {.names = {"Shape"},
                       .min_inputs = 1,
                       .max_inputs = 1,
                       .foldable = true,
                       .shape_only = true,
                       .infer = tfjs_infer_shape,
                       .exec = tfjs_exec_shape},
    [TFJS_OP_SIZE] = {.names = {"Size"},
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .foldable = true,
                      .shape_only = true,
                      .infer = tfjs_infer_size,
                      .exec = tfjs_exec_size},
    /* start, limit, delta: constants, so the length is known */
    [TFJS_OP_RANGE] = {.names = {"Range"},
                       .min_inputs = 3,
                       .max_inputs = 3,
                       .foldable = true,
                       .parse = tfjs_parse_range,
                       .infer = tfjs_infer_range,
                       .exec = tfjs_exec_range},
    /* dims (a constant), value */
    [TFJS_OP_FILL] = {.names = {"Fill"},
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .foldable = true,
                      .infer = tfjs_infer_fill,
                      .exec = tfjs_exec_fill},
    /* input, begin, end, strides (constants) */
    [TFJS_OP_STRIDED_SLICE] = {.names = {"StridedSlice"},
                               .min_inputs = 4,
                               .max_inputs = 4,
                               .foldable = true,
                               .parse = tfjs_parse_strided_slice,
                               .infer = tfjs_infer_strided_slice,
                               .exec = tfjs_exec_strided_slice},
    /* the axis (a constant), then the input */
    [TFJS_OP_SPLIT] = {.names = {"Split"},
                       .min_inputs = 2,
                       .max_inputs = 2,
                       .foldable = true,
                       .outputs_attr = "num_split",
                       .parse = tfjs_parse_split,
                       .infer = tfjs_infer_split,
                       .exec = tfjs_exec_split},
    [TFJS_OP_TILE] = {.names = {"Tile"},
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .foldable = true,
                      .infer = tfjs_infer_tile,
                      .exec = tfjs_exec_tile},
    /* the input, then the axes (a constant) */
    [TFJS_OP_MAX] = {.names = {"Max"},
                     .min_inputs = 2,
                     .max_inputs = 2,
                     .foldable = true,
                     .parse = tfjs_parse_reduce,
                     .infer = tfjs_infer_reduce,
                     .exec = tfjs_exec_max},
    [TFJS_OP_SUM] = {.names = {"Sum"},
                     .min_inputs = 2,
                     .max_inputs = 2,
                     .foldable = true,
                     .parse = tfjs_parse_reduce,
                     .infer = tfjs_infer_reduce,
                     .exec = tfjs_exec_sum},
    [TFJS_OP_MAXPOOL] = {.names = {"MaxPool"},
                         .min_inputs = 1,
                         .max_inputs = 1,
                         .foldable = true,
                         .parse = tfjs_parse_maxpool,
                         .infer = tfjs_infer_maxpool,
                         .exec = tfjs_exec_maxpool},
    /* the input, then k (a constant); values and int32 indices out */
    [TFJS_OP_TOPK] = {.names = {"TopKV2"},
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .foldable = true,
                      .n_outputs = 2,
                      .parse = tfjs_parse_topk,
                      .infer = tfjs_infer_topk,
                      .exec = tfjs_exec_topk},
};
_Static_assert(ARRAY_SIZE(tfjs_ops) == TFJS_OP_COUNT, "tfjs_ops needs one row per enum tfjs_op");
