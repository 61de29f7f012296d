/* pose: MoveNet on the TensorFlow.js runner — SinglePose with the per-stream
 * tracking crop of docs/MODEL.md section 2, and MultiPose (section 8) on the
 * whole frame letterboxed, with a plan per input size. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "pose.h"
#include "tfjs.h"

enum {
    KP_LEFT_SHOULDER = 5,
    KP_RIGHT_SHOULDER = 6,
    KP_LEFT_HIP = 11,
    KP_RIGHT_HIP = 12,
};

/* Tracking crop: half-side = max(TORSO x torso extent, BODY x body extent). */
#define POSE_TORSO_FACTOR         1.9f
#define POSE_BODY_FACTOR          1.2f
#define POSE_PERSON_MIN_KEYPOINTS 5

/* Plans a context keeps for a multi-person model besides the one of the
 * model's own size: a stream uses one size; a few cover a tool that tries
 * sides or a camera whose resolution changes. */
#define POSE_PLAN_CACHE 4

struct pose_model {
    struct tfjs_model *graph;
    int size;
    bool multi;
};

/* A multi-person plan for one input size and its arena. */
struct pose_plan {
    int in_w, in_h; /* 0: unused */
    struct tfjs_model *graph;
    struct tfjs_context *run;
    uint64_t used; /* for evicting the least recently used */
};

struct pose_context {
    const struct pose_model *model;
    struct tfjs_context *run; /* the model's own plan */
    bool tracking;
    struct pose_region next; /* valid when tracking */
    int track_w, track_h;    /* frame size the tracked region belongs to */
    struct pose_plan plans[POSE_PLAN_CACHE];
    uint64_t clock;
};

int pose_model_load(const char *json_path, struct pose_model **ret_model, struct errbuf *err)
{
    return pose_model_load_opts(json_path, NULL, ret_model, err);
}

int pose_model_load_opts(const char *json_path, const struct pose_options *options,
                         struct pose_model **ret_model, struct errbuf *err)
{
    struct tfjs_options graph_options = {.max_isa = options ? options->max_isa : POSE_ISA_BEST};
    struct pose_model *m;
    struct tfjs_shape in, out;
    enum tfjs_dtype in_type, out_type;
    int r;

    m = calloc(1, sizeof(*m));
    if (!m)
        return errbuf_set(err, -ENOMEM, "%s: out of memory", json_path);
    r = tfjs_model_load(json_path, &graph_options, &m->graph, err);
    if (r < 0)
        goto fail;
    tfjs_model_value_info(m->graph, tfjs_model_input(m->graph), &in, &in_type);
    tfjs_model_value_info(m->graph, tfjs_model_output(m->graph), &out, &out_type);
    static const struct tfjs_shape single = {4, {1, 1, POSE_NUM_KEYPOINTS, 3}};
    static const struct tfjs_shape multi = {3, {1, POSE_MAX_PEOPLE, POSE_PEOPLE_STRIDE}};
    char shape[64];
    m->multi = tfjs_shape_equal(&out, &multi);
    if ((!m->multi && !tfjs_shape_equal(&out, &single)) || out_type != TFJS_FLOAT32) {
        tfjs_shape_format(shape, sizeof(shape), &out);
        r = errbuf_set(err, -EBADMSG,
                       "%s: output %s %s is neither a single person (float32 [1,1,17,3]) nor "
                       "MultiPose's people (float32 [1,6,56])",
                       json_path, out_type == TFJS_FLOAT32 ? "float32" : "int32", shape);
        goto fail;
    }
    /* a single-person graph has one fixed square size; MultiPose takes any
     * height and width (planned per size) */
    bool square = in.rank == 4 && in.dims[1] == in.dims[2] && in.dims[1] >= 16;
    bool free_hw = tfjs_model_input_dynamic(m->graph);
    if (in.rank != 4 || in.dims[0] != 1 || in.dims[3] != 3 || in_type != TFJS_INT32 ||
        (m->multi ? !free_hw : !square || free_hw)) {
        tfjs_shape_format(shape, sizeof(shape), &in);
        r = errbuf_set(err, -EBADMSG, "%s: input %s is not int32 %s", json_path, shape,
                       m->multi ? "[1,H,W,3] with H and W free" : "[1,S,S,3]");
        goto fail;
    }
    m->size = in.dims[1];
    *ret_model = m;
    return 0;
fail:
    pose_model_free(m);
    return r;
}

