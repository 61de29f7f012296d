/* crt extract: decodes and poses every clip of a folder once, caching each
 * clip's pose sequence, so that evaluation and training never decode again. */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <libavutil/log.h>

#include "clip_pose.h"
#include "commands.h"
#include "extract.h"
#include "data.h"
#include "pose.h"
#include "pose_cli.h"

enum clip_outcome {
    CLIP_PENDING,
    CLIP_EXTRACTED,
    CLIP_DONE_BEFORE, /* a cache entry from the same video exists */
    CLIP_UNPARSABLE,  /* the file name is not a Smarthome clip name */
    CLIP_FAILED,      /* undecodable or unreadable */
};

struct clip_job {
    char *name; /* file name in the clip folder */
    enum clip_outcome outcome;
    struct smarthome_clip_name parsed;
    int frames;
    uint64_t gated, pose_frames; /* of its frames: found still, given to pose */
    char checksum[17];
    char *why; /* for UNPARSABLE and FAILED */
};

struct extract_run {
    const char *dir, *out;
    double fps, still_pose_fps;
    const struct pose_model *pose;
    struct clip_job *clips;
    int n;
    atomic_int next, finished;
    int64_t started_ns;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: crt extract [options] DIR\n"
                 "       crt extract --merge CACHE\n\n"
                 "Decode and pose every video clip of DIR (Toyota Smarthome names:\n"
                 "<Activity>_p<subject>_r<rr>_v<vv>_c<camera>.mp4) once, and cache each\n"
                 "clip's pose sequence as OUT/<clip>.pose with its label, subject, camera,\n"
                 "frames, fps and the video's checksum. A second run skips clips already\n"
                 "cached from the same video. Clips whose names do not parse, and clips\n"
                 "that do not decode, are listed in a report, never fatal.\n\n"
                 "options:\n"
                 "  --out DIR        the cache (default: DIR-pose beside DIR)\n"
                 "  --fps F          frames sampled per second (default 10, the models' rate)\n"
                 "  --pose MODEL     lightning (default), thunder, or a movenet .json file\n"
                 "  --jobs N         clips posed at once (default: all cores)\n"
                 "  --isa SET        the best pose kernel set: best (default), avx512, avx2,\n"
                 "                   neon or portable\n"
                 "  --gate           the motion gate, as crtd runs it: no pose while nobody is\n"
                 "                   in view and nothing moves, --still-pose-fps on a person who\n"
                 "                   keeps still, keypoints held in between (default: off, pose\n"
                 "                   on every frame, as training wants)\n"
                 "  --still-pose-fps F  with --gate, the pose rate on a still person, in (0, 60]\n"
                 "                   (default 2)\n"
                 "  --shard I/N      take only shard I of N (1 <= I <= N): clip k of the sorted\n"
                 "                   list goes to shard k mod N + 1, so machines that each run\n"
                 "                   one shard into the same cache split the folder exactly\n"
                 "  --merge          merge the shards that --shard runs wrote into CACHE:\n"
                 "                   manifest.json and report.json as one run would write\n"
                 "                   them; fails, naming it, when a shard is missing\n"
                 "  --json           print the summary as JSON on stdout\n\n"
                 "Writes OUT/manifest.json (OUT/manifest-I-of-N.json for a shard) and, when\n"
                 "any clip was left out, OUT/report.json (report-I-of-N.json).\n"
                 "scripts/slurm/ runs the shards as a Slurm array job and merges them.\n");
}

static bool is_video_name(const char *name)
{
    static const char *const exts[] = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".ts"};
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.')
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(exts); i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return true;
    return false;
}

static int compare_jobs(const void *a, const void *b)
{
    return strcmp(((const struct clip_job *)a)->name, ((const struct clip_job *)b)->name);
}

static void stem_of(char *out, size_t size, const char *name)
{
    str_copy(out, size, name);
    char *dot = strrchr(out, '.');
    if (dot)
        *dot = '\0';
}

struct collect {
    struct pose_keypoint (*kp)[POSE_NUM_KEYPOINTS];
    int n, cap;
};

