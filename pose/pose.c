/* pose: MoveNet SinglePose on the TensorFlow.js runner, with the per-stream
 * tracking crop of docs/MODEL.md section 2. */
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

struct pose_model {
    struct tfjs_model *graph;
    int size;
};

struct pose_context {
    const struct pose_model *model;
    struct tfjs_context *run;
    bool tracking;
    struct pose_region next; /* valid when tracking */
    int track_w, track_h;    /* frame size the tracked region belongs to */
};

int pose_model_load(const char *json_path, struct pose_model **ret_model, struct errbuf *err)
{
    return pose_model_load_opts(json_path, NULL, ret_model, err);
}

int pose_model_load_opts(const char *json_path, const struct pose_options *options,
                         struct pose_model **ret_model, struct errbuf *err)
{
    struct tfjs_options graph_options = {.no_avx512 = options && options->no_avx512};
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
    if (in.rank != 4 || in.dims[0] != 1 || in.dims[1] != in.dims[2] || in.dims[3] != 3 ||
        in.dims[1] < 16 || in_type != TFJS_INT32) {
        r = errbuf_set(err, -EBADMSG, "%s: input is not int32 [1,S,S,3]", json_path);
        goto fail;
    }
    if (tfjs_shape_size(&out) != POSE_NUM_KEYPOINTS * 3 || out_type != TFJS_FLOAT32 ||
        out.dims[out.rank - 1] != 3) {
        r = errbuf_set(err, -EBADMSG, "%s: output is not float32 [1,1,17,3]", json_path);
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

double pose_model_gflops(const struct pose_model *model, double *ret_dense)
{
    double dense, total = tfjs_model_flops(model->graph, &dense, NULL);

    if (ret_dense)
        *ret_dense = dense / 1e9;
    return total / 1e9;
}

const char *pose_model_kernels(const struct pose_model *model)
{
    static __thread char text[64];

    if (tfjs_model_packed(model->graph))
        return "AVX-512 GEMM";
    snprintf(text, sizeof(text), "OpenBLAS %s", blas_core_name());
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

void pose_resize_rgb(int32_t *out, int size, const uint8_t *rgb, int width, int height, int stride,
                     const struct pose_region *region)
{
    double scale = region->side / size;

    for (int oy = 0; oy < size; oy++) {
        double sy = region->y0 + (oy + 0.5) * scale - 0.5;
        int y0 = (int)floor(sy);
        float fy = (float)(sy - y0);
        bool out_y = sy < -0.5 || sy > height - 0.5;
        for (int ox = 0; ox < size; ox++) {
            double sx = region->x0 + (ox + 0.5) * scale - 0.5;
            int x0 = (int)floor(sx);
            float fx = (float)(sx - x0);
            int32_t *o = out + ((size_t)oy * size + ox) * 3;
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