struct pose_model *pose_model_free(struct pose_model *model)
{
    if (!model)
        return NULL;
    tfjs_model_free(model->graph);
    free(model);
    return NULL;
}

int pose_model_input_size(const struct pose_model *model)
{
    return model->size;
}

bool pose_model_is_multi(const struct pose_model *model)
{
    return model->multi;
}

double pose_model_gflops(const struct pose_model *model, double *ret_dense)
{
    double dense, total = tfjs_model_flops(model->graph, &dense, NULL);

    if (ret_dense)
        *ret_dense = dense / 1e9;
    return total / 1e9;
}

static const char *const pose_isa_names[] = {
    [POSE_ISA_BEST] = "best", [POSE_ISA_PORTABLE] = "portable", [POSE_ISA_NEON] = "neon",
    [POSE_ISA_AVX2] = "avx2", [POSE_ISA_AVX512] = "avx512",
};

int pose_isa_parse(const char *name, enum pose_isa *ret_isa)
{
    for (size_t i = 0; i < ARRAY_SIZE(pose_isa_names); i++)
        if (name && strcmp(name, pose_isa_names[i]) == 0) {
            *ret_isa = (enum pose_isa)i;
            return 0;
        }
    return -EINVAL;
}

const char *pose_isa_name(enum pose_isa isa)
{
    return (size_t)isa < ARRAY_SIZE(pose_isa_names) ? pose_isa_names[isa] : "?";
}

enum pose_isa pose_model_isa(const struct pose_model *model)
{
    return tfjs_model_isa(model->graph);
}

const char *pose_model_kernels(const struct pose_model *model)
{
    static __thread char text[64];
    enum pose_isa isa = tfjs_model_isa(model->graph);

    if (tfjs_model_packed(model->graph))
        return isa == POSE_ISA_AVX512 ? "AVX-512 GEMM" : "AVX2 GEMM";
    snprintf(text, sizeof(text), "OpenBLAS %s%s", blas_core_name(),
             isa == POSE_ISA_NEON ? ", NEON depthwise" : "");
    return text;
}

int pose_context_new(const struct pose_model *model, struct pose_context **ret_context,
                     struct errbuf *err)
{
    struct pose_context *c = calloc(1, sizeof(*c));
    int r;

    if (!c)
        return errbuf_set(err, -ENOMEM, "pose context: out of memory");
    c->model = model;
    r = tfjs_context_new(model->graph, false, &c->run, err);
    if (r < 0) {
        free(c);
        return r;
    }
    *ret_context = c;
    return 0;
}

struct pose_context *pose_context_free(struct pose_context *context)
{
    if (!context)
        return NULL;
    for (int i = 0; i < POSE_PLAN_CACHE; i++) {
        tfjs_context_free(context->plans[i].run);
        tfjs_model_free(context->plans[i].graph);
    }
    tfjs_context_free(context->run);
    free(context);
    return NULL;
}

void pose_context_reset(struct pose_context *context)
{
    context->tracking = false;
}

void pose_region_full(struct pose_region *ret_region, int width, int height)
{
    float side = (float)(width > height ? width : height);

    ret_region->side = side;
    ret_region->x0 = ((float)width - side) / 2;
    ret_region->y0 = ((float)height - side) / 2;
}

static bool seen(const struct pose_result *r, int k)
{
    return r->keypoints[k].score >= POSE_MIN_SCORE;
}

/* Places a square of side s centred on c along one axis of length len: inside
 * [0, len] when it fits, centred on the frame when it does not. */
static float place(float c, float side, float len)
{
    if (side >= len)
        return (len - side) / 2;
    float x0 = c - side / 2;
    if (x0 < 0)
        x0 = 0;
    if (x0 > len - side)
        x0 = len - side;
    return x0;
}

