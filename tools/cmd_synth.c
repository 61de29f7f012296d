/* crt synth: writes synthetic pose sequences that `crt train` reads. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "commands.h"
#include "data.h"

struct synth_job {
    const struct synth_options *opts;
    const char *out_dir;
    int clips;
    int first; /* index of the first clip */
    atomic_int next;
    atomic_int done;
    atomic_int failed;
    pthread_mutex_t error_lock;
    char first_error[512];
};

static void usage(FILE *out)
{
    fprintf(out, "usage: crt synth --out DIR [options]\n\n"
                 "Write synthetic pose sequences (one .pose file per clip) for `crt train`:\n"
                 "a 3D skeleton animated per activity, seen by a random camera, with the\n"
                 "jitter, occlusions and dropouts of a real pose estimator.\n\n"
                 "options:\n"
                 "  --out DIR            where to write the clips (created if missing)\n"
                 "  --task TASK          activities (ten Smarthome activities, default),\n"
                 "                       open (the ten and Other: random joint trajectories,\n"
                 "                       jumps, arm waving, dance, exercise, spins), recall (a "
                 "gesture K segments before the end decides)\n"
                 "                       or falls (clip i: falls forward, backward, sideways,\n"
                 "                       a slump from a chair, then the hard negatives: tie a\n"
                 "                       shoe, sit down hard, lie down on a bed, leave low)\n"
                 "                       or home (one home's activities: Walk, Sitdown,\n"
                 "                       Drink.Fromcup, Usetelephone, WatchTV and Feed.Cat,\n"
                 "                       a motion none of the ten has)\n"
                 "  --clips N            number of clips (default 1000)\n"
                 "  --first I            index of the first clip (default 0); the same seed and\n"
                 "                       index always give the same clip, so ranges can be split\n"
                 "  --seed S             random seed (default 1)\n"
                 "  --fps F              frames per second (default 10)\n"
                 "  --min-seconds A      shortest activity (default 4)\n"
                 "  --max-seconds B      longest activity (default 8)\n"
                 "  --chain C            activities chained into one stream (default 1)\n"
                 "  --recall-k K         recall task: segments after the event (default 4)\n"
                 "  --segment-frames L   recall task: frames per segment (default 8)\n"
                 "  --noise X            estimator defects, 0 = clean, 1 = default\n"
                 "  --noise-model M      v1 (default) or measured: the defects crt defects\n"
                 "                       measured on real MoveNet output (docs/TRAINING.md)\n"
                 "  --down-seconds D     falls task: still time after each scene (default 35)\n"
                 "  --home N             film home N: its one camera, high in a corner and wide\n"
                 "                       (a view the activities task never has), and its\n"
                 "                       three people (default 0: a new camera and person\n"
                 "                       per clip)\n"
                 "  --jobs J             threads (default: all cores)\n"
                 "  --json               print a summary as JSON on stdout\n");
}

static void record_error(struct synth_job *job, const char *text)
{
    pthread_mutex_lock(&job->error_lock);
    if (!job->first_error[0])
        str_copy(job->first_error, sizeof(job->first_error), text);
    pthread_mutex_unlock(&job->error_lock);
    atomic_fetch_add(&job->failed, 1);
}