static int collect_frame(void *ctx, const struct video_frame *frame, const struct pose_result *pose)
{
    struct collect *c = ctx;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        void *grown = realloc(c->kp, (size_t)cap * sizeof(*c->kp));
        if (!grown)
            return -ENOMEM;
        c->kp = grown;
        c->cap = cap;
    }
    memcpy(c->kp[c->n++], pose->keypoints, sizeof(*c->kp));
    return 0;
}

/* Poses one clip into the cache, or finds it there already. */
static void extract_clip(struct extract_run *run, struct clip_job *job,
                         struct pose_context *context)
{
    char path[4096], out[4096], stem[1024];
    struct errbuf err = {0};
    struct collect frames = {0};
    struct pose_sequence seq = {0};
    int r;

    snprintf(path, sizeof(path), "%s/%s", run->dir, job->name);
    stem_of(stem, sizeof(stem), job->name);
    snprintf(out, sizeof(out), "%s/%s.pose", run->out, stem);

    r = smarthome_clip_name_parse(job->name, &job->parsed, &err);
    if (r < 0) {
        job->outcome = CLIP_UNPARSABLE;
        job->why = strdup(err.msg);
        return;
    }
    r = clip_pose_checksum(path, job->checksum, &err);
    if (r == 0 && access(out, R_OK) == 0 && pose_sequence_load(out, &seq, NULL) == 0) {
        bool same = strcmp(seq.source_checksum, job->checksum) == 0;
        job->frames = seq.frames;
        pose_sequence_done(&seq);
        if (same) {
            job->outcome = CLIP_DONE_BEFORE;
            return;
        }
    }
    struct clip_pose_gate gate = {.still_pose_fps = run->still_pose_fps};
    if (r == 0)
        r = clip_pose_read(path, run->fps, context, run->still_pose_fps > 0 ? &gate : NULL,
                           collect_frame, &frames, &err);
    job->gated = gate.gated;
    job->pose_frames = run->still_pose_fps > 0 ? gate.pose_frames : (uint64_t)frames.n;
    if (r == 0)
        r = errbuf_set(&err, -ENODATA, "%s: no frame decoded", path);
    if (r > 0)
        r = pose_sequence_init(&seq, frames.n, run->fps, smarthome_classes, SMARTHOME_NUM_CLASSES,
                               &err);
    if (r == 0) {
        memcpy(seq.keypoints, frames.kp, sizeof(*frames.kp) * (size_t)frames.n);
        for (int f = 0; f < frames.n; f++)
            seq.labels[f] = job->parsed.class_index;
        seq.label = job->parsed.class_index;
        str_copy(seq.source, sizeof(seq.source), path);
        str_copy(seq.source_checksum, sizeof(seq.source_checksum), job->checksum);
        r = pose_sequence_save(&seq, out, &err);
    }
    if (r < 0) {
        job->outcome = CLIP_FAILED;
        job->why = strdup(errbuf_text(&err, r));
    } else {
        job->outcome = CLIP_EXTRACTED;
        job->frames = frames.n;
    }
    pose_sequence_done(&seq);
    free(frames.kp);
}

static void *extract_worker(void *arg)
{
    struct extract_run *run = arg;
    struct pose_context *context = NULL;
    if (pose_context_new(run->pose, &context, NULL) < 0)
        return NULL;
    for (;;) {
        int i = atomic_fetch_add(&run->next, 1);
        if (i >= run->n)
            break;
        extract_clip(run, &run->clips[i], context);
        atomic_fetch_add(&run->finished, 1);
    }
    pose_context_free(context);
    return NULL;
}

static int list_clips(struct extract_run *run, int shard, int shards, struct errbuf *err)
{
    DIR *d = opendir(run->dir);
    if (!d)
        return errbuf_set(err, -errno, "%s: %s", run->dir, strerror(errno));
    struct dirent *e;
    int cap = 0, total = 0;
    struct clip_job *all = NULL;
    while ((e = readdir(d))) {
        if (!is_video_name(e->d_name))
            continue;
        if (total == cap) {
            cap = cap ? 2 * cap : 256;
            void *grown = realloc(all, (size_t)cap * sizeof(*all));
            if (!grown) {
                closedir(d);
                free(all);
                return errbuf_set(err, -ENOMEM, "out of memory");
            }
            all = grown;
        }
        all[total++] = (struct clip_job){.name = strdup(e->d_name)};
    }
    closedir(d);
    qsort(all, (size_t)total, sizeof(*all), compare_jobs);
    /* The shard takes every N-th clip of the sorted list. */
    run->n = 0;
    for (int k = 0; k < total; k++) {
        if (k % shards == shard - 1)
            all[run->n++] = all[k];
        else
            free(all[k].name);
    }
    run->clips = all;
    return 0;
}

