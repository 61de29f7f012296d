/* crt pose: MoveNet keypoints of every (sampled) frame of an image or a
 * video, as text or JSON lines, and optionally a picture of the frame with the
 * skeleton and the tracking crop drawn on it; with MultiPose, every person
 * with a box and a skeleton. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>

#include "commands.h"
#include "pose.h"
#include "pose_cli.h"
#include "video.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt pose [options] IMAGE_OR_VIDEO\n\n"
            "Run MoveNet on an image, or on a video's frames sampled at --fps, with the\n"
            "tracking crop carried from frame to frame; print 17 keypoints per frame (x, y\n"
            "in 0..1 of the whole frame, score 0..1) and whether a person is seen. With\n"
            "--model multipose, every person scored >= 0.2: a box, a score and 17 keypoints.\n\n"
            "options:\n"
            "  --model NAME|FILE  lightning (default), thunder, multipose, or a model.json\n"
            "  --side N           multipose: the input's long side, a multiple of 32 from 32\n"
            "                     to 640 (default 256; small, distant people need more)\n"
            "  --models DIR       where movenet-NAME.json lives (default: third_party/models)\n"
            "  --fps N            sample a video at N frames per second, by timestamp\n"
            "                     (default 10; 0 = every frame)\n"
            "  --max-frames N     stop after N processed frames\n"
            "  --no-track         look at every frame whole (no tracking crop)\n"
            "  --draw FILE.png    write the frame with the skeleton drawn on it; with %%d in\n"
            "                     the name, one picture per frame (%%d = 000000, 000001..),\n"
            "                     else the last frame\n"
            "  --threads N        OpenBLAS threads (default 1)\n"
            "  --json             one JSON object per frame on stdout (JSON "
            "lines)\n" POSE_CLI_ISA_HELP);
}

static const uint8_t color_limb[3] = {0, 220, 255};
static const uint8_t color_point[3] = {255, 40, 40};
static const uint8_t color_crop[3] = {255, 220, 0};

static void put(uint8_t *img, int w, int h, int stride, int x, int y, const uint8_t c[3])
{
    if (x < 0 || y < 0 || x >= w || y >= h)
        return;
    memcpy(img + (size_t)y * stride + (size_t)x * 3, c, 3);
}

static void disc(uint8_t *img, int w, int h, int stride, int cx, int cy, int r, const uint8_t c[3])
{
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (dx * dx + dy * dy <= r * r)
                put(img, w, h, stride, cx + dx, cy + dy, c);
}

static void line(uint8_t *img, int w, int h, int stride, float x0, float y0, float x1, float y1,
                 int r, const uint8_t c[3])
{
    int steps = (int)fmaxf(fabsf(x1 - x0), fabsf(y1 - y0)) + 1;

    if (steps > 20000)
        return;
    for (int i = 0; i <= steps; i++) {
        float t = (float)i / (float)steps;
        int x = (int)lrintf(x0 + (x1 - x0) * t), y = (int)lrintf(y0 + (y1 - y0) * t);
        if (r == 0)
            put(img, w, h, stride, x, y, c);
        else
            disc(img, w, h, stride, x, y, r, c);
    }
}

/* What one frame gave: the single person's result, or the people. */
struct frame_out {
    bool multi;
    struct pose_result res;
    struct pose_person people[POSE_MAX_PEOPLE];
    int n;
};

static void rect(uint8_t *img, int w, int h, int stride, float x0, float y0, float x1, float y1)
{
    line(img, w, h, stride, x0, y0, x1, y0, 0, color_crop);
    line(img, w, h, stride, x1, y0, x1, y1, 0, color_crop);
    line(img, w, h, stride, x1, y1, x0, y1, 0, color_crop);
    line(img, w, h, stride, x0, y1, x0, y0, 0, color_crop);
}

