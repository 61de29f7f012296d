/* supervisor_metrics: the supervisor's figures as text — the per-stream
 * families of /metrics (Prometheus text format) and systemd's STATUS= line. */
#include <string.h>

#include "data.h"
#include "supervisor_internal.h"

/* What /metrics shows of one stream, copied under the locks so that the
 * text is written without them: a scrape never holds a camera thread (or
 * another scrape) waiting on its printf. */
struct stream_metrics {
    char label[8 * API_NAME_MAX]; /* stream="..." and, when set, site="...", room="..." */
    double values[14];
    enum pipeline_gate gate;
    struct api_histogram latency;
};

/* The labels of a stream's series: stream, then site and room when the
 * stream has them (Prometheus reads a missing label as an empty one, so a
 * stream without them keeps the series it had). */
static void stream_labels(char *dst, size_t size, const struct config_stream *spec)
{
    char name[2 * API_NAME_MAX], site[2 * API_NAME_MAX], room[2 * API_NAME_MAX];
    api_text_label_escape(name, sizeof(name), spec->name);
    api_text_label_escape(site, sizeof(site), spec->site);
    api_text_label_escape(room, sizeof(room), spec->room);
    snprintf(dst, size, "stream=\"%s\"%s%s%s%s%s%s", name, spec->site[0] ? ",site=\"" : "", site,
             spec->site[0] ? "\"" : "", spec->room[0] ? ",room=\"" : "", room,
             spec->room[0] ? "\"" : "");
}

void supervisor_metrics(struct supervisor *sup, struct api_text *t)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"crtd_stream_frames_total", "counter", "Frames decoded."},
        {"crtd_stream_sampled_frames_total", "counter", "Frames sampled for the model."},
        {"crtd_stream_dropped_frames_total", "counter", "Frames dropped to keep up."},
        {"crtd_stream_segments_total", "counter", "Segments classified."},
        {"crtd_stream_reconnects_total", "counter", "Restarts of the stream's source."},
        {"crtd_stream_fps", "gauge", "Sampled frames per second achieved."},
        {"crtd_stream_up", "gauge", "1 while the stream is running."},
        {"crtd_stream_people", "gauge", "People in view (person tracks with an activity)."},
        {"crtd_stream_people_dropped_total", "counter",
         "Detections the per-stream cap on person tracks (max_people) turned away."},
        {"crtd_stream_gated_frames_total", "counter",
         "Sampled frames the motion gate found still."},
        {"crtd_stream_pose_frames_total", "counter", "Sampled frames given to pose."},
        {"crtd_stream_archive_bytes", "gauge", "Bytes of the stream's pose archive files."},
        {"crtd_stream_archive_records_total", "counter",
         "Track frames of keypoints written to the pose archive."},
        {"crtd_stream_archive_failed_writes_total", "counter",
         "Pose archive chunks that could not be written (their records dropped)."},
    };
    _Static_assert(ARRAY_SIZE(families) == ARRAY_SIZE(((struct stream_metrics *)0)->values),
                   "one value per family");

    pthread_mutex_lock(&sup->lock);
    size_t n = sup->n_streams;
    struct stream_metrics *m = n ? calloc(n, sizeof(*m)) : NULL;
    for (size_t i = 0; m && i < n; i++) {
        struct stream *st = sup->streams[i];
        stream_labels(m[i].label, sizeof(m[i].label), &st->spec);
        pthread_mutex_lock(&st->lock);
        struct pipeline_status status;
        struct shown shown = stream_shown_locked(st, &status);
        struct pose_archive_stats archive = {0};
        if (st->archive)
            pose_archive_stats(st->archive, &archive);
        double values[] = {(double)shown.frames,
                           (double)shown.sampled,
                           (double)shown.dropped,
                           (double)st->segments,
                           (double)shown.reconnects,
                           st->fps_measured,
                           (double)(shown.state == STREAM_RUNNING),
                           (double)stream_people_in_view_locked(st),
                           (double)st->people_dropped,
                           (double)shown.gated,
                           (double)shown.pose_frames,
                           (double)archive.bytes,
                           (double)archive.records,
                           (double)archive.failed_writes};
        memcpy(m[i].values, values, sizeof(values));
        m[i].gate = shown.gate;
        m[i].latency = st->latency;
        pthread_mutex_unlock(&st->lock);
    }
    pthread_mutex_unlock(&sup->lock);
    if (n && !m) {
        t->failed = true;
        return;
    }

    for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
        api_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                        families[f].name, families[f].type);
        for (size_t i = 0; i < n; i++)
            api_text_printf(t, "%s{%s} %.17g\n", families[f].name, m[i].label, m[i].values[f]);
    }
    /* A state set: one series per state, 1 for the stream's. */
    api_text_printf(t, "# HELP crtd_stream_gate_state What the motion gate does to pose: off, "
                       "moved, still (a person in view, pose at still_pose_fps), empty (no "
                       "pose).\n# TYPE crtd_stream_gate_state gauge\n");
    for (size_t i = 0; i < n; i++)
        for (int g = 0; g < PIPELINE_GATE_COUNT; g++)
            api_text_printf(t, "crtd_stream_gate_state{%s,state=\"%s\"} %d\n", m[i].label,
                            pipeline_gate_name((enum pipeline_gate)g),
                            m[i].gate == (enum pipeline_gate)g);
    api_text_printf(t, "# HELP crtd_activity_latency_seconds From the decode of a segment's last "
                       "frame to its published activity.\n"
                       "# TYPE crtd_activity_latency_seconds histogram\n");
    for (size_t i = 0; i < n; i++)
        api_histogram_write(&m[i].latency, t, "crtd_activity_latency_seconds", m[i].label);
    free(m);
}

void supervisor_status(struct supervisor *sup, char *dst, size_t size)
{
    size_t running = 0, total = 0;
    double fps = 0;
    pthread_mutex_lock(&sup->lock);
    for (size_t i = 0; i < sup->n_streams; i++) {
        struct stream *st = sup->streams[i];
        pthread_mutex_lock(&st->lock);
        struct pipeline_status status;
        struct shown shown = stream_shown_locked(st, &status);
        if (st->spec.enabled)
            total++;
        if (shown.state == STREAM_RUNNING) {
            running++;
            fps += st->fps_measured;
        }
        pthread_mutex_unlock(&st->lock);
    }
    pthread_mutex_unlock(&sup->lock);
    snprintf(dst, size, "%zu/%zu cameras online, %.1f fps", running, total, fps);
}