static json_t *manifest_json(const struct extract_run *run)
{
    json_t *clips = json_array();
    for (int i = 0; i < run->n; i++) {
        const struct clip_job *j = &run->clips[i];
        if (j->outcome != CLIP_EXTRACTED && j->outcome != CLIP_DONE_BEFORE)
            continue;
        char stem[1024];
        stem_of(stem, sizeof(stem), j->name);
        json_array_append_new(
            clips, json_pack("{s:s, s:s+, s:s, s:i, s:i, s:i, s:f, s:s}", "clip", j->name, "pose",
                             stem, ".pose", "label", smarthome_classes[j->parsed.class_index],
                             "subject", j->parsed.subject, "camera", j->parsed.camera, "frames",
                             j->frames, "fps", run->fps, "source_checksum", j->checksum));
    }
    return json_pack("{s:s, s:f, s:o}", "source", run->dir, "fps", run->fps, "clips", clips);
}

static json_t *report_json(const struct extract_run *run)
{
    json_t *left_out = json_array();
    for (int i = 0; i < run->n; i++) {
        const struct clip_job *j = &run->clips[i];
        if (j->outcome == CLIP_UNPARSABLE || j->outcome == CLIP_FAILED)
            json_array_append_new(
                left_out,
                json_pack("{s:s, s:s, s:s}", "clip", j->name, "problem",
                          j->outcome == CLIP_UNPARSABLE ? "unparsable name" : "not extracted",
                          "message", j->why ? j->why : ""));
    }
    return left_out;
}

int extract_folder(const struct extract_options *opts, struct extract_summary *ret_summary,
                   struct errbuf *err)
{
    struct extract_run run = {.dir = opts->dir,
                              .out = opts->out,
                              .fps = opts->fps,
                              .still_pose_fps = opts->still_pose_fps};
    char model_path[4096], name[256], path[4200];
    struct pose_model *pose = NULL;
    struct extract_summary summary = {0};
    json_t *manifest = NULL, *report = NULL;

    blas_set_threads(1); /* the clip workers are the parallelism */
    av_log_set_level(AV_LOG_FATAL);
    struct pose_options options = pose_cli_options();
    int r = pose_cli_model_path(model_path, sizeof(model_path), opts->pose, NULL, err);
    if (r >= 0)
        r = pose_model_load_opts(model_path, &options, &pose, err);
    if (r >= 0)
        r = list_clips(&run, opts->shard, opts->shards, err);
    if (r >= 0 && (r = mkdir_parents(run.out, 0755)) < 0)
        errbuf_set(err, r, "cannot create '%s': %s", run.out, strerror(-r));
    if (r < 0)
        goto done;
    run.pose = pose;
    atomic_init(&run.next, 0);
    atomic_init(&run.finished, 0);
    run.started_ns = time_mono_ns();

