/* pipeline_real: one stream's recognition — FFmpeg decode and sampling at the
 * model's fps (video library), MoveNet pose with a tracking crop, pose
 * features (layout 1), and the CRT segment step with the stream's persistent
 * memory. Nothing is allocated per frame: the video frame buffer, the pose
 * arena and the segment workspace are made once per open. */
#include "pipeline.h"

#include <string.h>
#include <time.h>

#include "pose.h"
#include "crt.h"
#include "pipeline_internal.h"
#include "video.h"

struct real {
    const struct pipeline_model *model;
    struct video_stream *video;
    struct pose_context *pose;
    struct crt_stream *crt;
    struct features_state features;
    float feat[FEATURES_V1_DIM];
    float probs[PIPELINE_MAX_CLASSES];
    int person_frames;
    const atomic_bool *stop;
    bool pace; /* a file: played at its own speed, in a loop, like a camera */
    bool paced_any;
    double pace_wall0, pace_pts0;
    void *save_buf;
    size_t save_size;
};

/* Waits until a file's frame is due on the wall clock; -ECANCELED on stop. */
static int pace(struct real *p, double pts)
{
    if (!p->paced_any) {
        p->paced_any = true;
        p->pace_wall0 = time_wall_s();
        p->pace_pts0 = pts;
        return 0;
    }
    for (;;) {
        if (atomic_load(p->stop))
            return -ECANCELED;
        double wait = p->pace_wall0 + (pts - p->pace_pts0) - time_wall_s();
        if (wait <= 0)
            return 0;
        if (wait > 0.05)
            wait = 0.05;
        struct timespec ts = {0, (long)(wait * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static int real_step(void *impl, struct pipeline_result *ret, struct errbuf *err)
{
    struct real *p = impl;
    const struct crt_config *cfg = crt_model_config(p->model->crt);
    struct video_frame frame;
    struct pose_result pose;

    for (;;) {
        int r = video_stream_read(p->video, &frame, err);
        if (r < 0) {
            if (r == AVERROR_EOF)
                return errbuf_set(err, -ENODATA, "%s: end of file", video_stream_name(p->video));
            return r;
        }
        if (p->pace && (r = pace(p, frame.pts)) < 0)
            return r;
        r = pose_run(p->pose, frame.data, frame.width, frame.height, frame.stride, &pose, err);
        if (r < 0)
            return r;
        struct pose_keypoint kp[POSE_NUM_KEYPOINTS];
        for (int k = 0; k < POSE_NUM_KEYPOINTS; k++)
            kp[k] = (struct pose_keypoint){pose.keypoints[k].x, pose.keypoints[k].y,
                                           pose.keypoints[k].score};
        features_v1(p->feat, &p->features, pose.person ? kp : NULL);
        if (pose.person)
            p->person_frames++;
        if (crt_stream_push(p->crt, p->feat, NULL, p->probs) != 1)
            continue;

        /* A segment is complete. */
        struct video_stats stats;
        video_stream_stats(p->video, &stats);
        struct pipeline_result res = {.n_classes = (unsigned)cfg->n_classes};
        res.label = 0;
        for (int i = 0; i < cfg->n_classes; i++) {
            res.scores[i] = p->probs[i];
            if (p->probs[i] > p->probs[res.label])
                res.label = i;
        }
        /* Somebody is in view when seen in at least half of the frames. */
        res.person = 2 * p->person_frames >= cfg->segment_len;
        p->person_frames = 0;
        for (int k = 0; k < PIPELINE_KEYPOINTS; k++) {
            res.keypoints[k][0] = pose.keypoints[k].x;
            res.keypoints[k][1] = pose.keypoints[k].y;
            res.keypoints[k][2] = pose.keypoints[k].score;
        }
        res.pts = frame.pts;
        res.decoded_ns = frame.decoded_mono_ns;
        res.frames = stats.decoded;
        res.sampled = stats.sampled;
        res.dropped = stats.dropped;
        *ret = res;
        return 0;
    }
}

static void real_status(void *impl, struct pipeline_status *ret)
{
    struct real *p = impl;
    struct video_stats stats;
    video_stream_stats(p->video, &stats);
    ret->reconnecting = stats.state == VIDEO_STATE_BACKOFF;
    ret->reconnects = stats.reconnects;
    ret->next_attempt = stats.next_attempt_at;
    str_copy(ret->error, sizeof(ret->error), stats.last_error);
    ret->has_counts = true;
    ret->frames = stats.decoded;
    ret->sampled = stats.sampled;
    ret->dropped = stats.dropped;
}

static void real_interrupt(void *impl)
{
    struct real *p = impl;
    video_stream_stop(p->video);
}

static const char *real_memory_kind(void *impl)
{
    struct real *p = impl;
    return p->model->kind;
}

static int real_memory_save(void *impl, void **ret_data, size_t *ret_size)
{
    struct real *p = impl;
    size_t len = 0;
    void *copy;
    int r = crt_stream_save(p->crt, p->save_buf, p->save_size, &len);
    if (r < 0)
        return r;
    copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, p->save_buf, len);
    *ret_data = copy;
    *ret_size = len;
    return 0;
}

static int real_memory_restore(void *impl, const void *data, size_t size, struct errbuf *err)
{
    struct real *p = impl;
    return crt_stream_restore(p->crt, data, size, err);
}

static void real_free(void *impl)
{
    struct real *p = impl;
    if (!p)
        return;
    video_stream_free(p->video);
    pose_context_free(p->pose);
    crt_stream_free(p->crt);
    free(p->save_buf);
    free(p);
}

static const struct pipeline_ops real_ops = {
    .step = real_step,
    .memory_kind = real_memory_kind,
    .memory_save = real_memory_save,
    .memory_restore = real_memory_restore,
    .status = real_status,
    .interrupt = real_interrupt,
    .free = real_free,
};

int pipeline_real_open(const struct pipeline_model *model, const char *url,
                       const struct pipeline_source *source, const atomic_bool *stop,
                       const struct pipeline_ops **ret_ops, void **ret_impl, struct errbuf *err)
{
    struct video_options opts;
    struct real *p;
    int r;

    if (!pipeline_model_loaded(model))
        return errbuf_set(err, -ENOENT,
                          "no model is loaded (set model= and pose_model= in [daemon]); only "
                          "synthetic: test sources run without one");
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->model = model;
    p->stop = stop;
    features_state_init(&p->features);
    video_options_init(&opts);
    opts.fps = source->fps > 0 ? source->fps : crt_model_config(model->crt)->fps;
    if (source->timeout_s > 0)
        opts.open_timeout_s = opts.read_timeout_s = source->timeout_s;
    enum video_source_kind kind;
    if (video_source_kind_of(url, &kind, NULL) >= 0 && kind == VIDEO_SOURCE_FILE) {
        opts.reconnect = VIDEO_RECONNECT_ALWAYS;
        p->pace = true;
    }
    if ((r = video_stream_new(url, &opts, &p->video, err)) < 0 ||
        (r = pose_context_new(model->pose, &p->pose, err)) < 0)
        goto fail;
    if ((r = crt_stream_new(model->crt, &p->crt)) < 0) {
        errbuf_set(err, r, "segment model state: %s", strerror(-r));
        goto fail;
    }
    p->save_size = crt_stream_save_size(model->crt);
    p->save_buf = malloc(p->save_size);
    if (!p->save_buf) {
        r = -ENOMEM;
        goto fail;
    }
    /* A stop asked before the first read is seen by it. */
    if (atomic_load(stop))
        video_stream_stop(p->video);
    *ret_ops = &real_ops;
    *ret_impl = p;
    return 0;
fail:
    real_free(p);
    return r;
}
