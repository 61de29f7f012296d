/* crt mocap: motion-capture clips (BVH, ASF/AMC) as pose sequences that
 * `crt train` and `crt eval` read, labelled from an index file; what it
 * computes is data/'s (mocap_index.c, mocap_coco.c, mocap_view.c). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "data.h"

#define MAX_RELABELS 32
#define MAX_CLASSES  (MOCAP_CLASS_OTHER + 1)

struct mocap_job {
    const char *out_dir;
    int cameras;
    double fps;
    double noise;
    enum synth_noise_model noise_model;
    uint64_t seed;
    int relabel_from[MAX_RELABELS], relabel_to[MAX_RELABELS];
    int n_relabels;
    /* The class list written into every file: --classes, or Smarthome's
     * (and Other when a chosen clip is Other). */
    const char *classes[MAX_CLASSES];
    int n_classes;
    bool split_only;
    enum mocap_split split; /* with split_only: write only this split's files */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: crt mocap --index FILE --out DIR [options] IN...\n\n"
                 "Turn motion-capture clips into pose sequences (.pose) for `crt train` and\n"
                 "`crt eval`: COCO-17 points from the skeleton's joints, several random home\n"
                 "cameras per clip (1.8-2.8 m up, tilted down, varied distance, azimuth and\n"
                 "field of view), resampled to the model's frame rate, with the estimator\n"
                 "defects of `crt synth`. Every frame is labelled with the clip's activity\n"
                 "from the index. IN is a clip (.bvh, .amc) listed in the index, or a folder:\n"
                 "all the index's clips under it. Writes one file per clip and camera:\n"
                 "DIR/<Activity>_s<subject>_c<camera>_<trial>.pose (docs/MOCAP.md).\n\n"
                 "options:\n"
                 "  --index FILE           a TSV with columns file, cmu_subject_trial, activity\n"
                 "                         and fps, like ../shared/mocap/index.tsv; an AMC\n"
                 "                         clip takes the ASF of its subject in its folder\n"
                 "  --out DIR              where to write (created if missing)\n"
                 "  --cameras N            cameras per clip (default 4)\n"
                 "  --fps F                frames per second written (default 10)\n"
                 "  --seed S               random seed (default 1); a seed, clip and camera\n"
                 "                         always give the same file\n"
                 "  --noise X              estimator defects, 0 = clean, 1 = default (as synth)\n"
                 "  --noise-model M        v1 (default) or measured (as crt synth)\n"
                 "  --exclude-source NAME  skip the clips of a source: cmu or hdm05 (HDM05 is\n"
                 "                         for evaluation only; exclude it for training data)\n"
                 "  --relabel FROM=TO      write class TO for clips of class FROM, e.g.\n"
                 "                         Drink.Frombottle=Drink.Fromcup for a model that only\n"
                 "                         knows Drink.Fromcup (may be repeated)\n"
                 "  --classes A,B,...      the class list of the files (a model's, so that\n"
                 "                         they mix with its other data); every clip's class\n"
                 "                         must be in it (default: the 31 Smarthome classes,\n"
                 "                         and Other when a clip is Other)\n"
                 "  --split NAME           write only the files of one part of the real-motion\n"
                 "                         protocol: train, subjects (held-out subjects),\n"
                 "                         cameras (held-out cameras), hdm05 (docs/MOCAP.md)\n");
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

static int parse_double(const char *text, double lo, double hi, double *ret)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= lo && v <= hi))
        return -EINVAL;
    *ret = v;
    return 0;
}

static int parse_relabel(struct mocap_job *job, const char *text)
{
    char from[64];
    const char *eq = strchr(text, '=');
    if (!eq || (size_t)(eq - text) >= sizeof(from) || job->n_relabels == MAX_RELABELS)
        return -EINVAL;
    snprintf(from, sizeof(from), "%.*s", (int)(eq - text), text);
    int a = mocap_class_index(from), b = mocap_class_index(eq + 1);
    if (a < 0 || b < 0)
        return -EINVAL;
    job->relabel_from[job->n_relabels] = a;
    job->relabel_to[job->n_relabels++] = b;
    return 0;
}