bool pose_region_track(struct pose_region *ret_region, const struct pose_result *result, int width,
                       int height)
{
    float w = (float)width, h = (float)height;
    float cx, cy;

    if (seen(result, KP_LEFT_HIP) && seen(result, KP_RIGHT_HIP)) {
        cx = (result->keypoints[KP_LEFT_HIP].x + result->keypoints[KP_RIGHT_HIP].x) / 2 * w;
        cy = (result->keypoints[KP_LEFT_HIP].y + result->keypoints[KP_RIGHT_HIP].y) / 2 * h;
    } else if (seen(result, KP_LEFT_SHOULDER) && seen(result, KP_RIGHT_SHOULDER)) {
        cx = (result->keypoints[KP_LEFT_SHOULDER].x + result->keypoints[KP_RIGHT_SHOULDER].x) / 2 *
             w;
        cy = (result->keypoints[KP_LEFT_SHOULDER].y + result->keypoints[KP_RIGHT_SHOULDER].y) / 2 *
             h;
    } else {
        return false;
    }

    static const int torso[] = {KP_LEFT_SHOULDER, KP_RIGHT_SHOULDER, KP_LEFT_HIP, KP_RIGHT_HIP};
    float torso_range = 0, body_range = 0;
    int count = 0;
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        if (!seen(result, k))
            continue;
        float dx = fabsf(result->keypoints[k].x * w - cx);
        float dy = fabsf(result->keypoints[k].y * h - cy);
        float d = dx > dy ? dx : dy;
        body_range = d > body_range ? d : body_range;
        count++;
        for (size_t t = 0; t < ARRAY_SIZE(torso); t++)
            if (torso[t] == k && d > torso_range)
                torso_range = d;
    }
    if (count < POSE_PERSON_MIN_KEYPOINTS)
        return false;
    float half = fmaxf(POSE_TORSO_FACTOR * torso_range, POSE_BODY_FACTOR * body_range);
    float longest = w > h ? w : h;
    half = fmaxf(half, 0.05f * longest);
    if (2 * half >= longest)
        return false;
    ret_region->side = 2 * half;
    ret_region->x0 = place(cx, 2 * half, w);
    ret_region->y0 = place(cy, 2 * half, h);
    return true;
}

static inline float sample(const uint8_t *rgb, int width, int height, int stride, int x, int y,
                           int ch)
{
    x = x < 0 ? 0 : x >= width ? width - 1 : x;
    y = y < 0 ? 0 : y >= height ? height - 1 : y;
    return rgb[(size_t)y * stride + (size_t)x * 3 + ch];
}

static void resize_rgb_rect(int32_t *out, int out_width, int out_height, const uint8_t *rgb,
                            int width, int height, int stride, double x_start, double y_start,
                            double step);

void pose_resize_rgb(int32_t *out, int size, const uint8_t *rgb, int width, int height, int stride,
                     const struct pose_region *region)
{
    resize_rgb_rect(out, size, size, rgb, width, height, stride, region->x0, region->y0,
                    region->side / size);
}

/* Into an out_width x out_height tensor whose pixel i samples the frame at
 * x_start + (i + 0.5) * step - 0.5 (and likewise y). */
static void resize_rgb_rect(int32_t *out, int out_width, int out_height, const uint8_t *rgb,
                            int width, int height, int stride, double x_start, double y_start,
                            double step)
{
    for (int oy = 0; oy < out_height; oy++) {
        double sy = y_start + (oy + 0.5) * step - 0.5;
        int y0 = (int)floor(sy);
        float fy = (float)(sy - y0);
        bool out_y = sy < -0.5 || sy > height - 0.5;
        for (int ox = 0; ox < out_width; ox++) {
            double sx = x_start + (ox + 0.5) * step - 0.5;
            int x0 = (int)floor(sx);
            float fx = (float)(sx - x0);
            int32_t *o = out + ((size_t)oy * out_width + ox) * 3;
            if (out_y || sx < -0.5 || sx > width - 0.5) {
                o[0] = o[1] = o[2] = 0;
                continue;
            }
            for (int ch = 0; ch < 3; ch++) {
                float tl = sample(rgb, width, height, stride, x0, y0, ch);
                float tr = sample(rgb, width, height, stride, x0 + 1, y0, ch);
                float bl = sample(rgb, width, height, stride, x0, y0 + 1, ch);
                float br = sample(rgb, width, height, stride, x0 + 1, y0 + 1, ch);
                float top = tl + (tr - tl) * fx, bot = bl + (br - bl) * fx;
                o[ch] = (int32_t)lrintf(top + (bot - top) * fy);
            }
        }
    }
}

