/* pipeline_real: one stream's recognition — FFmpeg decode and sampling at the
 * model's fps (video library), MoveNet pose, person tracks (people.h)
 * each with its own pose features (layout 1) and its own CRT memory, all
 * stepped on the stream's segment clock. The motion gate (video library)
 * spares pose on the frames where nothing moved: none at all while nobody is
 * in view, still_pose_fps while someone is, the last detections held in
 * between (docs/SERVICE.md, "The motion gate"). Nothing is allocated per frame: the
 * video frame buffer, the pose arena and every track's segment workspace are
 * made once per open. */
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
    struct pose_model *own_pose; /* the stream's own pose_model, when it names one */
    struct pose_context *pose;
    int multipose_side;
    struct people *people;
    struct pose_archive *archive;             /* borrowed; NULL: none */
    struct pose_person dets[POSE_MAX_PEOPLE]; /* the last pose run's, held while still */
    int n_dets;
    bool gate;                         /* the motion gate is on, with conversion on demand */
    struct video_pose_gate pgate;      /* its verdicts (video library, as in crt classify) */
    atomic_uint_least64_t pose_frames; /* read by real_status from other threads */
    atomic_int gate_state;             /* enum pipeline_gate */
    const atomic_bool *stop;
    bool pace; /* a file: played at its own speed, in a loop, like a camera */
    bool paced_any;
    double pace_wall0, pace_pts0;
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

/* Who the tracker has: no track, tentative ones only, or a confirmed one
 * (someone is, or was a moment ago, in view). */
static enum video_pose_view tracked(const struct real *p)
{
    const struct pose_tracker *t = people_tracker(p->people);
    enum video_pose_view who = VIDEO_VIEW_NOBODY;
    for (int i = 0; i < pose_tracker_count(t); i++) {
        if (pose_tracker_track(t, i)->confirmed)
            return VIDEO_VIEW_PERSON;
        who = VIDEO_VIEW_TENTATIVE;
    }
    return who;
}

/* The gate's verdict on a frame: whether pose runs on it, and how many of
 * the detections go to the people library when it does not. */
static enum pipeline_gate gate_frame(const struct real *p, const struct video_frame *frame,
                                     bool *ret_pose, int *ret_held)
{
    static const enum pipeline_gate states[] = {
        [VIDEO_POSE_MOVED] = PIPELINE_GATE_MOVED,
        [VIDEO_POSE_STILL] = PIPELINE_GATE_STILL,
        [VIDEO_POSE_EMPTY] = PIPELINE_GATE_EMPTY,
    };
    bool hold;
    *ret_pose = true;
    *ret_held = 0;
    if (!p->gate)
        return PIPELINE_GATE_OFF;
    enum video_pose_verdict v =
        video_pose_gate_decide(&p->pgate, &frame->motion, frame->pts, tracked(p), ret_pose, &hold);
    *ret_held = hold ? p->n_dets : 0;
    return states[v];
}

