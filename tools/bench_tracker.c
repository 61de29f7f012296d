/* crt bench tracker: the person tracker's cost per frame with 1 to 16 people
 * walking about, beside MoveNet's cost per frame measured in the same run
 * (the work the tracker rides on: a frame's budget). No tracker from another
 * project is reachable from this machine's package registries to stand
 * beside it, so the pose model is the reference. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "commands.h"
#include "pose.h"
#include "pose_cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt bench tracker [options]\n"
            "\n"
            "Times pose_tracker_update (pose/tracker.c) on one thread, in CPU time per frame,\n"
            "with 1, 2, 4, 6 and 16 people walking about a 10 fps scene with jittered\n"
            "keypoints, and MoveNet on the same thread in the same run as the reference.\n"
            "\n"
            "options:\n"
            "  --frames N        frames per measurement (default 20000)\n"
            "  --model NAME|FILE the pose model timed beside it: lightning (default),\n"
            "                    thunder, a model.json, or none\n"
            "  --json            the figures as JSON on stdout\n"
            "  -h, --help        this text\n");
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float jitter(uint64_t *s) /* roughly uniform in [-1, 1) */
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)(*s >> 40) / (float)(1 << 23) - 1.0f;
}

/* A standing person's keypoints around (cx, cy), height h. */
static void person_at(struct pose_person *p, float cx, float cy, float h, uint64_t *s)
{
    static const float body[POSE_NUM_KEYPOINTS][2] = {
        {0.00f, -0.45f},  {-0.02f, -0.47f}, {0.02f, -0.47f},  {-0.04f, -0.46f}, {0.04f, -0.46f},
        {-0.10f, -0.32f}, {0.10f, -0.32f},  {-0.13f, -0.15f}, {0.13f, -0.15f},  {-0.14f, 0.00f},
        {0.14f, 0.00f},   {-0.07f, 0.02f},  {0.07f, 0.02f},   {-0.07f, 0.25f},  {0.07f, 0.25f},
        {-0.07f, 0.48f},  {0.07f, 0.48f},
    };
    float x0 = 1, y0 = 1, x1 = 0, y1 = 0;
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++) {
        struct pose_keypoint *kp = &p->keypoints[k];
        kp->x = cx + body[k][0] * h + 0.004f * jitter(s);
        kp->y = cy + body[k][1] * h + 0.004f * jitter(s);
        kp->score = 0.6f + 0.3f * fabsf(jitter(s));
        x0 = fminf(x0, kp->x), y0 = fminf(y0, kp->y);
        x1 = fmaxf(x1, kp->x), y1 = fmaxf(y1, kp->y);
    }
    p->box[0] = x0, p->box[1] = y0, p->box[2] = x1, p->box[3] = y1;
    p->score = 0.7f;
}

/* CPU seconds per frame of the tracker with n people walking about. */
static double time_tracker(int n, int frames)
{
    struct pose_tracker_options o;
    struct pose_tracker *t;
    pose_tracker_options_default(&o);
    o.max_tracks = n > 6 ? n : 6;
    if (pose_tracker_new(&o, &t, NULL) < 0)
        return NAN;
    float x[POSE_TRACKER_MAX_DETECTIONS], y[POSE_TRACKER_MAX_DETECTIONS];
    float vx[POSE_TRACKER_MAX_DETECTIONS], vy[POSE_TRACKER_MAX_DETECTIONS];
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n; i++) {
        x[i] = 0.5f + 0.4f * jitter(&s), y[i] = 0.5f + 0.2f * jitter(&s);
        vx[i] = 0.01f * jitter(&s), vy[i] = 0.004f * jitter(&s);
    }
    struct pose_person dets[POSE_TRACKER_MAX_DETECTIONS];
    double spent = 0;
    for (int f = 0; f < frames; f++) {
        for (int i = 0; i < n; i++) {
            x[i] += vx[i], y[i] += vy[i];
            if (x[i] < 0.1f || x[i] > 0.9f)
                vx[i] = -vx[i];
            if (y[i] < 0.3f || y[i] > 0.7f)
                vy[i] = -vy[i];
            person_at(&dets[i], x[i], y[i], 0.35f, &s);
        }
        double t0 = cpu_now();
        pose_tracker_update(t, dets, n, f / 10.0);
        spent += cpu_now() - t0;
    }
    pose_tracker_free(t);
    return spent / frames;
}

