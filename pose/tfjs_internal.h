/* tfjs_internal: what the three parts of the TensorFlow.js runner share —
 * the graph's nodes and values, the model and context structs, and the op
 * descriptor table. tfjs_load.c parses the JSON and the weights,
 * tfjs_plan.c infers shapes and plans the arena, tfjs_ops.c holds the
 * kernels and the table. Private to pose/: tests and pose.c use tfjs.h. */
#ifndef CRTD_POSE_TFJS_INTERNAL_H
#define CRTD_POSE_TFJS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "conv.h"
#include "tfjs.h"

/* The ops the runner implements; tfjs_ops has one row per value. */
enum tfjs_op {
    TFJS_OP_CONST,
    TFJS_OP_PLACEHOLDER,
    TFJS_OP_IDENTITY,
    TFJS_OP_CAST,
    TFJS_OP_ADD,
    TFJS_OP_SUB,
    TFJS_OP_MUL,
    TFJS_OP_REALDIV,
    TFJS_OP_FLOORDIV,
    TFJS_OP_SQDIFF,
    TFJS_OP_MAXIMUM,
    TFJS_OP_MINIMUM,
    TFJS_OP_SQRT,
    TFJS_OP_SIGMOID,
    TFJS_OP_RELU,
    TFJS_OP_RELU6,
    TFJS_OP_CONV2D,
    TFJS_OP_DEPTHWISE,
    TFJS_OP_RESIZE_BILINEAR,
    TFJS_OP_RESHAPE,
    TFJS_OP_EXPAND_DIMS,
    TFJS_OP_SQUEEZE,
    TFJS_OP_UNPACK,
    TFJS_OP_PACK,
    TFJS_OP_CONCAT,
    TFJS_OP_ARGMAX,
    TFJS_OP_GATHER_ND,
    /* MoveNet MultiPose's decoding: element-wise (tfjs_ops.c) */
    TFJS_OP_ABS,
    TFJS_OP_EXP,
    TFJS_OP_RECIPROCAL,
    TFJS_OP_ADDN,
    TFJS_OP_EQUAL,
    TFJS_OP_GREATER,
    TFJS_OP_GREATER_EQUAL,
    TFJS_OP_LESS,
    TFJS_OP_LOGICAL_AND,
    TFJS_OP_SELECT,
    /* shapes, known at plan time (tfjs_shape_ops.c) */
    TFJS_OP_SHAPE,
    TFJS_OP_SIZE,
    TFJS_OP_RANGE,
    TFJS_OP_FILL,
    /* indexing and reductions (tfjs_index_ops.c) */
    TFJS_OP_STRIDED_SLICE,
    TFJS_OP_SPLIT,
    TFJS_OP_TILE,
    TFJS_OP_MAX,
    TFJS_OP_SUM,
    TFJS_OP_MAXPOOL,
    TFJS_OP_TOPK,
    TFJS_OP_COUNT,
};

struct tfjs_node {
    char *name;
    const char *op_name; /* as the graph spells it, for messages */
    enum tfjs_op op;
    int n_inputs;
    int *inputs; /* value indices; room for one more (a fused residual) */
    int first_output, n_outputs;
    int step; /* position in the run order, -1 when not run */
    bool folded;
    /* attributes, per op */
    bool same;
    int stride_h, stride_w;
    bool has_bias;
    enum conv_act act;
    int residual;   /* value added by a fused AddV2, or -1 */
    float *packed;  /* the filter packed for the AVX-512 GEMM, or NULL */
    int fused_dw;   /* Conv2D: the depthwise node it computes block by block, or -1 */
    int fused_into; /* depthwise: the Conv2D that computes it, or -1 */
    struct conv_geom geom;
    int oc;
    bool align_corners, half_pixel_centers;
    int axis, num;
    unsigned squeeze_mask;
    enum tfjs_dtype dst;
    /* StridedSlice: the masks as the graph gives them, then per input
     * dimension the first index and the step (the output's extent along it is
     * in geom-free form in slice_size) */
    int begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_mask;
    int slice_begin[TFJS_MAX_DIMS], slice_stride[TFJS_MAX_DIMS], slice_size[TFJS_MAX_DIMS];
    /* Max, Sum: the reduced input dimensions */
    bool keep_dims;
    unsigned reduce_mask;
    /* TopKV2 */
    int k;
    bool sorted;
    /* Tile */
    int reps[TFJS_MAX_DIMS];
};

struct tfjs_value {
    int node;
    struct tfjs_shape shape;
    enum tfjs_dtype dtype;
    size_t bytes;
    void *const_data; /* weights or a folded result */
    int root;         /* the value whose buffer this one shares */
    int last_use;
    int consumers;
    size_t off_reuse, off_all;
};

struct tfjs_model {
    int n_nodes;
    struct tfjs_node *nodes;
    int n_values;
    struct tfjs_value *values;
    int *sorted; /* node indices sorted by name, for lookups */
    int n_steps;
    int *order; /* node indices to run, in order */
    int input, output;
    float *weights; /* every weight, dequantised, one allocation */
    int n_folded;
    void **folded;
    size_t scratch_floats;
    size_t arena_reuse, arena_all;
    double flops_dense, flops_depthwise;
    int fused_adds;
    int fused_depthwise;
    enum pose_isa isa; /* the kernel set (conv_isa_pick of the load option), for plans made later */
    /* A graph whose Placeholder has unknown dims keeps its nodes and values
     * as read (before planning changed them) to plan other input sizes
     * (tfjs_model_plan_input); dynamic marks those dims. */
    unsigned dynamic;
    struct tfjs_node *proto_nodes;
    struct tfjs_value *proto_values;
    /* A plan made by tfjs_model_plan_input: names, weights, the sorted index
     * and packed filters belong to parent. */
    const struct tfjs_model *parent;
};