void pose_run_tensor(struct pose_context *context, const int32_t *input,
                     float out[POSE_NUM_KEYPOINTS * 3])
{
    const struct tfjs_model *g = context->model->graph;
    size_t n = (size_t)context->model->size * context->model->size * 3;
    int32_t *in = tfjs_context_input(context->run);

    if (input != in)
        memcpy(in, input, n * sizeof(*in));
    tfjs_context_run(context->run);
    memcpy(out, tfjs_context_value(context->run, tfjs_model_output(g)),
           POSE_NUM_KEYPOINTS * 3 * sizeof(float));
}

int pose_run(struct pose_context *context, const uint8_t *rgb, int width, int height, int stride,
             struct pose_result *ret_result, struct errbuf *err)
{
    struct pose_result res = {0};
    float out[POSE_NUM_KEYPOINTS * 3];
    int size = context->model->size;
    int seen_count = 0;
    float sum = 0;

    if (!rgb || width < 1 || height < 1 || stride < 3 * width)
        return errbuf_set(err, -EINVAL, "pose: bad frame %dx%d, stride %d", width, height, stride);
    if (context->model->multi)
        return errbuf_set(err, -EINVAL,
                          "pose: pose_run needs a single-person model; "
                          "MultiPose runs through pose_run_people");
    if (context->tracking && context->track_w == width && context->track_h == height)
        res.crop = context->next;
    else
        pose_region_full(&res.crop, width, height);
    pose_resize_rgb(tfjs_context_input(context->run), size, rgb, width, height, stride, &res.crop);
    pose_run_tensor(context, tfjs_context_input(context->run), out);
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        struct pose_keypoint *kp = &res.keypoints[k];
        /* clamped: a keypoint the model puts in the black letterbox band
         * (or past the crop) is reported on the frame's edge */
        kp->y = fminf(fmaxf((res.crop.y0 + out[3 * k] * res.crop.side) / (float)height, 0), 1);
        kp->x = fminf(fmaxf((res.crop.x0 + out[3 * k + 1] * res.crop.side) / (float)width, 0), 1);
        kp->score = out[3 * k + 2];
        sum += kp->score;
        seen_count += kp->score >= POSE_MIN_SCORE;
    }
    res.score = sum / POSE_NUM_KEYPOINTS;
    res.person = seen_count >= POSE_PERSON_MIN_KEYPOINTS;
    context->tracking = res.person && pose_region_track(&context->next, &res, width, height);
    context->track_w = width;
    context->track_h = height;
    *ret_result = res;
    return 0;
}

/* ---- several people ---------------------------------------------------------- */

int pose_people_input_size(int width, int height, int side, int *ret_in_width, int *ret_in_height,
                           struct errbuf *err)
{
    if (side < POSE_PEOPLE_MIN_SIDE || side > POSE_PEOPLE_MAX_SIDE || side % 32)
        return errbuf_set(err, -EINVAL, "pose: side %d: must be a multiple of 32 from %d to %d",
                          side, POSE_PEOPLE_MIN_SIDE, POSE_PEOPLE_MAX_SIDE);
    if (width < 1 || height < 1)
        return errbuf_set(err, -EINVAL, "pose: bad frame %dx%d", width, height);
    int longest = width > height ? width : height, shortest = width > height ? height : width;
    /* the short side in proportion, rounded up so that nothing is cut */
    long long scaled = ((long long)shortest * side + longest - 1) / longest;
    int rounded = (int)((scaled + 31) / 32 * 32);
    if (rounded < 32)
        rounded = 32;
    *ret_in_width = width >= height ? side : rounded;
    *ret_in_height = width >= height ? rounded : side;
    return 0;
}