static void skeleton(uint8_t *img, int w, int h, int stride, const struct pose_keypoint *k)
{
    int r = (w > h ? w : h) / 250 + 1;

    for (int i = 0; i < POSE_NUM_LIMBS; i++) {
        const struct pose_keypoint *a = &k[pose_limbs[i][0]], *b = &k[pose_limbs[i][1]];
        if (a->score >= POSE_MIN_SCORE && b->score >= POSE_MIN_SCORE)
            line(img, w, h, stride, a->x * w, a->y * h, b->x * w, b->y * h, r / 2, color_limb);
    }
    for (int i = 0; i < POSE_NUM_KEYPOINTS; i++)
        if (k[i].score >= POSE_MIN_SCORE)
            disc(img, w, h, stride, (int)lrintf(k[i].x * w), (int)lrintf(k[i].y * h), r + 1,
                 color_point);
}

/* The tracking crop and the skeleton, or every person's box and skeleton. */
static void draw(uint8_t *img, int w, int h, int stride, const struct frame_out *out)
{
    if (!out->multi) {
        const struct pose_region *cr = &out->res.crop;
        rect(img, w, h, stride, cr->x0, cr->y0, cr->x0 + cr->side, cr->y0 + cr->side);
        skeleton(img, w, h, stride, out->res.keypoints);
        return;
    }
    for (int p = 0; p < out->n; p++) {
        const float *b = out->people[p].box;
        rect(img, w, h, stride, b[0] * w, b[1] * h, b[2] * w, b[3] * h);
        skeleton(img, w, h, stride, out->people[p].keypoints);
    }
}

static void print_keypoints_json(const struct pose_keypoint *k)
{
    printf("\"keypoints\": [");
    for (int i = 0; i < POSE_NUM_KEYPOINTS; i++)
        printf("%s{\"name\": \"%s\", \"x\": %.5f, \"y\": %.5f, \"score\": %.4f}", i ? ", " : "",
               pose_keypoint_names[i], k[i].x, k[i].y, k[i].score);
    printf("]");
}

static void print_people(const struct frame_out *out, long frame, double t, bool json)
{
    if (json) {
        printf("{\"frame\": %ld, \"time\": %.3f, \"people\": [", frame, t);
        for (int p = 0; p < out->n; p++) {
            const struct pose_person *q = &out->people[p];
            printf("%s{\"score\": %.4f, \"box\": {\"x0\": %.5f, \"y0\": %.5f, \"x1\": %.5f, "
                   "\"y1\": %.5f}, ",
                   p ? ", " : "", q->score, q->box[0], q->box[1], q->box[2], q->box[3]);
            print_keypoints_json(q->keypoints);
            printf("}");
        }
        printf("]}\n");
        return;
    }
    printf("frame %ld  t=%.3fs  people=%d\n", frame, t, out->n);
    for (int p = 0; p < out->n; p++) {
        const struct pose_person *q = &out->people[p];
        printf(" person %d  score=%.3f  box=%.4f,%.4f-%.4f,%.4f\n", p, q->score, q->box[0],
               q->box[1], q->box[2], q->box[3]);
        for (int i = 0; i < POSE_NUM_KEYPOINTS; i++)
            printf("  %-15s x=%.4f y=%.4f score=%.3f\n", pose_keypoint_names[i], q->keypoints[i].x,
                   q->keypoints[i].y, q->keypoints[i].score);
    }
}

static void print_result(const struct frame_out *out, long frame, double t, bool json)
{
    const struct pose_result *res = &out->res;

    if (out->multi) {
        print_people(out, frame, t, json);
        return;
    }
    if (json) {
        printf("{\"frame\": %ld, \"time\": %.3f, \"person\": %s, \"score\": %.4f, "
               "\"crop\": {\"x0\": %.1f, \"y0\": %.1f, \"side\": %.1f}, ",
               frame, t, res->person ? "true" : "false", res->score, res->crop.x0, res->crop.y0,
               res->crop.side);
        print_keypoints_json(res->keypoints);
        printf("}\n");
        return;
    }
    printf("frame %ld  t=%.3fs  person=%s  score=%.3f  crop=%.0f,%.0f+%.0f\n", frame, t,
           res->person ? "yes" : "no", res->score, res->crop.x0, res->crop.y0, res->crop.side);
    for (int i = 0; i < POSE_NUM_KEYPOINTS; i++)
        printf("  %-15s x=%.4f y=%.4f score=%.3f\n", pose_keypoint_names[i], res->keypoints[i].x,
               res->keypoints[i].y, res->keypoints[i].score);
}