/* CPU seconds per frame of the pose model on a fixed pseudo-random frame. */
static int time_pose(const char *path, double *ret_s, char *ret_desc, size_t desc_size,
                     struct errbuf *err)
{
    struct pose_model *m = NULL;
    struct pose_context *c = NULL;
    int r = pose_model_load(path, &m, err);
    if (r < 0)
        return r;
    if ((r = pose_context_new(m, &c, err)) < 0) {
        pose_model_free(m);
        return r;
    }
    int S = pose_model_input_size(m);
    int32_t *input = malloc((size_t)S * S * 3 * sizeof(int32_t));
    if (!input) {
        pose_context_free(c);
        pose_model_free(m);
        return -ENOMEM;
    }
    uint64_t s = 7;
    for (size_t i = 0; i < (size_t)S * S * 3; i++)
        input[i] = (int32_t)(128 + 127 * jitter(&s));
    float out[POSE_NUM_KEYPOINTS * 3];
    pose_run_tensor(c, input, out); /* warm-up */
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = cpu_now();
        for (int i = 0; i < 20; i++)
            pose_run_tensor(c, input, out);
        double per = (cpu_now() - t0) / 20;
        if (per < best)
            best = per;
    }
    snprintf(ret_desc, desc_size, "MoveNet %dx%d, %s", S, S, pose_model_kernels(m));
    *ret_s = best;
    free(input);
    pose_context_free(c);
    pose_model_free(m);
    return 0;
}

int bench_tracker(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"frames", required_argument, NULL, 'f'},
        {"model", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int frames = 20000, c;
    const char *model = "lightning";
    bool json = false;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            frames = atoi(optarg);
            if (frames < 100 || frames > 10000000) {
                cli_error("bench tracker", "--frames must be 100..10000000");
                return EXIT_USAGE;
            }
            break;
        case 'm':
            model = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_error("bench tracker", "unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }

    double pose_s = NAN;
    char pose_desc[128] = "none";
    if (strcmp(model, "none") != 0) {
        char path[4096];
        struct errbuf err = {0};
        int r = pose_cli_model_path(path, sizeof(path), model, NULL, &err);
        if (r == 0)
            r = time_pose(path, &pose_s, pose_desc, sizeof(pose_desc), &err);
        if (r < 0) {
            cli_error("bench tracker", "%s", errbuf_text(&err, r));
            return EXIT_FAILURE;
        }
    }

    static const int people[] = {1, 2, 4, 6, 16};
    double per[5];
    for (size_t i = 0; i < 5; i++) {
        fprintf(stderr, "crt bench tracker: %d people, %d frames...\n", people[i], frames);
        per[i] = time_tracker(people[i], frames);
    }
    if (json) {
        json_t *rows = json_array();
        for (size_t i = 0; i < 5; i++)
            json_array_append_new(
                rows, json_pack("{s:i, s:f}", "people", people[i], "us_per_frame", per[i] * 1e6));
        json_t *root = json_pack("{s:o, s:s, s:o}", "tracker", rows, "reference", pose_desc,
                                 "reference_ms_per_frame",
                                 isnan(pose_s) ? json_null() : json_real(pose_s * 1e3));
        char *text = json_dumps(root, JSON_INDENT(2));
        puts(text);
        free(text);
        json_decref(root);
        return 0;
    }
    printf("tracker (pose/tracker.c), CPU time per frame, one thread:\n");
    printf("  people   us/frame   share of the pose model's frame\n");
    for (size_t i = 0; i < 5; i++) {
        printf("  %6d   %8.2f", people[i], per[i] * 1e6);
        if (!isnan(pose_s))
            printf("   %6.3f%%", 100.0 * per[i] / pose_s);
        printf("\n");
    }
    if (!isnan(pose_s))
        printf("reference  %8.3f ms/frame  %s (same run, same thread)\n", pose_s * 1e3, pose_desc);
    return 0;
}