/* The plan of a multi-person model for one input size: the model's own, a
 * cached one, or a new one in the least recently used slot. */
static int context_plan(struct pose_context *c, int in_w, int in_h, struct tfjs_context **ret_run,
                        const struct tfjs_model **ret_graph, struct errbuf *err)
{
    const struct pose_model *m = c->model;
    struct tfjs_shape own;
    struct pose_plan *slot = &c->plans[0];

    tfjs_model_value_info(m->graph, tfjs_model_input(m->graph), &own, NULL);
    if (own.dims[1] == in_h && own.dims[2] == in_w) {
        *ret_run = c->run;
        *ret_graph = m->graph;
        return 0;
    }
    for (int i = 0; i < POSE_PLAN_CACHE; i++) {
        struct pose_plan *p = &c->plans[i];
        if (p->in_w == in_w && p->in_h == in_h) {
            p->used = ++c->clock;
            *ret_run = p->run;
            *ret_graph = p->graph;
            return 0;
        }
        if (p->used < slot->used)
            slot = p;
    }
    struct tfjs_shape shape = {4, {1, in_h, in_w, 3}};
    struct tfjs_model *graph = NULL;
    struct tfjs_context *run = NULL;
    int r = tfjs_model_plan_input(m->graph, &shape, &graph, err);
    if (r < 0)
        return r;
    r = tfjs_context_new(graph, false, &run, err);
    if (r < 0) {
        tfjs_model_free(graph);
        return r;
    }
    tfjs_context_free(slot->run);
    tfjs_model_free(slot->graph);
    *slot = (struct pose_plan){in_w, in_h, graph, run, ++c->clock};
    *ret_run = run;
    *ret_graph = graph;
    return 0;
}

int pose_people_plan(struct pose_context *context, int in_width, int in_height, double *ret_gflops,
                     double *ret_dense, struct errbuf *err)
{
    struct tfjs_context *run;
    const struct tfjs_model *graph;
    double dense;

    if (!context->model->multi)
        return errbuf_set(err, -EINVAL, "pose: not a multi-person model");
    if (in_width < 32 || in_height < 32 || in_width % 32 || in_height % 32 ||
        in_width > POSE_PEOPLE_MAX_SIDE || in_height > POSE_PEOPLE_MAX_SIDE)
        return errbuf_set(err, -EINVAL, "pose: input %dx%d: sides must be multiples of 32 up to %d",
                          in_width, in_height, POSE_PEOPLE_MAX_SIDE);
    int r = context_plan(context, in_width, in_height, &run, &graph, err);
    if (r < 0)
        return r;
    double total = tfjs_model_flops(graph, &dense, NULL);
    if (ret_gflops)
        *ret_gflops = total / 1e9;
    if (ret_dense)
        *ret_dense = dense / 1e9;
    return 0;
}

int pose_run_people_tensor(struct pose_context *context, const int32_t *input, int in_width,
                           int in_height, float out[POSE_MAX_PEOPLE * POSE_PEOPLE_STRIDE],
                           struct errbuf *err)
{
    struct tfjs_context *run;
    const struct tfjs_model *graph;
    int r = pose_people_plan(context, in_width, in_height, NULL, NULL, err);

    if (r < 0)
        return r;
    r = context_plan(context, in_width, in_height, &run, &graph, err);
    if (r < 0)
        return r;
    int32_t *in = tfjs_context_input(run);
    if (input != in)
        memcpy(in, input, (size_t)in_width * in_height * 3 * sizeof(*in));
    tfjs_context_run(run);
    memcpy(out, tfjs_context_value(run, tfjs_model_output(graph)),
           POSE_MAX_PEOPLE * POSE_PEOPLE_STRIDE * sizeof(float));
    return 0;
}

/* The whole frame centred in the input at the scale that fits it: frame
 * pixels per input pixel, and where the input's corner falls in the frame. */
static void letterbox_geometry(int in_w, int in_h, int width, int height, double *ret_step,
                               double *ret_x0, double *ret_y0)
{
    double sw = (double)width / in_w, sh = (double)height / in_h;
    double step = sw > sh ? sw : sh;

    *ret_step = step;
    *ret_x0 = (width - in_w * step) / 2;
    *ret_y0 = (height - in_h * step) / 2;
}