    pthread_t threads[256];
    int started = 0;
    for (int i = 0; i < opts->jobs && i < run.n && i < 256; i++)
        if (pthread_create(&threads[started], NULL, extract_worker, &run) == 0)
            started++;
    if (started == 0 && run.n > 0)
        extract_worker(&run);
    /* On a terminal the progress line is redrawn; into a log (a Slurm task's
     * output) it is a whole line a minute. */
    bool redraw = isatty(STDERR_FILENO);
    int64_t last_line = run.started_ns;
    while (started > 0 && atomic_load(&run.finished) < run.n) {
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int done = atomic_load(&run.finished);
        int64_t now = time_mono_ns();
        double secs = (double)(now - run.started_ns) * 1e-9;
        double rate = done / fmax(secs, 1e-9);
        if (!opts->progress || (!redraw && now - last_line < 60 * 1000000000LL))
            continue;
        last_line = now;
        fprintf(stderr, "%scrt extract: %d/%d clips, %.1f clips/s, %.0f s left%s",
                redraw ? "\r" : "", done, run.n, rate, rate > 0 ? (run.n - done) / rate : 0.0,
                redraw ? "   " : "\n");
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (opts->progress && redraw && run.n > 0)
        fputc('\n', stderr);

    summary.clips = run.n;
    summary.seconds = (double)(time_mono_ns() - run.started_ns) * 1e-9;
    for (int i = 0; i < run.n; i++) {
        const struct clip_job *j = &run.clips[i];
        if (j->outcome == CLIP_EXTRACTED) {
            summary.video_seconds += j->frames / run.fps;
            summary.frames += (uint64_t)j->frames;
            summary.gated += j->gated;
            summary.pose_frames += j->pose_frames;
        }
        summary.extracted += j->outcome == CLIP_EXTRACTED;
        summary.already_done += j->outcome == CLIP_DONE_BEFORE;
        summary.unparsable += j->outcome == CLIP_UNPARSABLE;
        summary.failed += j->outcome == CLIP_FAILED;
        if (j->outcome == CLIP_UNPARSABLE || j->outcome == CLIP_FAILED)
            fprintf(stderr, "left out %s: %s\n", j->name, j->why ? j->why : "unknown");
    }

    manifest = manifest_json(&run);
    report = report_json(&run);
    if (opts->shards > 1)
        snprintf(name, sizeof(name), "manifest-%d-of-%d.json", opts->shard, opts->shards);
    else
        snprintf(name, sizeof(name), "manifest.json");
    snprintf(path, sizeof(path), "%s/%s", run.out, name);
    r = extract_write_json(path, manifest, err);
    if (r == 0 && json_array_size(report) > 0) {
        if (opts->shards > 1)
            snprintf(name, sizeof(name), "report-%d-of-%d.json", opts->shard, opts->shards);
        else
            snprintf(name, sizeof(name), "report.json");
        snprintf(path, sizeof(path), "%s/%s", run.out, name);
        r = extract_write_json(path, report, err);
    }
    if (r == 0) {
        summary.left_out = report;
        report = NULL;
        *ret_summary = summary;
    }
done:
    json_decref(manifest);
    json_decref(report);
    for (int i = 0; i < run.n; i++) {
        free(run.clips[i].name);
        free(run.clips[i].why);
    }
    free(run.clips);
    pose_model_free(pose);
    return r;
}

bool extract_folder_has_videos(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d)))
        found = is_video_name(e->d_name);
    closedir(d);
    return found;
}

void extract_default_cache(char *buf, size_t size, const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    snprintf(buf, size, "%.*s-pose", (int)len, dir);
}