static int write_clip(const struct synth_job *job, int index, struct errbuf *err)
{
    const struct synth_options *opts = job->opts;
    struct synth_clip clip;
    struct pose_sequence seq;
    int n_classes;
    const char *const *classes = synth_task_classes(opts->task, &n_classes);
    char path[4096], home[32] = "";
    int r;

    if (opts->home > 0)
        snprintf(home, sizeof(home), " --home %d", opts->home);
    r = synth_clip_generate(&clip, opts, (uint64_t)index, err);
    if (r < 0)
        return r;
    r = pose_sequence_init(&seq, clip.frames, opts->fps, classes, n_classes, err);
    if (r < 0) {
        synth_clip_done(&clip);
        return r;
    }
    memcpy(seq.keypoints, clip.keypoints, sizeof(*clip.keypoints) * (size_t)clip.frames);
    memcpy(seq.labels, clip.labels, sizeof(*clip.labels) * (size_t)clip.frames);
    seq.label = clip.label;
    seq.events = clip.events;
    snprintf(seq.source, sizeof(seq.source), "crt synth --task %s --seed %llu%s%s%s clip %d",
             synth_task_name(opts->task), (unsigned long long)opts->seed, home,
             opts->noise_model != SYNTH_NOISE_V1 ? " --noise-model " : "",
             opts->noise_model != SYNTH_NOISE_V1 ? synth_noise_model_name(opts->noise_model) : "",
             index);
    snprintf(path, sizeof(path), "%s/%s-s%llu-%06d.pose", job->out_dir, synth_task_name(opts->task),
             (unsigned long long)opts->seed, index);
    r = pose_sequence_save(&seq, path, err);
    pose_sequence_done(&seq);
    synth_clip_done(&clip);
    return r;
}

static void *synth_worker(void *arg)
{
    struct synth_job *job = arg;
    for (;;) {
        int i = atomic_fetch_add(&job->next, 1);
        if (i >= job->clips)
            break;
        struct errbuf err = {0};
        int r = write_clip(job, job->first + i, &err);
        if (r < 0)
            record_error(job, errbuf_text(&err, r));
        atomic_fetch_add(&job->done, 1);
    }
    return NULL;
}

static int parse_int(const char *text, int lo, int hi, int *ret)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < lo || v > hi)
        return -EINVAL;
    *ret = (int)v;
    return 0;
}

static int parse_double(const char *text, double *ret)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end)
        return -EINVAL;
    *ret = v;
    return 0;
}