struct tfjs_context {
    const struct tfjs_model *model;
    void *arena;
    float *scratch;
    void **ptr; /* per value */
    bool keep_all;
};

/* ---- the op descriptor table (tfjs_ops.c) ------------------------------------ */

/* One row per op: what the loader, the planner and the runner do with a node
 * of that op. Inputs are counted after control edges ("^name") are dropped
 * and before a residual is fused into a convolution. */
struct tfjs_op_desc {
    /* The names graphs give the op ("Add" and "AddV2"), NULL after the last. */
    const char *names[3];
    /* Inputs: at least min_inputs and, unless max_inputs is -1, at most
     * max_inputs (checked before shape inference). */
    int min_inputs, max_inputs;
    /* The output can share input 0's buffer: it holds the same bytes. */
    bool alias;
    /* Run at load when every input is a constant, keeping the result. */
    bool foldable;
    /* Reads only its input's shape (Shape, Size): folded whatever the input,
     * and not a reader of the input's data. */
    bool shape_only;
    /* Outputs: the attribute that counts them ("num", "num_split"), else
     * n_outputs (0 meaning 1). */
    const char *outputs_attr;
    int n_outputs;
    /* Reads the node's attributes and checks that the runner supports them
     * (tfjs_load.c); NULL when the op has none. */
    int (*parse)(struct tfjs_node *n, json_t *jn, struct errbuf *err);
    /* Sets the output values' shapes and dtypes from the inputs, and what the
     * node's kernel needs (geometry, axis) (tfjs_plan.c). */
    int (*infer)(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
    /* Computes the outputs from ptr[] (one pointer per value). scratch holds
     * the model's scratch_floats; fuse lets a convolution compute the
     * depthwise convolution it was fused with. */
    void (*exec)(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr, float *scratch,
                 bool fuse);
};

extern const struct tfjs_op_desc tfjs_ops[];

/* attribute parsers (tfjs_load.c) */
int tfjs_parse_conv(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_resize(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_cast(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_unpack(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_pack(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_squeeze(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_strided_slice(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_reduce(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_maxpool(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_topk(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_split(struct tfjs_node *n, json_t *jn, struct errbuf *err);
int tfjs_parse_range(struct tfjs_node *n, json_t *jn, struct errbuf *err);

/* attribute readers, for the parsers in other files (tfjs_load.c) */
json_t *tfjs_node_attr(json_t *node, const char *name);
int tfjs_attr_int(json_t *node, const char *name, long long def, long long *ret);
bool tfjs_attr_bool(json_t *node, const char *name);
int tfjs_attr_int_list(json_t *node, const char *name, long long *out, int max);
int tfjs_attr_string(json_t *node, const char *name, char *buf, size_t size);
int tfjs_dtype_parse(const char *text, enum tfjs_dtype *ret);

/* shape rules (tfjs_plan.c) */
int tfjs_infer_source(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_identity(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_float(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_cast(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_binary(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_binary_float(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_conv(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_resize(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_reshape(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_expand_dims(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_squeeze(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_unpack(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_stack(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_argmax(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_gather_nd(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_compare(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_logical(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_addn(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_select(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_numeric(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_shape(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_size(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_range(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_fill(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_strided_slice(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_split(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_tile(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_reduce(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_maxpool(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);
int tfjs_infer_topk(struct tfjs_model *m, struct tfjs_node *n, struct errbuf *err);

/* kernels of the ops outside tfjs_ops.c (tfjs_shape_ops.c, tfjs_index_ops.c) */
typedef void tfjs_exec_fn(const struct tfjs_model *m, const struct tfjs_node *n, void **ptr,
                          float *scratch, bool fuse);
tfjs_exec_fn tfjs_exec_shape, tfjs_exec_size, tfjs_exec_range, tfjs_exec_fill;
tfjs_exec_fn tfjs_exec_strided_slice, tfjs_exec_split, tfjs_exec_tile, tfjs_exec_max, tfjs_exec_sum,
    tfjs_exec_maxpool, tfjs_exec_topk;

/* ---- shared helpers ------------------------------------------------------------ */

#define TFJS_ALIGN 64

static inline size_t tfjs_align_up(size_t n)
{
    return (n + TFJS_ALIGN - 1) & ~(size_t)(TFJS_ALIGN - 1);
}

static inline const char *tfjs_dtype_name(enum tfjs_dtype d)
{
    return d == TFJS_FLOAT32 ? "float32" : d == TFJS_INT32 ? "int32" : "bool";
}

/* A value known at plan time (a weight or a folded result) as int32 scalars
 * or a vector: its element count, or -ENOTSUP naming the node and what. */
int tfjs_const_ints(const struct tfjs_model *m, int v, const struct tfjs_node *n, const char *what,
                    const int32_t **ret, struct errbuf *err);

/* Row-major strides of a shape, in elements. */
void tfjs_shape_strides(const struct tfjs_shape *s, size_t *strides);

/* Shape inference, folding, fusion, filter packing and the arena plan of a
 * loaded graph (tfjs_plan.c). */
int tfjs_model_plan(struct tfjs_model *m, const struct tfjs_options *options, struct errbuf *err);
/* Keeps a graph's nodes and values as read, before tfjs_model_plan changes
 * them, for tfjs_model_plan_input (tfjs_plan.c). */
int tfjs_model_keep_proto(struct tfjs_model *m, struct errbuf *err);

#endif