static int merge_cache(const char *cache, bool as_json)
{
    struct extract_merge_summary summary = {0};
    struct errbuf err = {0};
    int r = extract_merge(cache, &summary, &err);
    if (r < 0) {
        cli_error("extract", "%s", errbuf_text(&err, r));
        return 1;
    }
    if (as_json) {
        json_t *out = json_pack("{s:s, s:i, s:i, s:i}", "cache", cache, "shards", summary.shards,
                                "clips", summary.clips, "left_out", summary.left_out);
        json_dumpf(out, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(out);
    } else {
        printf("%s: merged %d shards: %d clips, %d left out\n", cache, summary.shards,
               summary.clips, summary.left_out);
    }
    return 0;
}

int cmd_extract(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},   {"fps", required_argument, NULL, 'f'},
        {"pose", required_argument, NULL, 'p'},  {"jobs", required_argument, NULL, 'j'},
        {"shard", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'J'},
        {"merge", no_argument, NULL, 'M'},       {"isa", required_argument, NULL, 'I'},
        {"gate", no_argument, NULL, 'g'},        {"still-pose-fps", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    struct extract_options opts = {
        .fps = 10,
        .pose = "lightning",
        .jobs = (int)sysconf(_SC_NPROCESSORS_ONLN),
        .shard = 1,
        .shards = 1,
        .progress = true,
    };
    char out_default[4096];
    bool as_json = false, merge = false, split_options = false, gated = false;
    double still_pose_fps = 2;
    struct extract_summary summary = {0};
    struct errbuf err = {0};
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'o':
            opts.out = optarg;
            break;
        case 'f':
            opts.fps = strtod(optarg, &end);
            if (*end || !(opts.fps > 0 && opts.fps <= 120)) {
                cli_error("extract", "--fps must be a rate in (0, 120]");
                return EXIT_USAGE;
            }
            break;
        case 'p':
            opts.pose = optarg;
            break;
        case 'j':
            opts.jobs = (int)strtol(optarg, &end, 10);
            if (*end || opts.jobs < 1 || opts.jobs > 256) {
                cli_error("extract", "--jobs must be 1..256");
                return EXIT_USAGE;
            }
            break;
        case 's':
            if (sscanf(optarg, "%d/%d", &opts.shard, &opts.shards) != 2 || opts.shards < 1 ||
                opts.shard < 1 || opts.shard > opts.shards) {
                cli_error("extract", "--shard wants I/N with 1 <= I <= N, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'J':
            as_json = true;
            break;
        case 'M':
            merge = true;
            break;
        case 'I':
            if (pose_cli_isa_option(optarg, "extract") < 0)
                return EXIT_USAGE;
            break;
        case 'g':
            gated = true;
            break;
        case 'F':
            still_pose_fps = strtod(optarg, &end);
            if (end == optarg || *end || !(still_pose_fps > 0 && still_pose_fps <= 60)) {
                cli_error("extract", "--still-pose-fps '%s': expected a rate in (0, 60]", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            cli_error("extract", "unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error("extract", optind == argc ? "a folder of clips is required"
                                            : "only one folder may be given");
        usage(stderr);
        return EXIT_USAGE;
    }
    split_options = opts.out || opts.shards > 1;
    if (merge && split_options) {
        cli_error("extract", "--merge takes only the cache folder (and --json), not --out or "
                             "--shard");
        return EXIT_USAGE;
    }
    if (merge)
        return merge_cache(argv[optind], as_json);
    opts.dir = argv[optind];
    opts.still_pose_fps = gated ? still_pose_fps : 0;
    if (!opts.out) {
        extract_default_cache(out_default, sizeof(out_default), opts.dir);
        opts.out = out_default;
    }
    int r = extract_folder(&opts, &summary, &err);
    if (r < 0) {
        cli_error("extract", "%s", errbuf_text(&err, r));
        return 1;
    }
    if (as_json) {
        json_t *out = json_pack(
            "{s:s, s:i, s:i, s:i, s:i, s:i, s:O, s:f, s:f, s:b, s:I, s:I, s:I}", "cache", opts.out,
            "clips", summary.clips, "extracted", summary.extracted, "already_done",
            summary.already_done, "unparsable", summary.unparsable, "failed", summary.failed,
            "left_out", summary.left_out, "seconds", summary.seconds, "video_seconds",
            summary.video_seconds, "gate", gated, "frames", (json_int_t)summary.frames, "gated",
            (json_int_t)summary.gated, "pose_frames", (json_int_t)summary.pose_frames);
        json_dumpf(out, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(out);
    } else {
        printf("%s: %d clips: %d extracted, %d already cached, %d with unparsable names, %d "
               "failed\n",
               opts.out, summary.clips, summary.extracted, summary.already_done, summary.unparsable,
               summary.failed);
        if (summary.extracted > 0)
            printf("speed: %.1f clips per minute, %.2f s of video per second, %d job(s), %.1f s\n",
                   60.0 * summary.extracted / summary.seconds,
                   summary.video_seconds / summary.seconds, opts.jobs, summary.seconds);
        if (summary.extracted > 0 && gated)
            printf("motion gate: %llu of %llu frames still, pose on %llu (still_pose_fps %g)\n",
                   (unsigned long long)summary.gated, (unsigned long long)summary.frames,
                   (unsigned long long)summary.pose_frames, still_pose_fps);
    }
    json_decref(summary.left_out);
    return 0;
}