static int relabelled(const struct mocap_job *job, int class_index)
{
    for (int i = 0; i < job->n_relabels; i++)
        if (job->relabel_from[i] == class_index)
            return job->relabel_to[i];
    return class_index;
}

/* A class's index in the files' class list, or -1. */
static int class_in_list(const struct mocap_job *job, int class_index)
{
    for (int i = 0; i < job->n_classes; i++)
        if (strcmp(job->classes[i], mocap_class_name(class_index)) == 0)
            return i;
    return -1;
}

/* --classes: names of Smarthome classes or Other, comma-separated. */
static int parse_classes(struct mocap_job *job, const char *arg)
{
    char text[1024];
    if (str_copy(text, sizeof(text), arg) < 0)
        return -EINVAL;
    job->n_classes = 0;
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int c = mocap_class_index(tok);
        if (c < 0 || job->n_classes == MAX_CLASSES)
            return -EINVAL;
        job->classes[job->n_classes++] = mocap_class_name(c);
    }
    return job->n_classes ? 0 : -EINVAL;
}

/* Writes a row's clip through job->cameras cameras; returns files written or
 * a negative errno with err filled. */
static int write_clip(const struct mocap_job *job, const struct mocap_index *index, int row,
                      int *ret_frames, struct errbuf *err)
{
    const struct mocap_index_row *r = &index->rows[row];
    const struct mocap_source_info *src = mocap_source_info(r->source);
    struct mocap_clip clip;
    struct mocap_coco_map map;
    struct errbuf why = {0};
    int label = class_in_list(job, relabelled(job, r->class_index));
    int ret = mocap_index_load_clip(index, row, &clip, err);
    if (ret < 0)
        return ret;
    if ((ret = mocap_coco_map_find(&clip, &map, &why)) < 0) {
        ret = errbuf_set(err, ret, "%s: %s", r->file, why.msg);
        goto done;
    }
    int frames = mocap_resampled_frames(&clip, job->fps);
    int written = 0;
    for (int c = 1; c <= job->cameras; c++) {
        struct pose_sequence seq;
        struct mocap_camera cam;
        struct rng rng;
        char name[512], path[PATH_MAX];
        if (job->split_only && mocap_split_of(r->source, r->subject, c) != job->split)
            continue;
        if ((ret = pose_sequence_init(&seq, frames, job->fps, job->classes, job->n_classes, err)) <
            0)
            goto done;
        mocap_view_seed(&rng, job->seed, r->file, c);
        mocap_camera_random(&cam, &clip, &map, &rng);
        ret = mocap_view_render(&seq, &clip, &map, &cam, job->noise, job->noise_model, &rng, err);
        for (int f = 0; ret == 0 && f < frames; f++)
            seq.labels[f] = label;
        seq.label = label;
        char source[1200]; /* the whole, then what fits in the file's source field */
        snprintf(source, sizeof(source),
                 "crt mocap --seed %llu --fps %g --noise %g%s%s: %s (%s %s, %s; %s), camera %d of "
                 "%d",
                 (unsigned long long)job->seed, job->fps, job->noise,
                 job->noise_model != SYNTH_NOISE_V1 ? " --noise-model " : "",
                 job->noise_model != SYNTH_NOISE_V1 ? synth_noise_model_name(job->noise_model) : "",
                 r->file, src->name, r->trial, r->description, r->activity, c, job->cameras);
        str_copy(seq.source, sizeof(seq.source), source);
        str_copy(seq.acknowledgement, sizeof(seq.acknowledgement), src->acknowledgement);
        if (ret == 0 &&
            (ret = mocap_index_pose_name(r, job->classes[label], c, name, sizeof(name))) < 0)
            errbuf_set(err, ret, "%s: the file name is too long", r->file);
        if (ret == 0 &&
            snprintf(path, sizeof(path), "%s/%s", job->out_dir, name) >= (int)sizeof(path))
            ret = errbuf_set(err, -ENAMETOOLONG, "%s/%s: path too long", job->out_dir, name);
        if (ret == 0)
            ret = pose_sequence_save(&seq, path, err);
        pose_sequence_done(&seq);
        if (ret < 0)
            goto done;
        written++;
    }
    *ret_frames = frames;
    ret = written;
done:
    mocap_clip_done(&clip);
    return ret;
}