void pose_letterbox_rgb(int32_t *out, int in_width, int in_height, const uint8_t *rgb, int width,
                        int height, int stride)
{
    double step, x0, y0;

    letterbox_geometry(in_width, in_height, width, height, &step, &x0, &y0);
    resize_rgb_rect(out, in_width, in_height, rgb, width, height, stride, x0, y0, step);
}

static float clamp01(float x)
{
    return fminf(fmaxf(x, 0), 1);
}

/* A single-person model's result as a person boxed by its seen keypoints. */
static int people_from_single(struct pose_context *c, const uint8_t *rgb, int width, int height,
                              int stride, struct pose_person *people, int *ret_n,
                              struct errbuf *err)
{
    struct pose_result res;
    int r = pose_run(c, rgb, width, height, stride, &res, err);

    if (r < 0)
        return r;
    if (!res.person) {
        *ret_n = 0;
        return 0;
    }
    struct pose_person *p = &people[0];
    p->box[0] = p->box[1] = 1;
    p->box[2] = p->box[3] = 0;
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        p->keypoints[k] = res.keypoints[k];
        if (!seen(&res, k))
            continue;
        p->box[0] = fminf(p->box[0], res.keypoints[k].x);
        p->box[1] = fminf(p->box[1], res.keypoints[k].y);
        p->box[2] = fmaxf(p->box[2], res.keypoints[k].x);
        p->box[3] = fmaxf(p->box[3], res.keypoints[k].y);
    }
    p->score = res.score;
    *ret_n = 1;
    return 0;
}

int pose_run_people(struct pose_context *context, const uint8_t *rgb, int width, int height,
                    int stride, int side, struct pose_person *ret_people, int *ret_n,
                    struct errbuf *err)
{
    struct tfjs_context *run;
    const struct tfjs_model *graph;
    float out[POSE_MAX_PEOPLE * POSE_PEOPLE_STRIDE];
    int in_w, in_h, n = 0;

    if (!rgb || width < 1 || height < 1 || stride < 3 * width)
        return errbuf_set(err, -EINVAL, "pose: bad frame %dx%d, stride %d", width, height, stride);
    int r = pose_people_input_size(width, height, side, &in_w, &in_h, err);
    if (r < 0)
        return r;
    if (!context->model->multi)
        return people_from_single(context, rgb, width, height, stride, ret_people, ret_n, err);
    r = context_plan(context, in_w, in_h, &run, &graph, err);
    if (r < 0)
        return r;
    double step, x0, y0;
    letterbox_geometry(in_w, in_h, width, height, &step, &x0, &y0);
    pose_letterbox_rgb(tfjs_context_input(run), in_w, in_h, rgb, width, height, stride);
    tfjs_context_run(run);
    memcpy(out, tfjs_context_value(run, tfjs_model_output(graph)), sizeof(out));
    /* the output is in 0..1 of the input tensor's height (y) and width (x) */
    float sx = (float)(in_w * step / width), sy = (float)(in_h * step / height);
    float ox = (float)(x0 / width), oy = (float)(y0 / height);
    for (int i = 0; i < POSE_MAX_PEOPLE; i++) {
        const float *o = out + i * POSE_PEOPLE_STRIDE;
        struct pose_person *p = &ret_people[n];
        if (!(o[55] >= POSE_MIN_SCORE))
            continue;
        for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
            p->keypoints[k].y = clamp01(oy + o[3 * k] * sy);
            p->keypoints[k].x = clamp01(ox + o[3 * k + 1] * sx);
            p->keypoints[k].score = o[3 * k + 2];
        }
        p->box[0] = clamp01(ox + o[52] * sx);
        p->box[1] = clamp01(oy + o[51] * sy);
        p->box[2] = clamp01(ox + o[54] * sx);
        p->box[3] = clamp01(oy + o[53] * sy);
        p->score = o[55];
        n++;
    }
    *ret_n = n;
    return 0;
}