int cmd_synth(int argc, char **argv)
{
    enum {
        OPT_TASK = 256,
        OPT_CLIPS,
        OPT_FIRST,
        OPT_SEED,
        OPT_FPS,
        OPT_MIN,
        OPT_MAX,
        OPT_CHAIN,
        OPT_RECALL_K,
        OPT_SEGMENT,
        OPT_NOISE,
        OPT_NOISE_MODEL,
        OPT_DOWN,
        OPT_HOME,
        OPT_JOBS,
        OPT_JSON,
        OPT_OUT,
        OPT_HELP
    };
    static const struct option longopts[] = {
        {"task", required_argument, NULL, OPT_TASK},
        {"clips", required_argument, NULL, OPT_CLIPS},
        {"first", required_argument, NULL, OPT_FIRST},
        {"seed", required_argument, NULL, OPT_SEED},
        {"fps", required_argument, NULL, OPT_FPS},
        {"min-seconds", required_argument, NULL, OPT_MIN},
        {"max-seconds", required_argument, NULL, OPT_MAX},
        {"chain", required_argument, NULL, OPT_CHAIN},
        {"recall-k", required_argument, NULL, OPT_RECALL_K},
        {"segment-frames", required_argument, NULL, OPT_SEGMENT},
        {"noise", required_argument, NULL, OPT_NOISE},
        {"noise-model", required_argument, NULL, OPT_NOISE_MODEL},
        {"down-seconds", required_argument, NULL, OPT_DOWN},
        {"home", required_argument, NULL, OPT_HOME},
        {"jobs", required_argument, NULL, OPT_JOBS},
        {"json", no_argument, NULL, OPT_JSON},
        {"out", required_argument, NULL, OPT_OUT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct synth_options opts;
    const char *out_dir = NULL;
    int clips = 1000, first = 0, jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), seed = 1;
    bool as_json = false;
    int c;

    synth_options_default(&opts);
    optind = 1;
    opterr = 0;
    int longindex = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, &longindex)) != -1) {
        int bad = 0;
        switch (c) {
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        case OPT_TASK:
            bad = synth_task_parse(optarg, &opts.task);
            break;
        case OPT_CLIPS:
            bad = parse_int(optarg, 1, 10000000, &clips);
            break;
        case OPT_FIRST:
            bad = parse_int(optarg, 0, 1000000000, &first);
            break;
        case OPT_SEED:
            bad = parse_int(optarg, 0, 2000000000, &seed);
            break;
        case OPT_FPS:
            bad = parse_double(optarg, &opts.fps);
            break;
        case OPT_MIN:
            bad = parse_double(optarg, &opts.min_seconds);
            break;
        case OPT_MAX:
            bad = parse_double(optarg, &opts.max_seconds);
            break;
        case OPT_CHAIN:
            bad = parse_int(optarg, 1, 64, &opts.chain);
            break;
        case OPT_RECALL_K:
            bad = parse_int(optarg, 1, 256, &opts.recall_k);
            break;
        case OPT_SEGMENT:
            bad = parse_int(optarg, 1, 256, &opts.segment_frames);
            break;
        case OPT_NOISE_MODEL:
            bad = synth_noise_model_parse(optarg, &opts.noise_model);
            break;
        case OPT_NOISE:
            bad = parse_double(optarg, &opts.noise);
            break;
        case OPT_DOWN:
            bad = parse_double(optarg, &opts.down_seconds);
            break;
        case OPT_HOME:
            bad = parse_int(optarg, 0, 1000000, &opts.home);
            break;
        case OPT_JOBS:
            bad = parse_int(optarg, 1, 256, &jobs);
            break;
        case OPT_JSON:
            as_json = true;
            break;
        case OPT_OUT:
            out_dir = optarg;
            break;
        default:
            cli_error("synth", "unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (bad) {
            cli_error("synth", "invalid value '%s' for --%s", optarg, longopts[longindex].name);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("synth", "unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (!out_dir) {
        cli_error("synth", "--out DIR is required");
        usage(stderr);
        return EXIT_USAGE;
    }
    opts.seed = (uint64_t)seed;

    /* Check the options once, before any thread starts. */
    struct synth_clip probe;
    struct errbuf err = {0};
    int r = synth_clip_generate(&probe, &opts, 0, &err);
    if (r < 0) {
        cli_error("synth", "%s", errbuf_text(&err, r));
        return EXIT_USAGE;
    }
    synth_clip_done(&probe);
    if ((r = mkdir_parents(out_dir, 0755)) < 0) {
        cli_error("synth", "cannot create '%s': %s", out_dir, strerror(-r));
        return 1;
    }

    struct synth_job job = {.opts = &opts, .out_dir = out_dir, .clips = clips, .first = first};
    pthread_mutex_init(&job.error_lock, NULL);
    atomic_init(&job.next, 0);
    atomic_init(&job.done, 0);
    atomic_init(&job.failed, 0);

    int64_t start = time_mono_ns();
    pthread_t threads[256];
    int started = 0;
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&threads[started], NULL, synth_worker, &job) == 0)
            started++;
    if (started == 0)
        synth_worker(&job);
    /* Progress while the workers run. */
    while (atomic_load(&job.done) < clips && started > 0) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int done = atomic_load(&job.done);
        double secs = (double)(time_mono_ns() - start) * 1e-9;
        fprintf(stderr, "\rcrt synth: %d/%d clips, %.0f clips/s", done, clips,
                secs > 0 ? done / secs : 0.0);
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    double secs = (double)(time_mono_ns() - start) * 1e-9;
    fprintf(stderr, "\rcrt synth: %d/%d clips in %.1f s\n", atomic_load(&job.done), clips, secs);
    pthread_mutex_destroy(&job.error_lock);

    int failed = atomic_load(&job.failed);
    if (failed) {
        cli_error("synth", "%d of %d clips failed; first: %s", failed, clips, job.first_error);
        return 1;
    }
    if (as_json) {
        json_t *summary =
            json_pack("{s:s, s:i, s:I, s:f, s:s}", "task", synth_task_name(opts.task), "clips",
                      clips, "seed", (json_int_t)seed, "fps", opts.fps, "out", out_dir);
        json_dumpf(summary, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(summary);
    } else {
        printf("wrote %d %s clips to %s\n", clips, synth_task_name(opts.task), out_dir);
    }
    return 0;
}