static int real_step(void *impl, struct pipeline_result *ret, struct errbuf *err)
{
    struct real *p = impl;
    struct video_frame frame;

    for (;;) {
        int r = video_stream_read(p->video, &frame, err);
        if (r < 0) {
            if (r == AVERROR_EOF)
                return errbuf_set(err, -ENODATA, "%s: end of file", video_stream_name(p->video));
            return r;
        }
        if (p->pace && (r = pace(p, frame.pts)) < 0)
            return r;
        bool run;
        int n;
        enum pipeline_gate gate = gate_frame(p, &frame, &run, &n);
        atomic_store(&p->gate_state, (int)gate);
        if (run) {
            if (p->gate && (r = video_stream_convert(p->video, &frame, err)) < 0)
                return r;
            r = pose_run_people(p->pose, frame.data, frame.width, frame.height, frame.stride,
                                p->multipose_side, p->dets, &p->n_dets, err);
            if (r < 0)
                return r;
            n = p->n_dets;
            video_pose_gate_posed(&p->pgate, frame.pts);
            atomic_fetch_add(&p->pose_frames, 1);
        }
        /* A frame without pose still goes to the people library (empty, or
         * the held detections), so that the tracker's and the segments'
         * clocks run on. The result is large: it is filled in place, at a
         * segment's end only. */
        int done = pipeline_people_frame(p->people, p->dets, n, frame.pts, ret);
        pipeline_people_archive(p->people, p->archive, time_wall_s());
        if (done != 1)
            continue;

        struct video_stats stats;
        video_stream_stats(p->video, &stats);
        ret->pts = frame.pts;
        ret->decoded_ns = frame.decoded_mono_ns;
        ret->frames = stats.decoded;
        ret->sampled = stats.sampled;
        ret->dropped = stats.dropped;
        ret->gated = stats.gated;
        ret->pose_frames = atomic_load(&p->pose_frames);
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
    ret->transport =
        stats.transport != VIDEO_TRANSPORT_AUTO ? video_transport_name(stats.transport) : NULL;
    ret->next_attempt = stats.next_attempt_at;
    str_copy(ret->error, sizeof(ret->error), stats.last_error);
    ret->has_counts = true;
    ret->frames = stats.decoded;
    ret->sampled = stats.sampled;
    ret->dropped = stats.dropped;
    ret->gated = stats.gated;
    ret->pose_frames = atomic_load(&p->pose_frames);
    ret->gate = (enum pipeline_gate)atomic_load(&p->gate_state);
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
    return people_memory_save(p->people, time_wall_s(), ret_data, ret_size);
}

static int real_memory_restore(void *impl, const void *data, size_t size, struct errbuf *err)
{
    struct real *p = impl;
    return people_memory_restore(p->people, time_wall_s(), data, size, err);
}

static void real_free(void *impl)
{
    struct real *p = impl;
    if (!p)
        return;
    video_stream_free(p->video);
    pose_context_free(p->pose);
    pose_model_free(p->own_pose);
    people_free(p->people);
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
    p->archive = source ? source->archive : NULL;
    p->multipose_side = source->multipose_side ? (int)source->multipose_side : 256;
    if (source->video) {
        opts = *source->video;
    } else {
        video_options_init(&opts);
        if (source->timeout_s > 0)
            opts.open_timeout_s = opts.read_timeout_s = source->timeout_s;
    }
    opts.fps = source->fps > 0 ? source->fps : crt_model_config(model->crt)->fps;
    /* The gate runs on the decoded luma; only the frames pose gets are
     * converted to RGB. */
    if (source->still_pose_fps > 0) {
        p->gate = true;
        video_pose_gate_init(&p->pgate, source->still_pose_fps, opts.fps);
        opts.motion = true;
        opts.convert_on_demand = true;
    }
    atomic_init(&p->pose_frames, 0);
    atomic_init(&p->gate_state, p->gate ? PIPELINE_GATE_MOVED : PIPELINE_GATE_OFF);
    enum video_source_kind kind;
    if (video_source_kind_of(url, &kind, NULL) >= 0 && kind == VIDEO_SOURCE_FILE &&
        opts.reconnect == VIDEO_RECONNECT_AUTO) {
        opts.reconnect = VIDEO_RECONNECT_ALWAYS;
        p->pace = true;
    }
    /* A stream that names its own pose model loads it for itself. */
    const struct pose_model *pose = model->pose;
    if (source->pose_model && source->pose_model[0] &&
        strcmp(source->pose_model, model->pose_path) != 0) {
        /* under the same cap as the shared model (pose_isa= in [daemon]) */
        struct pose_options pose_options = {.max_isa = pose_model_isa(pose)};
        if ((r = pose_model_load_opts(source->pose_model, &pose_options, &p->own_pose, err)) < 0)
            goto fail;
        pose = p->own_pose;
    }
    if ((r = video_stream_new(url, &opts, &p->video, err)) < 0 ||
        (r = pose_context_new(pose, &p->pose, err)) < 0 ||
        (r = people_new(model->crt, source->max_people, &p->people, err)) < 0)
        goto fail;
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
