/* tfjs: a runner for TensorFlow.js graph models (model.json + weight shards),
 * private to pose/. The pose estimator (pose.c) is built on it; tests use it
 * directly to compare intermediate tensors with TensorFlow.js by node name.
 *
 * Loading parses the JSON (Jansson), reads and dequantises the weights once,
 * checks every node's op and attributes, orders the graph, infers every shape
 * (the input shape is fixed by the Placeholder), folds nodes whose inputs are
 * all constant, fuses what it can (bias and Relu/Relu6 inside convolutions, a
 * residual AddV2 into the convolution that produces one of its operands) and
 * plans buffer reuse. A context owns one arena sized by that plan: running it
 * allocates nothing. */
#ifndef CRTD_POSE_TFJS_H
#define CRTD_POSE_TFJS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "pose.h"

#define TFJS_MAX_DIMS 6

/* bool tensors (comparisons, LogicalAnd, Select's condition) are stored as
 * int32 0 or 1, so that every element is 4 bytes. */
enum tfjs_dtype {
    TFJS_FLOAT32,
    TFJS_INT32,
    TFJS_BOOL,
};

struct tfjs_shape {
    int rank;
    int dims[TFJS_MAX_DIMS];
};

struct tfjs_model;
struct tfjs_context;

/* How a model is loaded; all zero (or a NULL pointer) is the default. */
struct tfjs_options {
    /* The best kernel set the convolutions may use (pose_options.max_isa;
     * POSE_ISA_BEST: the best the CPU has). */
    enum pose_isa max_isa;
};

/* Loads json_path and the weight shards its manifest names (paths relative to
 * the JSON's directory). The graph's one Placeholder has a fixed shape, or
 * unknown (-1) dimensions that the signature's input shape fills for the plan
 * made at load (tfjs_model_plan_input makes plans for other sizes); its one
 * output is the node the signature names (else a node named "Identity"). -EBADMSG for a malformed
 * or inconsistent file, -ENOTSUP for an op or attribute the runner does not implement, with err
 * naming the node. options may be NULL. */
int tfjs_model_load(const char *json_path, const struct tfjs_options *options,
                    struct tfjs_model **ret_model, struct errbuf *err);
struct tfjs_model *tfjs_model_free(struct tfjs_model *model);

/* Whether the Placeholder has unknown dimensions (a graph such as MoveNet
 * MultiPose that takes any H and W). */
bool tfjs_model_input_dynamic(const struct tfjs_model *model);
/* A plan of graph for an input of this shape (only the unknown dimensions may
 * differ from the plan made at load): shapes, folding, fusions and the arena
 * made again, the weights and packed filters shared with graph, which must
 * outlive it. Free it with tfjs_model_free. -EINVAL naming the shape when the
 * Placeholder does not take it; the shape rules' errors otherwise. */
int tfjs_model_plan_input(const struct tfjs_model *graph, const struct tfjs_shape *input,
                          struct tfjs_model **ret_plan, struct errbuf *err);

/* The value (tensor slot) a TensorFlow name designates: "node" or "node:k".
 * Returns its index or -ENOENT. */
int tfjs_model_find(const struct tfjs_model *model, const char *name);
int tfjs_model_input(const struct tfjs_model *model);  /* value index */
int tfjs_model_output(const struct tfjs_model *model); /* value index */
void tfjs_model_value_info(const struct tfjs_model *model, int value, struct tfjs_shape *ret_shape,
                           enum tfjs_dtype *ret_dtype);
size_t tfjs_shape_size(const struct tfjs_shape *shape);
/* "[1,192,192,3]" for messages, truncated to size (tfjs_plan.c). */
void tfjs_shape_format(char *buf, size_t size, const struct tfjs_shape *s);

static inline bool tfjs_shape_equal(const struct tfjs_shape *a, const struct tfjs_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}
/* Multiply-adds times two of one run: convolutions, dense and depthwise. */
double tfjs_model_flops(const struct tfjs_model *model, double *ret_dense, double *ret_depthwise);
/* The kernel set the model's convolutions run on (conv_isa_pick of the
 * load option), and whether that is crtd's packed GEMM (else OpenBLAS). */
enum pose_isa tfjs_model_isa(const struct tfjs_model *model);
bool tfjs_model_packed(const struct tfjs_model *model);
/* Bytes of a context's arena (activations and scratch). */
size_t tfjs_model_arena_bytes(const struct tfjs_model *model, bool keep_all);
/* Counts of what the plan did, for docs and debugging. */
void tfjs_model_plan_stats(const struct tfjs_model *model, int *ret_steps, int *ret_folded,
                           int *ret_fused_adds);

/* A context runs the model; one per thread. With keep_all every value keeps
 * its own buffer, so that any intermediate tensor can be read after a run
 * (tests); otherwise buffers are reused and only the input and the output
 * stay readable. */
int tfjs_context_new(const struct tfjs_model *model, bool keep_all,
                     struct tfjs_context **ret_context, struct errbuf *err);
struct tfjs_context *tfjs_context_free(struct tfjs_context *context);

/* The input buffer to fill before a run (int32 or float32 per the model). */
void *tfjs_context_input(struct tfjs_context *context);
void tfjs_context_run(struct tfjs_context *context);
/* A value's data after a run, or NULL when its buffer was reused. */
const void *tfjs_context_value(const struct tfjs_context *context, int value);

#endif