static int write_picture(const char *pattern, long frame, const uint8_t *rgb, int w, int h,
                         int stride, const struct frame_out *res, uint8_t **canvas,
                         size_t *canvas_size, struct errbuf *err)
{
    char path[4096];
    size_t need = (size_t)w * 3 * h;

    if (need > *canvas_size) {
        uint8_t *grown = realloc(*canvas, need);
        if (!grown)
            return errbuf_set(err, -ENOMEM, "out of memory for a %dx%d picture", w, h);
        *canvas = grown;
        *canvas_size = need;
    }
    for (int y = 0; y < h; y++)
        memcpy(*canvas + (size_t)y * w * 3, rgb + (size_t)y * stride, (size_t)w * 3);
    draw(*canvas, w, h, w * 3, res);
    const char *mark = strstr(pattern, "%d");
    if (mark)
        snprintf(path, sizeof(path), "%.*s%06ld%s", (int)(mark - pattern), pattern, frame,
                 mark + 2);
    else
        snprintf(path, sizeof(path), "%s", pattern);
    return video_png_write(path, *canvas, w, h, w * 3, err);
}

int cmd_pose(int argc, char **argv)
{
    const char *model = "lightning", *models_dir = NULL, *draw_path = NULL, *input = NULL;
    double fps = 10;
    long max_frames = -1;
    int threads = 1, side = 256;
    bool json = false, track = true;
    char model_path[4096];
    struct errbuf err = {0};
    struct pose_model *pm = NULL;
    struct pose_context *pc = NULL;
    struct video_media *media = NULL;
    uint8_t *canvas = NULL, *last = NULL;
    size_t canvas_size = 0;
    struct frame_out res = {0}, last_res = {0};
    int last_w = 0, last_h = 0, status = 1, r;

    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        char *end = NULL;
        if (strcmp(a, "--model") == 0 && has)
            model = argv[++i];
        else if (strcmp(a, "--models") == 0 && has)
            models_dir = argv[++i];
        else if (strcmp(a, "--fps") == 0 && has) {
            fps = strtod(argv[++i], &end);
            if (*end || fps < 0 || fps > 1000) {
                cli_error("pose", "--fps must be a number from 0 to 1000");
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--max-frames") == 0 && has)
            max_frames = strtol(argv[++i], NULL, 10);
        else if (strcmp(a, "--side") == 0 && has) {
            side = (int)strtol(argv[++i], &end, 10);
            if (*end || side < POSE_PEOPLE_MIN_SIDE || side > POSE_PEOPLE_MAX_SIDE || side % 32) {
                cli_error("pose", "--side must be a multiple of 32 from %d to %d",
                          POSE_PEOPLE_MIN_SIDE, POSE_PEOPLE_MAX_SIDE);
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--threads") == 0 && has)
            threads = atoi(argv[++i]);
        else if (strcmp(a, "--draw") == 0 && has)
            draw_path = argv[++i];
        else if (strcmp(a, "--isa") == 0 && has) {
            if (pose_cli_isa_option(argv[++i], "pose") < 0)
                return EXIT_USAGE;
        } else if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--no-track") == 0)
            track = false;
        else if (a[0] == '-' && a[1]) {
            cli_error("pose", "unknown or incomplete option '%s'", a);
            usage(stderr);
            return EXIT_USAGE;
        } else if (!input)
            input = a;
        else {
            cli_error("pose", "one input at a time ('%s' is extra)", a);
            return EXIT_USAGE;
        }
    }
    if (!input) {
        cli_error("pose", "no image or video given");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (threads < 1 || threads > 256) {
        cli_error("pose", "--threads must be 1..256");
        return EXIT_USAGE;
    }
    blas_set_threads(threads);
    av_log_set_level(AV_LOG_ERROR);

    struct pose_options options = pose_cli_options();
    r = pose_cli_model_path(model_path, sizeof(model_path), model, models_dir, &err);
    if (r >= 0)
        r = pose_model_load_opts(model_path, &options, &pm, &err);
    if (r >= 0)
        r = pose_context_new(pm, &pc, &err);
    if (r < 0) {
        cli_error("pose", "%s", errbuf_text(&err, r));
        goto done;
    }
    r = video_media_open(input, &media, &err);
    if (r < 0) {
        cli_error("pose", "%s", errbuf_text(&err, r));
        goto done;
    }

    long decoded = 0, processed = 0;
    double next_t = -INFINITY;
    int64_t busy_ns = 0;
    bool per_frame_pictures = draw_path && strstr(draw_path, "%d");
    for (;;) {
        const uint8_t *rgb;
        int w, h, stride;
        double t;
        r = video_media_read(media, &rgb, &w, &h, &stride, &t, &err);
        if (r < 0) {
            cli_error("pose", "%s: %s", input, errbuf_text(&err, r));
            goto done;
        }
        if (r == 0)
            break;
        decoded++;
        if (fps > 0 && t < next_t - 1e-6)
            continue;
        if (fps > 0)
            next_t = (next_t == -INFINITY ? t : next_t) + 1.0 / fps;
        if (!track)
            pose_context_reset(pc);
        int64_t t0 = time_mono_ns();
        res.multi = pose_model_is_multi(pm);
        if (res.multi)
            r = pose_run_people(pc, rgb, w, h, stride, side, res.people, &res.n, &err);
        else
            r = pose_run(pc, rgb, w, h, stride, &res.res, &err);
        busy_ns += time_mono_ns() - t0;
        if (r < 0) {
            cli_error("pose", "%s: frame %ld: %s", input, decoded - 1, errbuf_text(&err, r));
            goto done;
        }
        print_result(&res, processed, t, json);
        if (per_frame_pictures) {
            r = write_picture(draw_path, processed, rgb, w, h, stride, &res, &canvas, &canvas_size,
                              &err);
            if (r < 0) {
                cli_error("pose", "%s", errbuf_text(&err, r));
                goto done;
            }
        } else if (draw_path) {
            /* keep a copy of the last frame for the picture written at the end */
            size_t need = (size_t)w * 3 * h;
            if (w != last_w || h != last_h) {
                uint8_t *grown = realloc(last, need);
                if (!grown) {
                    cli_error("pose", "out of memory");
                    goto done;
                }
                last = grown;
                last_w = w;
                last_h = h;
            }
            for (int y = 0; y < h; y++)
                memcpy(last + (size_t)y * w * 3, rgb + (size_t)y * stride, (size_t)w * 3);
            last_res = res;
        }
        processed++;
        if (max_frames >= 0 && processed >= max_frames)
            break;
    }
    if (processed == 0) {
        cli_error("pose", "%s: no frame decoded", input);
        goto done;
    }
    if (draw_path && !per_frame_pictures) {
        r = write_picture(draw_path, processed - 1, last, last_w, last_h, last_w * 3, &last_res,
                          &canvas, &canvas_size, &err);
        if (r < 0) {
            cli_error("pose", "%s", errbuf_text(&err, r));
            goto done;
        }
    }
    fprintf(stderr, "crt pose: %ld of %ld frames, %.2f ms per frame in %s\n", processed, decoded,
            (double)busy_ns * 1e-6 / (double)processed,
            pose_model_is_multi(pm) ? "pose_run_people" : "pose_run");
    status = 0;
done:
    free(canvas);
    free(last);
    video_media_free(media);
    pose_context_free(pc);
    pose_model_free(pm);
    return status;
}
