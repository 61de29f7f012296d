/* Unit tests of the motion-capture readers (data/bvh.c, data/asf_amc.c).
 *
 * Real files: the CMU BVH files of Debian's assimp-testmodels (paths from
 * tests/meson.build; scripts/setup installs the package) and, when the
 * folder exists, the CMU and HDM05 ASF/AMC and BVH files of ../shared/mocap
 * with its index.tsv (CRTD_MOCAP_DIRS: candidates separated by ':'). On each:
 * bone lengths constant over the frames, a standing adult's pelvis height
 * at frame 0, frame count and frame time as the file or index says.
 * Small files written at run time check the kinematics against rotations
 * worked by hand, and that malformed files fail with "file:line: why". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "data.h"

static const char *tmp_dir(void)
{
    const char *d = getenv("CRTD_TEST_TMP");
    return d && d[0] ? d : "/tmp";
}

static const char *write_file(const char *name, const char *text)
{
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 512, "%s/mocap-%d-%s", tmp_dir(), (int)getpid(), name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* ---- what every real clip must show -------------------------------------- */

struct clip_figures {
    double drift;      /* worst relative change of a bone's length over the frames */
    double pelvis;     /* pelvis height at frame 0, m */
    double head_above; /* head minus pelvis height at frame 0, m */
    double lowest;     /* lowest joint at frame 0, m */
};

static double distance(const float *a, const float *b)
{
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

static void check_clip(const char *name, const struct mocap_clip *clip, const char *pelvis,
                       const char *head, struct clip_figures *ret)
{
    int p = mocap_joint_find(clip, pelvis), h = mocap_joint_find(clip, head);
    assert_true(p >= 0);
    assert_true(h >= 0);
    struct clip_figures fig = {0};
    for (int j = 0; j < clip->n_joints; j++) {
        int q = clip->parent[j];
        assert_true(q < j);
        if (q < 0)
            continue;
        double lo = INFINITY, hi = 0;
        for (int f = 0; f < clip->frames; f++) {
            double d = distance(mocap_clip_position(clip, f, j), mocap_clip_position(clip, f, q));
            lo = fmin(lo, d);
            hi = fmax(hi, d);
        }
        if (hi > 0.01) /* bones under 1 cm: float rounding, not kinematics */
            fig.drift = fmax(fig.drift, (hi - lo) / hi);
    }
    fig.pelvis = mocap_clip_position(clip, 0, p)[1];
    fig.head_above = mocap_clip_position(clip, 0, h)[1] - fig.pelvis;
    fig.lowest = INFINITY;
    for (int j = 0; j < clip->n_joints; j++)
        fig.lowest = fmin(fig.lowest, mocap_clip_position(clip, 0, j)[1]);
    printf("  %-44s %5d frames %7.5f s  bone drift %.2e  pelvis %.3f m  head +%.3f m"
           "  lowest %+.3f m  %s\n",
           name, clip->frames, clip->frame_time, fig.drift, fig.pelvis, fig.head_above, fig.lowest,
           clip->unit);
    assert_true(fig.drift < 1e-4);
    assert_true(fig.pelvis >= 0.8 && fig.pelvis <= 1.2);
    assert_true(fig.head_above >= 0.3 && fig.head_above <= 0.9);
    assert_true(fig.lowest >= -0.15 && fig.lowest <= 0.2);
    if (ret)
        *ret = fig;
}

/* Frames and Frame Time as the header says, read here without the reader. */
static void bvh_header(const char *path, int *ret_frames, double *ret_frame_time)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    assert_non_null(f);
    *ret_frames = -1;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, " Frames: %d", ret_frames) == 1)
            continue;
        if (sscanf(line, " Frame Time: %lf", ret_frame_time) == 1)
            break;
    }
    fclose(f);
}