/* Two chosen rows that would write the same file names. */
static int check_names(const struct mocap_index *index, const bool *selected,
                       const struct mocap_job *job, struct errbuf *err)
{
    char a[512], b[512];
    for (int i = 0; i < index->n; i++) {
        if (!selected[i] ||
            mocap_index_pose_name(&index->rows[i],
                                  mocap_class_name(relabelled(job, index->rows[i].class_index)), 1,
                                  a, sizeof(a)) < 0)
            continue;
        for (int k = i + 1; k < index->n; k++)
            if (selected[k] &&
                mocap_index_pose_name(&index->rows[k],
                                      mocap_class_name(relabelled(job, index->rows[k].class_index)),
                                      1, b, sizeof(b)) == 0 &&
                strcmp(a, b) == 0)
                return errbuf_set(err, -EEXIST, "%s:%d and %d would both write %s", index->path,
                                  index->rows[i].line, index->rows[k].line, a);
    }
    return 0;
}

int cmd_mocap(int argc, char **argv)
{
    enum {
        OPT_INDEX = 256,
        OPT_OUT,
        OPT_CAMERAS,
        OPT_FPS,
        OPT_SEED,
        OPT_NOISE,
        OPT_NOISE_MODEL,
        OPT_EXCLUDE,
        OPT_RELABEL,
        OPT_CLASSES,
        OPT_SPLIT,
        OPT_HELP
    };
    static const struct option longopts[] = {
        {"index", required_argument, NULL, OPT_INDEX},
        {"out", required_argument, NULL, OPT_OUT},
        {"cameras", required_argument, NULL, OPT_CAMERAS},
        {"fps", required_argument, NULL, OPT_FPS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"noise", required_argument, NULL, OPT_NOISE},
        {"noise-model", required_argument, NULL, OPT_NOISE_MODEL},
        {"exclude-source", required_argument, NULL, OPT_EXCLUDE},
        {"relabel", required_argument, NULL, OPT_RELABEL},
        {"classes", required_argument, NULL, OPT_CLASSES},
        {"split", required_argument, NULL, OPT_SPLIT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct mocap_job job = {.cameras = 4, .fps = 10, .noise = 1, .seed = 1};
    bool excluded[MOCAP_SOURCE_COUNT] = {false};
    const char *index_path = NULL;
    int seed = 1, c, longindex = 0;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, &longindex)) != -1) {
        int bad = 0;
        enum mocap_source source;
        switch (c) {
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        case OPT_INDEX:
            index_path = optarg;
            break;
        case OPT_OUT:
            job.out_dir = optarg;
            break;
        case OPT_CAMERAS:
            bad = parse_int(optarg, 1, 99, &job.cameras);
            break;
        case OPT_FPS:
            bad = parse_double(optarg, 1, 120, &job.fps);
            break;
        case OPT_SEED:
            bad = parse_int(optarg, 0, 2000000000, &seed);
            break;
        case OPT_NOISE_MODEL:
            bad = synth_noise_model_parse(optarg, &job.noise_model);
            break;
        case OPT_NOISE:
            bad = parse_double(optarg, 0, 4, &job.noise);
            break;
        case OPT_EXCLUDE:
            bad = mocap_source_parse(optarg, &source);
            if (bad == 0)
                excluded[source] = true;
            break;
        case OPT_RELABEL:
            bad = parse_relabel(&job, optarg);
            break;
        case OPT_CLASSES:
            bad = parse_classes(&job, optarg);
            break;
        case OPT_SPLIT:
            bad = mocap_split_parse(optarg, &job.split);
            job.split_only = bad == 0;
            break;
        default:
            cli_error("mocap", "unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (bad) {
            cli_error("mocap", "invalid value '%s' for --%s", optarg, longopts[longindex].name);
            return EXIT_USAGE;
        }
    }
    job.seed = (uint64_t)seed;
    if (!index_path || !job.out_dir || optind >= argc) {
        cli_error("mocap", "%s",
                  !index_path    ? "--index FILE is required"
                  : !job.out_dir ? "--out DIR is required"
                                 : "name at least one clip or folder (IN)");
        usage(stderr);
        return EXIT_USAGE;
    }

    struct mocap_index index;
    struct errbuf err = {0};
    int r = mocap_index_load(index_path, &index, &err);
    if (r < 0) {
        cli_error("mocap", "%s", errbuf_text(&err, r));
        return 1;
    }
    int status = 1, chosen = 0, written = 0, failed = 0, skipped = 0, clips = 0;
    double seconds = 0;
    bool *selected = calloc((size_t)(index.n ? index.n : 1), sizeof(*selected));
    if (!selected) {
        cli_error("mocap", "out of memory");
        goto done;
    }
    for (int i = optind; i < argc; i++) {
        int count = 0;
        if ((r = mocap_index_select(&index, argv[i], selected, &count, &err)) < 0) {
            cli_error("mocap", "%s", errbuf_text(&err, r));
            goto done;
        }
    }
    for (int i = 0; i < index.n; i++)
        if (selected[i] && excluded[index.rows[i].source]) {
            selected[i] = false;
            skipped++;
        }
    /* --split: only the clips with a camera in that part of the protocol. */
    for (int i = 0; job.split_only && i < index.n; i++) {
        bool any = false;
        for (int cam = 1; cam <= job.cameras; cam++)
            any |= mocap_split_of(index.rows[i].source, index.rows[i].subject, cam) == job.split;
        if (selected[i] && !any) {
            selected[i] = false;
            skipped++;
        }
    }
    for (int i = 0; i < index.n; i++)
        chosen += selected[i];
    if (chosen == 0) {
        cli_error("mocap", "no clip to convert (%d excluded by --exclude-source or --split)",
                  skipped);
        goto done;
    }
    if (job.n_classes == 0) {
        bool other = false;
        for (int i = 0; i < index.n; i++)
            other |=
                selected[i] && relabelled(&job, index.rows[i].class_index) == MOCAP_CLASS_OTHER;
        for (int i = 0; i < SMARTHOME_NUM_CLASSES + other; i++)
            job.classes[job.n_classes++] = mocap_class_name(i);
    }
    for (int i = 0; i < index.n; i++)
        if (selected[i] && class_in_list(&job, relabelled(&job, index.rows[i].class_index)) < 0) {
            cli_error("mocap", "%s:%d (%s): class '%s' is not in --classes", index.path,
                      index.rows[i].line, index.rows[i].file,
                      mocap_class_name(relabelled(&job, index.rows[i].class_index)));
            goto done;
        }
    if ((r = check_names(&index, selected, &job, &err)) < 0) {
        cli_error("mocap", "%s", errbuf_text(&err, r));
        goto done;
    }
    if ((r = mkdir_parents(job.out_dir, 0755)) < 0) {
        cli_error("mocap", "cannot create '%s': %s", job.out_dir, strerror(-r));
        goto done;
    }

    int64_t start = time_mono_ns();
    int done_clips = 0;
    bool hdm05 = false;
    for (int i = 0; i < index.n; i++) {
        if (!selected[i])
            continue;
        const struct mocap_index_row *row = &index.rows[i];
        int frames = 0;
        done_clips++;
        r = write_clip(&job, &index, i, &frames, &err);
        if (r < 0) {
            cli_error("mocap", "%s", errbuf_text(&err, r));
            failed++;
            continue;
        }
        written += r;
        clips++;
        seconds += frames / job.fps;
        hdm05 |= row->source == MOCAP_SOURCE_HDM05;
        fprintf(stderr, "crt mocap: %d/%d %s (%s): %d frames x %d cameras\n", done_clips, chosen,
                row->file, mocap_class_name(relabelled(&job, row->class_index)), frames, r);
    }
    fprintf(stderr, "crt mocap: %d clips in %.1f s\n", clips,
            (double)(time_mono_ns() - start) * 1e-9);
    if (hdm05)
        fprintf(stderr, "crt mocap: note: HDM05 clips are CC BY-SA 3.0 and for evaluation only; "
                        "do not train the shipped model on them (--exclude-source hdm05)\n");
    printf("wrote %d pose sequences (%d clips, %.0f s each seen by %d cameras) to %s\n", written,
           clips, seconds, job.cameras, job.out_dir);
    if (failed)
        cli_error("mocap", "%d of %d clips failed", failed, chosen);
    status = failed ? 1 : 0;
done:
    free(selected);
    mocap_index_done(&index);
    return status;
}