static void check_bvh(const char *path, const char *label, struct clip_figures *ret)
{
    struct mocap_clip clip;
    struct errbuf err = {0};
    int frames;
    double frame_time;
    int r = mocap_bvh_load(path, MOCAP_SCALE_AUTO, &clip, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    bvh_header(path, &frames, &frame_time);
    check_clip(label, &clip, "Hips", "Head", ret);
    assert_int_equal(clip.frames, frames);
    assert_true(fabs(clip.frame_time - frame_time) < 1e-12);
    mocap_clip_done(&clip);
}

/* ---- Debian's assimp-testmodels ------------------------------------------ */

static char **bvh_paths;
static int n_bvh_paths;

static void assimp_bvh_files(void **state)
{
    struct stat st;
    if (n_bvh_paths == 0 || stat(bvh_paths[0], &st) < 0) {
        printf("  SKIPPED: %s is missing: Debian's assimp-testmodels is not installed "
               "(scripts/setup installs it)\n",
               n_bvh_paths ? bvh_paths[0] : "no BVH path given");
        skip();
    }
    for (int i = 0; i < n_bvh_paths; i++) {
        const char *base = strrchr(bvh_paths[i], '/');
        check_bvh(bvh_paths[i], base ? base + 1 : bvh_paths[i], NULL);
    }
    /* assimp's third BVH, Boxing_Toes (centimetres, not CMU), has 3070
     * frame lines under "Frames: 3069": refused, as a miscounted file must be. */
    const char *miscounted = getenv("CRTD_MOCAP_MISCOUNTED_BVH");
    if (miscounted && stat(miscounted, &st) == 0) {
        struct mocap_clip clip;
        struct errbuf e = {0};
        char want[600];
        assert_int_equal(mocap_bvh_load(miscounted, MOCAP_SCALE_AUTO, &clip, &e), -EBADMSG);
        snprintf(want, sizeof(want), "%s:3199: more frames than the 3069 that 'Frames:' declares",
                 miscounted);
        printf("  %s\n", e.msg);
        assert_string_equal(e.msg, want);
    }
    /* the same file with a declared scale: CMU units */
    struct mocap_clip a, b;
    struct errbuf err = {0};
    assert_int_equal(mocap_bvh_load(bvh_paths[0], MOCAP_SCALE_AUTO, &a, &err), 0);
    assert_int_equal(mocap_bvh_load(bvh_paths[0], MOCAP_SCALE_CMU, &b, &err), 0);
    assert_true(fabs(a.scale - MOCAP_SCALE_CMU) < 1e-12);
    assert_memory_equal(a.positions, b.positions, sizeof(*a.positions) * a.n_joints * a.frames);
    mocap_clip_done(&a);
    mocap_clip_done(&b);
}

/* ---- ../shared/mocap ------------------------------------------------------ */

static const char *mocap_dir(void)
{
    static char found[1024];
    const char *dirs = getenv("CRTD_MOCAP_DIRS");
    char list[2048], *save = NULL;
    struct stat st;
    snprintf(list, sizeof(list), "%s", dirs ? dirs : "");
    for (char *d = strtok_r(list, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(found, sizeof(found), "%s/index.tsv", d);
        if (stat(found, &st) == 0) {
            snprintf(found, sizeof(found), "%s", d);
            return found;
        }
    }
    return NULL;
}

struct index_row {
    char file[256];
    double fps;
    int frames;
};

static int read_index(const char *dir, struct index_row *rows, int max)
{
    char path[1200], line[4096];
    snprintf(path, sizeof(path), "%s/index.tsv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = 0;
    while (fgets(line, sizeof(line), f) && n < max) {
        char *col[16] = {0}, *save = NULL;
        int k = 0;
        for (char *c = strtok_r(line, "\t\n", &save); c && k < 16;
             c = strtok_r(NULL, "\t\n", &save))
            col[k++] = c;
        /* file, source_repo, commit, trial, description, activity, fps, frames, ... */
        if (k < 8 || strcmp(col[0], "file") == 0)
            continue;
        snprintf(rows[n].file, sizeof(rows[n].file), "%s", col[0]);
        rows[n].fps = atof(col[6]);
        rows[n].frames = atoi(col[7]);
        n++;
    }
    fclose(f);
    return n;
}

/* The ASF of an AMC's subject: the one whose name the AMC's name starts
 * with ("13" for "13_09.amc", "HDM_bd" for "HDM_bd_lieDownFloor_001_120.amc"),
 * in the AMC's folder if there is one there, else in any. */
static const char *asf_of(const struct index_row *rows, int n, const char *amc)
{
    const char *slash = strrchr(amc, '/'), *found = NULL;
    const char *amc_base = slash ? slash + 1 : amc;
    for (int i = 0; i < n; i++) {
        const char *asf = rows[i].file, *s = strrchr(asf, '/');
        const char *base = s ? s + 1 : asf;
        size_t stem = strlen(base);
        if (stem < 5 || strcmp(base + stem - 4, ".asf") != 0)
            continue;
        stem -= 4;
        if (strncmp(base, amc_base, stem) != 0 || amc_base[stem] != '_')
            continue;
        if (base - asf == amc_base - amc && strncmp(asf, amc, (size_t)(base - asf)) == 0)
            return asf;
        found = asf;
    }
    return found;
}

static void shared_mocap_files(void **state)
{
    const char *dir = mocap_dir();
    if (!dir) {
        printf("  SKIPPED: no ../shared/mocap folder here (looked in '%s'); CI machines may "
               "not have it, the assimp BVH test covers the readers there\n",
               getenv("CRTD_MOCAP_DIRS") ? getenv("CRTD_MOCAP_DIRS") : "");
        skip();
    }
    static struct index_row rows[256];
    int n = read_index(dir, rows, 256), clips = 0;
    double worst_drift = 0, lo = INFINITY, hi = 0;
    printf("  reading %s\n", dir);
    for (int i = 0; i < n; i++) {
        const char *file = rows[i].file;
        size_t len = strlen(file);
        char path[1400], asf_path[1400];
        struct mocap_clip clip;
        struct errbuf err = {0};
        struct clip_figures fig;
        int r;
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        if (len > 4 && strcmp(file + len - 4, ".bvh") == 0) {
            check_bvh(path, file, &fig);
            clips++;
            worst_drift = fmax(worst_drift, fig.drift);
            lo = fmin(lo, fig.pelvis);
            hi = fmax(hi, fig.pelvis);
            continue;
        } else if (len > 4 && strcmp(file + len - 4, ".amc") == 0) {
            const char *asf = asf_of(rows, n, file);
            if (!asf)
                fail_msg("%s: no ASF beside it in index.tsv", file);
            snprintf(asf_path, sizeof(asf_path), "%s/%.255s", dir, asf);
            r = mocap_asf_amc_load(asf_path, path, rows[i].fps, MOCAP_SCALE_AUTO, &clip, &err);
            if (r < 0)
                fail_msg("%s", errbuf_text(&err, r));
            assert_int_equal(clip.n_joints, 31);
            check_clip(file, &clip, "root", "head", &fig);
        } else {
            continue;
        }
        assert_int_equal(clip.frames, rows[i].frames);
        assert_true(fabs(clip.frame_time * rows[i].fps - 1) < 1e-4);
        worst_drift = fmax(worst_drift, fig.drift);
        lo = fmin(lo, fig.pelvis);
        hi = fmax(hi, fig.pelvis);
        clips++;
        mocap_clip_done(&clip);
    }
    printf("  %d clips: worst bone length drift %.2e, pelvis at frame 0 from %.3f to %.3f m\n",
           clips, worst_drift, lo, hi);
    assert_true(clips >= 40);
}

/* ---- kinematics worked by hand ------------------------------------------- */

static void bvh_rotation_order_and_scale(void **state)
{
    /* Child at (0,1,0) under a root turned Z 90 then X 90 as listed: with
     * R = Rz Ry.. in listing order, Rz(90) Rx(90) (0,1,0) = (0,0,1). */
    const char *path =
        write_file("order.bvh", "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n"
                                "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
                                "Yrotation\n  JOINT Head\n  {\n    OFFSET 0 100 0\n"
                                "    CHANNELS 3 Zrotation Yrotation Xrotation\n"
                                "    End Site\n    {\n      OFFSET 0 10 0\n    }\n  }\n}\n"
                                "MOTION\nFrames: 2\nFrame Time: 0.04\n"
                                "0 0 0 0 0 0 0 0 0\n"
                                "10 20 30 90 90 0 0 0 0\n");
    struct mocap_clip clip;
    struct errbuf err = {0};
    int r = mocap_bvh_load(path, 0.01, &clip, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    assert_int_equal(clip.n_joints, 3);
    assert_string_equal(clip.names[2], "Head_end");
    assert_int_equal(clip.parent[2], 1);
    assert_int_equal(clip.frames, 2);
    const float *head = mocap_clip_position(&clip, 1, 1), *end = mocap_clip_position(&clip, 1, 2);
    assert_true(fabs(head[0] - 0.1) < 1e-6 && fabs(head[1] - 0.2) < 1e-6 &&
                fabs(head[2] - 1.3) < 1e-6);
    assert_true(fabs(end[2] - 1.4) < 1e-6);
    mocap_clip_done(&clip);
    /* No scale given: 110 units tall is 1.1 m in centimetres, 2.8 m in
     * inches, 6.2 m in CMU units: no standing adult in any unit, refused. */
    r = mocap_bvh_load(path, MOCAP_SCALE_AUTO, &clip, &err);
    assert_int_equal(r, -EBADMSG);
    assert_non_null(strstr(err.msg, "pass the scale"));
}

static void asf_axis_and_dof(void **state)
{
    /* One bone along +X with axis 0 0 90 (its local X is the world's Y) and
     * dof rx: rx 90 turns it about the world's Y, taking +X to -Z. */
    const char *asf =
        write_file("axis.asf", ":version 1.10\n:units\n  mass 1.0\n  length 0.45\n"
                               "  angle deg\n:root\n   order TX TY TZ RX RY RZ\n"
                               "   axis XYZ\n   position 0 0 0\n   orientation 0 0 0\n"
                               ":bonedata\n  begin\n     id 1\n     name arm\n"
                               "     direction 1 0 0\n     length 10\n"
                               "     axis 0 0 90 XYZ\n    dof rx\n"
                               "    limits (-180.0 180.0)\n  end\n"
                               ":hierarchy\n  begin\n    root arm\n  end\n");
    const char *amc = write_file("axis.amc", "# made by test_mocap\n:FULLY-SPECIFIED\n:DEGREES\n"
                                             "1\nroot 0 18 0 0 0 0\narm 0\n"
                                             "2\nroot 0 18 0 0 0 0\narm 90\n");
    struct mocap_clip clip;
    struct errbuf err = {0};
    int r = mocap_asf_amc_load(asf, amc, 120, MOCAP_SCALE_AUTO, &clip, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    double s = MOCAP_SCALE_CMU;
    assert_true(fabs(clip.scale - s) < 1e-12);
    const float *rest = mocap_clip_position(&clip, 0, 1),
                *turned = mocap_clip_position(&clip, 1, 1);
    assert_true(fabs(rest[0] - 10 * s) < 1e-6 && fabs(rest[1] - 18 * s) < 1e-6);
    assert_true(fabs(turned[0]) < 1e-6 && fabs(turned[1] - 18 * s) < 1e-6 &&
                fabs(turned[2] + 10 * s) < 1e-6);
    assert_true(fabs(clip.frame_time - 1.0 / 120) < 1e-12);
    assert_int_equal(mocap_joint_find(&clip, "nope"), -ENOENT);
    mocap_clip_done(&clip);
    mocap_clip_done(NULL);
}

/* ---- malformed files ------------------------------------------------------- */

static void expect_bvh_error(const char *name, const char *text, const char *want)
{
    const char *path = write_file(name, text);
    struct mocap_clip clip;
    struct errbuf err = {0};
    char expected[768];
    int r = mocap_bvh_load(path, 0.01, &clip, &err);
    snprintf(expected, sizeof(expected), "%s:%s", path, want);
    printf("  %-16s %s\n", name, err.msg);
    assert_int_equal(r, -EBADMSG);
    if (!strstr(err.msg, expected))
        fail_msg("'%s' does not say '%s'", err.msg, expected);
}

#define BVH_HEAD                                                                                   \
    "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 3 Xposition Yposition Zposition\n"
#define BVH_TAIL "  End Site\n  {\n    OFFSET 0 170 0\n  }\n}\nMOTION\n"

static void malformed_bvh(void **state)
{
    expect_bvh_error("truncated.bvh",
                     BVH_HEAD BVH_TAIL "Frames: 3\nFrame Time: 0.01\n0 90 0\n0 91 0\n",
                     "15: the motion ends after 2 of the 3 frames");
    expect_bvh_error("extra.bvh", BVH_HEAD BVH_TAIL "Frames: 1\nFrame Time: 0.01\n0 90 0\n0 91 0\n",
                     "15: more frames than the 1");
    expect_bvh_error("short_frame.bvh", BVH_HEAD BVH_TAIL "Frames: 1\nFrame Time: 0.01\n0 90\n",
                     "14: 2 values in a frame of 3 channels");
    expect_bvh_error("channel.bvh",
                     "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 2 Xposition Wrotation\n",
                     "5: unknown channel 'Wrotation'");
    expect_bvh_error("nan.bvh", "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 nan 0\n",
                     "4: OFFSET nan is out of range");
    expect_bvh_error("huge.bvh", "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 1e300 0\n",
                     "4: OFFSET 1e300 is out of range");
    expect_bvh_error("nan_frame.bvh", BVH_HEAD BVH_TAIL "Frames: 1\nFrame Time: 0.01\n0 NaN 0\n",
                     "14: Yposition NaN is out of range");
    expect_bvh_error("count.bvh", BVH_HEAD BVH_TAIL "Frames: 999999999\nFrame Time: 0.01\n",
                     "12: the frame count 999999999 is out of range");
    expect_bvh_error("frame_time.bvh", BVH_HEAD BVH_TAIL "Frames: 1\nFrame Time: 0\n0 90 0\n",
                     "13: Frame Time 0 is not");
    expect_bvh_error("no_offset.bvh", "HIERARCHY\nROOT Hips\n{\n  CHANNELS 1 Xposition\n}\n",
                     "5: joint 'Hips' has no OFFSET");
    expect_bvh_error("twice.bvh",
                     "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Xposition\n"
                     " JOINT Hips\n",
                     "6: joint name 'Hips' appears twice");
    expect_bvh_error("no_motion.bvh", BVH_HEAD "}\n", "6: the file ends inside the HIERARCHY");

    /* too many joints: a chain of 300 */
    size_t size = 300 * 64 + 256;
    char *text = malloc(size), *p = text;
    p += sprintf(p, "HIERARCHY\nROOT j0\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n");
    for (int i = 1; i < 300; i++)
        p += sprintf(p, "JOINT j%d\n{\nOFFSET 0 1 0\nCHANNELS 1 Xrotation\n", i);
    expect_bvh_error("joints.bvh", text, "1026: more than 256 joints");
    free(text);
}

static const char *asf_text(const char *hierarchy)
{
    static char text[2048];
    snprintf(text, sizeof(text),
             ":units\n  length 0.45\n:root\n  order TX TY TZ RX RY RZ\n  axis XYZ\n"
             ":bonedata\n"
             "  begin\n    name a\n    direction 0 -1 0\n    length 10\n    axis 0 0 0 XYZ\n"
             "    dof rx\n  end\n"
             "  begin\n    name b\n    direction 0 1 0\n    length 20\n    axis 0 0 0 XYZ\n"
             "    dof rx ry\n  end\n"
             ":hierarchy\n  begin\n%s  end\n",
             hierarchy);
    return text;
}

static void expect_asf_amc_error(const char *name, const char *asf, const char *amc,
                                 bool amc_at_fault, const char *want)
{
    char asf_name[64], amc_name[64], expected[768];
    snprintf(asf_name, sizeof(asf_name), "%s.asf", name);
    snprintf(amc_name, sizeof(amc_name), "%s.amc", name);
    const char *asf_path = write_file(asf_name, asf), *amc_path = write_file(amc_name, amc);
    struct mocap_clip clip;
    struct errbuf err = {0};
    int r = mocap_asf_amc_load(asf_path, amc_path, 120, MOCAP_SCALE_AUTO, &clip, &err);
    snprintf(expected, sizeof(expected), "%s:%s", amc_at_fault ? amc_path : asf_path, want);
    printf("  %-16s %s\n", name, err.msg);
    assert_int_equal(r, -EBADMSG);
    if (!strstr(err.msg, expected))
        fail_msg("'%s' does not say '%s'", err.msg, expected);
}

#define AMC_FRAME(n) #n "\nroot 0 18 0 0 0 0\na 5\nb 1 2\n"

static void malformed_asf_amc(void **state)
{
    const char *good = "    root a\n    a b\n";
    const char *amc = ":FULLY-SPECIFIED\n:DEGREES\n" AMC_FRAME(1) AMC_FRAME(2);
    struct mocap_clip clip;
    struct errbuf err = {0};
    const char *a = write_file("good.asf", asf_text(good)), *m = write_file("good.amc", amc);
    int r = mocap_asf_amc_load(a, m, 120, MOCAP_SCALE_AUTO, &clip, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    assert_int_equal(clip.frames, 2);
    assert_int_equal(clip.n_joints, 3);
    mocap_clip_done(&clip);

    expect_asf_amc_error("cycle", asf_text("    a b\n    b a\n"), amc, false,
                         "24: bone 'a' is its own ancestor (a cycle in :hierarchy)");
    expect_asf_amc_error("ghost", asf_text("    root a\n    ghost b\n"), amc, false,
                         "24: :hierarchy names 'ghost', which is no bone");
    expect_asf_amc_error("orphan", asf_text("    root a\n"), amc, false,
                         "14: bone 'b' has no parent in :hierarchy");
    expect_asf_amc_error("two_parents", asf_text("    root a b\n    a b\n"), amc, false,
                         "24: bone 'b' has a second parent (the first on line 23)");
    expect_asf_amc_error("no_end", ":root\n  axis XYZ\n:bonedata\n  begin\n    name a\n", amc,
                         false, "5: the file ends inside a bone's begin..end");
    expect_asf_amc_error("dof", ":bonedata\n  begin\n    name a\n    dof rx l\n", amc, false,
                         "4: dof 'l' of bone 'a' is not rx, ry or rz");
    /* found by fuzz_asf_amc: a second dof line overran the dof array */
    expect_asf_amc_error("dof_twice", ":bonedata\n  begin\n    name a\n    dof rx ry\n    dof rz\n",
                         amc, false, "5: bone 'a' has a second dof line");
    expect_asf_amc_error("nan_length", ":bonedata\n  begin\n    name a\n    length nan\n", amc,
                         false, "4: length nan is out of range");
    expect_asf_amc_error("truncated", asf_text(good),
                         ":FULLY-SPECIFIED\n:DEGREES\n" AMC_FRAME(1) "2\nroot 0 18 0 0 0 0\na 5\n",
                         true, "7: this frame lacks segment 'b' (the file is truncated?)");
    expect_asf_amc_error("segment", asf_text(good), ":DEGREES\n1\nroot 0 18 0 0 0 0\nc 5\n", true,
                         "4: segment 'c' is no bone of the skeleton");
    expect_asf_amc_error("values", asf_text(good), ":DEGREES\n1\nroot 0 18 0 0 0 0\nb 5\n", true,
                         "4: segment 'b' has 1 values for its 2 dof");
    expect_asf_amc_error("nan_value", asf_text(good), ":DEGREES\n1\nroot 0 18 0 0 0 0\na nan\n",
                         true, "4: a nan is out of range");
    expect_asf_amc_error("numbering", asf_text(good), ":DEGREES\n" AMC_FRAME(1) AMC_FRAME(3), true,
                         "6: frame number 3 where 2 should be");
    expect_asf_amc_error("empty", asf_text(good), ":FULLY-SPECIFIED\n:DEGREES\n", true,
                         "2: no frames");
}

int main(int argc, char **argv)
{
    bvh_paths = argv + 1;
    n_bvh_paths = argc - 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bvh_rotation_order_and_scale),
        cmocka_unit_test(asf_axis_and_dof),
        cmocka_unit_test(malformed_bvh),
        cmocka_unit_test(malformed_asf_amc),
        cmocka_unit_test(assimp_bvh_files),
        cmocka_unit_test(shared_mocap_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
