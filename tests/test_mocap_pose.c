/* Unit tests of motion capture as pose sequences (data/mocap_coco.c,
 * data/mocap_view.c, data/mocap_index.c), on a standing figure written as a
 * BVH at run time (metres, Y up, facing +Z, walking to +X at 1.2 m/s):
 * the COCO-17 mapping and the face, projection through a camera in front
 * and one behind (image order from head to feet, left and right where they
 * belong), resampled frame counts and interpolation, seeded cameras within
 * their ranges, and the index's rows, skeleton pairing and errors. */
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

static const char *tmp_path(const char *name)
{
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 512, "%s/mocap-pose-%d-%s", tmp_dir(), (int)getpid(), name);
    return p;
}

static const char *write_file(const char *name, const char *text)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* The figure's joints: name, parent (index), offset from the parent in m. */
static const struct {
    const char *name;
    int parent;
    double offset[3];
    double end[3]; /* an End Site's offset, or all zero for none */
} figure[] = {
    {"Hips", -1, {0, 0.95, 0}, {0}},
    {"LeftHip", 0, {0.1, 0, 0}, {0}},
    {"LeftKnee", 1, {0, -0.45, 0}, {0}},
    {"LeftAnkle", 2, {0, -0.42, 0}, {0, -0.05, 0.1}},
    {"RightHip", 0, {-0.1, 0, 0}, {0}},
    {"RightKnee", 4, {0, -0.45, 0}, {0}},
    {"RightAnkle", 5, {0, -0.42, 0}, {0, -0.05, 0.1}},
    {"Chest", 0, {0, 0.3, 0}, {0}},
    {"Neck", 7, {0, 0.2, 0}, {0}},
    {"Head", 8, {0, 0.1, 0}, {0, 0.12, 0}},
    {"LeftShoulder", 7, {0.18, 0.18, 0}, {0}},
    {"LeftElbow", 10, {0, -0.28, 0}, {0}},
    {"LeftWrist", 11, {0, -0.25, 0}, {0, -0.08, 0}},
    {"RightShoulder", 7, {-0.18, 0.18, 0}, {0}},
    {"RightElbow", 13, {0, -0.28, 0}, {0}},
    {"RightWrist", 14, {0, -0.25, 0}, {0, -0.08, 0}},
};
#define FIGURE_JOINTS ((int)(sizeof(figure) / sizeof(figure[0])))

static void write_joint(FILE *f, int j, int depth, const char *rename_wrist)
{
    const char *name = figure[j].name;
    if (rename_wrist && strcmp(name, "LeftWrist") == 0)
        name = rename_wrist;
    fprintf(f, "%*s%s %s\n%*s{\n%*sOFFSET %g %g %g\n", depth * 2, "", j ? "JOINT" : "ROOT", name,
            depth * 2, "", depth * 2 + 2, "", figure[j].offset[0], figure[j].offset[1],
            figure[j].offset[2]);
    fprintf(f, "%*sCHANNELS %s\n", depth * 2 + 2, "",
            j ? "3 Zrotation Yrotation Xrotation"
              : "6 Xposition Yposition Zposition Zrotation Yrotation Xrotation");
    for (int c = 0; c < FIGURE_JOINTS; c++)
        if (figure[c].parent == j)
            write_joint(f, c, depth + 1, rename_wrist);
    const double *e = figure[j].end;
    if (e[0] || e[1] || e[2])
        fprintf(f, "%*sEnd Site\n%*s{\n%*sOFFSET %g %g %g\n%*s}\n", depth * 2 + 2, "",
                depth * 2 + 2, "", depth * 2 + 4, "", e[0], e[1], e[2], depth * 2 + 2, "");
    fprintf(f, "%*s}\n", depth * 2, "");
}

/* frames at 120 fps; the root moves 1 cm a frame along +X. */
static const char *write_figure(const char *name, int frames, const char *rename_wrist)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("HIERARCHY\n", f);
    write_joint(f, 0, 0, rename_wrist);
    fprintf(f, "MOTION\nFrames: %d\nFrame Time: 0.0083333333\n", frames);
    for (int t = 0; t < frames; t++) {
        fprintf(f, "%g 0 0 0 0 0", 0.01 * t);
        for (int j = 1; j < FIGURE_JOINTS; j++)
            fputs(" 0 0 0", f);
        fputc('\n', f);
    }
    fclose(f);
    return p;
}

static void load_figure(struct mocap_clip *clip, int frames)
{
    struct errbuf err = {0};
    int r = mocap_bvh_load(write_figure("figure.bvh", frames, NULL), 1.0, clip, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
}

enum { NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR, LEFT_SHOULDER, RIGHT_SHOULDER };
enum { LEFT_HIP = 11, RIGHT_HIP, LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE };

static void coco_mapping_of_a_standing_figure(void **state)
{
    (void)state;
    struct mocap_clip clip;
    struct mocap_coco_map map;
    struct mocap_coco_pose pose;
    struct errbuf err = {0};
    load_figure(&clip, 121);
    int r = mocap_coco_map_find(&clip, &map, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_non_null(strstr(map.skeleton, "3ds Max"));
    /* legs 0.87, mid-hip to head base 0.6, head 0.12, 0.05 under the ankle */
    printf("height %.3f m (expected 1.64)\n", map.height);
    assert_true(fabs(map.height - 1.64) < 1e-3);

    mocap_coco_world(&clip, &map, 0, &pose);
    double(*p)[3] = pose.points;
    double shoulders = 0.5 * (p[LEFT_SHOULDER][1] + p[RIGHT_SHOULDER][1]);
    double hips = 0.5 * (p[LEFT_HIP][1] + p[RIGHT_HIP][1]);
    double ankles = 0.5 * (p[LEFT_ANKLE][1] + p[RIGHT_ANKLE][1]);
    printf("heights: nose %.3f, shoulders %.3f, hips %.3f, ankles %.3f m\n", p[NOSE][1], shoulders,
           hips, ankles);
    assert_true(p[NOSE][1] > shoulders + 0.05);
    assert_true(shoulders > hips + 0.3);
    assert_true(hips > ankles + 0.7);
    assert_true(fabs(p[LEFT_SHOULDER][1] - 1.43) < 1e-4 && fabs(p[LEFT_SHOULDER][0] - 0.18) < 1e-4);
    assert_true(fabs(p[LEFT_ANKLE][1] - 0.08) < 1e-4 && fabs(p[RIGHT_ANKLE][0] + 0.1) < 1e-4);
    assert_true(fabs(p[9][1] - 0.9) <
                1e-4); /* the left wrist at the wrist joint, not the End Site */
    /* The face looks forward (+Z) with the person's left at +X; the eyes are
     * above the nose and under the crown (1.67 m), the ears beside. */
    assert_true(p[NOSE][2] > 0.05);
    assert_true(p[LEFT_EYE][0] > 0 && p[RIGHT_EYE][0] < 0);
    assert_true(p[LEFT_EAR][0] > p[LEFT_EYE][0] && p[RIGHT_EAR][0] < p[RIGHT_EYE][0]);
    assert_true(p[LEFT_EYE][1] > p[NOSE][1] && p[LEFT_EYE][1] < 1.67);
    assert_true(pose.left[0] > 0.99 && pose.front[2] > 0.99);
    assert_true(fabs(pose.pelvis[1] - 0.95) < 1e-6);
    mocap_clip_done(&clip);
}

static void coco_mapping_names_missing_joints(void **state)
{
    (void)state;
    struct mocap_clip clip;
    struct mocap_coco_map map;
    struct errbuf err = {0};
    int r = mocap_bvh_load(write_figure("nowrist.bvh", 3, "LeftPaw"), 1.0, &clip, &err);
    assert_int_equal(r, 0);
    r = mocap_coco_map_find(&clip, &map, &err);
    printf("%s\n", err.msg);
    assert_int_equal(r, -ENOENT);
    assert_non_null(strstr(err.msg, "3ds Max"));
    assert_non_null(strstr(err.msg, "lacking LeftWrist"));
    mocap_clip_done(&clip);
}

static void resampling(void **state)
{
    (void)state;
    struct mocap_clip clip;
    struct mocap_coco_pose pose;
    struct mocap_coco_map map;
    load_figure(&clip, 121); /* 121 frames at 120 fps: 1.008 s */
    assert_int_equal(mocap_resampled_frames(&clip, 10), 10);
    assert_int_equal(mocap_resampled_frames(&clip, 30), 30);
    assert_int_equal(mocap_resampled_frames(&clip, 120), 121);
    assert_int_equal(mocap_resampled_frames(&clip, 0), 0);
    assert_int_equal(mocap_coco_map_find(&clip, &map, NULL), 0);
    /* Between captured frames positions are linear; past the end, the last. */
    mocap_coco_world(&clip, &map, 0.5, &pose);
    assert_true(fabs(pose.pelvis[0] - 0.6) < 1e-4);
    mocap_coco_world(&clip, &map, 0.5 / 120, &pose);
    assert_true(fabs(pose.pelvis[0] - 0.005) < 1e-6);
    mocap_coco_world(&clip, &map, 5, &pose);
    assert_true(fabs(pose.pelvis[0] - 1.2) < 1e-4);
    mocap_clip_done(&clip);

    load_figure(&clip, 12); /* 0.1 s */
    assert_int_equal(mocap_resampled_frames(&clip, 10), 1);
    assert_int_equal(mocap_resampled_frames(&clip, 25), 2);
    mocap_clip_done(&clip);
}

/* The figure's frame 0 through a camera 4 m away on the +Z side (in front)
 * or the -Z side (behind), 2.2 m up, looking at the chest. */
static void render_frame(const struct mocap_clip *clip, double z, struct pose_sequence *seq)
{
    struct mocap_coco_map map;
    struct mocap_camera cam = {.position = {0, 2.2, z}, .target = {0, 1.0, 0}, .hfov = 70};
    struct rng rng;
    struct errbuf err = {0};
    const char *classes[] = {"Walk"};
    assert_int_equal(mocap_coco_map_find(clip, &map, NULL), 0);
    assert_int_equal(
        pose_sequence_init(seq, mocap_resampled_frames(clip, 10), 10, classes, 1, NULL), 0);
    rng_seed(&rng, 1);
    int r = mocap_view_render(seq, clip, &map, &cam, 0, SYNTH_NOISE_V1, &rng, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
}

static void projection_through_cameras(void **state)
{
    (void)state;
    struct mocap_clip clip;
    struct pose_sequence seq;
    load_figure(&clip, 13);

    render_frame(&clip, 4, &seq);
    const struct pose_keypoint *k = seq.keypoints[0];
    double shoulders = 0.5 * (k[LEFT_SHOULDER].y + k[RIGHT_SHOULDER].y);
    double hips = 0.5 * (k[LEFT_HIP].y + k[RIGHT_HIP].y);
    double ankles = 0.5 * (k[LEFT_ANKLE].y + k[RIGHT_ANKLE].y);
    printf("in front: image y nose %.3f, shoulders %.3f, hips %.3f, ankles %.3f; "
           "shoulder x left %.3f right %.3f\n",
           k[NOSE].y, shoulders, hips, ankles, k[LEFT_SHOULDER].x, k[RIGHT_SHOULDER].x);
    assert_true(k[NOSE].y < shoulders && shoulders < hips && hips < ankles);
    /* Facing the camera, the person's left is on the picture's right. */
    assert_true(k[LEFT_SHOULDER].x > k[RIGHT_SHOULDER].x);
    assert_true(k[LEFT_HIP].x > k[RIGHT_HIP].x && k[LEFT_EYE].x > k[RIGHT_EYE].x);
    for (int j = 0; j < 17; j++) {
        assert_true(k[j].x > 0 && k[j].x < 1 && k[j].y > 0 && k[j].y < 1);
        assert_true(fabs(k[j].score - 0.9) < 1e-6); /* clean: the estimator's quality */
    }
    /* The picture is 4:3 and the camera looks at x = 0: the body's middle
     * is in the middle column. */
    assert_true(fabs(0.5 * (k[LEFT_HIP].x + k[RIGHT_HIP].x) - 0.5) < 1e-4);
    pose_sequence_done(&seq);

    render_frame(&clip, -4, &seq);
    k = seq.keypoints[0];
    printf("behind: shoulder x left %.3f right %.3f, nose score %.2f\n", k[LEFT_SHOULDER].x,
           k[RIGHT_SHOULDER].x, k[NOSE].score);
    assert_true(k[LEFT_SHOULDER].x < k[RIGHT_SHOULDER].x);
    assert_true(k[NOSE].y < k[LEFT_HIP].y);
    assert_true(k[NOSE].score < 0.5); /* the face turned away */
    pose_sequence_done(&seq);

    /* The figure walks 1.2 m to +X in a second: it moves right in front. */
    mocap_clip_done(&clip);
    load_figure(&clip, 121);
    render_frame(&clip, 4, &seq);
    assert_int_equal(seq.frames, 10);
    assert_true(seq.keypoints[9][LEFT_HIP].x > seq.keypoints[0][LEFT_HIP].x + 0.1);
    pose_sequence_done(&seq);
    mocap_clip_done(&clip);
}

static void seeded_cameras(void **state)
{
    (void)state;
    struct mocap_clip clip;
    struct mocap_coco_map map;
    struct errbuf err = {0};
    const char *classes[] = {"Walk"};
    load_figure(&clip, 121);
    assert_int_equal(mocap_coco_map_find(&clip, &map, NULL), 0);
    int frames = mocap_resampled_frames(&clip, 10);
    struct pose_sequence a, b;
    for (int camera = 0; camera < 50; camera++) {
        struct rng rng;
        struct mocap_camera cam;
        mocap_view_seed(&rng, 7, "figure", camera);
        mocap_camera_random(&cam, &clip, &map, &rng);
        assert_true(cam.position[1] >= MOCAP_CAMERA_MIN_HEIGHT &&
                    cam.position[1] < MOCAP_CAMERA_MAX_HEIGHT);
        assert_true(cam.hfov >= MOCAP_CAMERA_MIN_HFOV && cam.hfov < MOCAP_CAMERA_MAX_HFOV);
        assert_true(cam.target[1] < cam.position[1]); /* tilted down */
        /* 1.5 m or more from every point of the track (x 0..1.2, z 0). */
        for (double x = 0; x <= 1.2; x += 0.1)
            assert_true(hypot(cam.position[0] - x, cam.position[2]) >= 1.5 - 1e-9);
        assert_int_equal(pose_sequence_init(&a, frames, 10, classes, 1, NULL), 0);
        assert_int_equal(mocap_view_render(&a, &clip, &map, &cam, 1, SYNTH_NOISE_V1, &rng, &err),
                         0);
        for (int f = 0; f < frames; f++)
            for (int j = 0; j < 17; j++) {
                const struct pose_keypoint *k = &a.keypoints[f][j];
                assert_true(k->x >= 0 && k->x <= 1 && k->y >= 0 && k->y <= 1);
                assert_true(k->score >= 0 && k->score <= 1);
            }
        /* The same seed, clip and camera: the same file. */
        mocap_view_seed(&rng, 7, "figure", camera);
        mocap_camera_random(&cam, &clip, &map, &rng);
        assert_int_equal(pose_sequence_init(&b, frames, 10, classes, 1, NULL), 0);
        assert_int_equal(mocap_view_render(&b, &clip, &map, &cam, 1, SYNTH_NOISE_V1, &rng, &err),
                         0);
        assert_memory_equal(a.keypoints, b.keypoints, sizeof(*a.keypoints) * (size_t)frames);
        pose_sequence_done(&b);
        /* Another camera sees something else. */
        mocap_view_seed(&rng, 7, "figure", camera + 1);
        mocap_camera_random(&cam, &clip, &map, &rng);
        assert_int_equal(pose_sequence_init(&b, frames, 10, classes, 1, NULL), 0);
        assert_int_equal(mocap_view_render(&b, &clip, &map, &cam, 1, SYNTH_NOISE_V1, &rng, &err),
                         0);
        assert_memory_not_equal(a.keypoints, b.keypoints, sizeof(*a.keypoints) * (size_t)frames);
        pose_sequence_done(&b);
        pose_sequence_done(&a);
    }
    /* A sequence of the wrong length is refused. */
    struct rng rng;
    struct mocap_camera cam = {.position = {0, 2, 4}, .target = {0, 1, 0}, .hfov = 60};
    rng_seed(&rng, 1);
    assert_int_equal(pose_sequence_init(&a, frames + 1, 10, classes, 1, NULL), 0);
    assert_int_equal(mocap_view_render(&a, &clip, &map, &cam, 1, SYNTH_NOISE_V1, &rng, &err),
                     -EINVAL);
    printf("%s\n", err.msg);
    pose_sequence_done(&a);
    mocap_clip_done(&clip);
}

static void index_rows_and_skeletons(void **state)
{
    (void)state;
    char text[2048];
    struct mocap_index index;
    struct errbuf err = {0};
    const char *bvh = write_figure("indexed.bvh", 121, NULL);
    const char *base = strrchr(bvh, '/') + 1;
    snprintf(text, sizeof(text),
             "file\tsource_repo\tcmu_subject_trial\tcmu_description\tactivity\tfps\n"
             "%s\tx\t140_01\tstand up\tWalk\t\n"
             "a/13.asf\tx\t13\tASF skeleton of CMU subject 13\tskeleton\t\n"
             "a/13_09.amc\tx\t13_09\tdrink soda\tDrink.Frombottle\t120\r\n"
             "b/HDM_mm.asf\tx\tHDM05 actor mm\tASF\tskeleton\t\n"
             "b/HDM_mm_lieDownFloor_015_120.amc\tx\tHDM05 HDM_mm_lieDownFloor_015_120\tlie\t"
             "Laydown\t120\n"
             "c/02_01 - walk.amc\tx\t02_01\twalk\tWalk\t120\n"
             "d/13_01.amc\tx\t13_01\tsit\tSitdown\t120\n"
             "d/HDM_13_x.amc\tx\tHDM05 HDM_13_x\tsit\tSitdown\t120\n",
             base);
    const char *path = write_file("index.tsv", text);
    int r = mocap_index_load(path, &index, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(index.n, 8);
    assert_int_equal(index.rows[2].class_index, smarthome_class_index("Drink.Frombottle"));
    assert_true(index.rows[2].fps == 120 && index.rows[2].line == 4);
    assert_string_equal(index.rows[2].subject, "13");
    assert_int_equal(index.rows[2].source, MOCAP_SOURCE_CMU);
    assert_string_equal(index.rows[4].subject, "mm");
    assert_string_equal(index.rows[3].subject, "mm");
    assert_int_equal(index.rows[4].source, MOCAP_SOURCE_HDM05);
    assert_false(mocap_source_info(MOCAP_SOURCE_HDM05)->training);
    assert_non_null(
        strstr(mocap_source_info(MOCAP_SOURCE_CMU)->acknowledgement, "NSF EIA-0196217"));
    assert_int_equal(mocap_index_skeleton(&index, 2, NULL), 1);
    assert_int_equal(mocap_index_skeleton(&index, 4, NULL), 3);
    assert_int_equal(mocap_index_skeleton(&index, 5, &err), -ENOENT);
    printf("%s\n", err.msg);
    assert_non_null(strstr(err.msg, ":7 (c/02_01 - walk.amc): no skeleton row (an .asf of cmu "
                                    "subject '02')"));
    /* Another folder's skeleton of the same subject and source, not another source's. */
    assert_int_equal(mocap_index_skeleton(&index, 6, NULL), 1);
    assert_int_equal(mocap_index_skeleton(&index, 7, NULL), -ENOENT);

    char name[256];
    assert_int_equal(
        mocap_index_pose_name(&index.rows[2], "Drink.Frombottle", 3, name, sizeof(name)), 0);
    assert_string_equal(name, "Drink.Frombottle_s13_c03_13_09.pose");
    assert_int_equal(mocap_index_pose_name(&index.rows[4], "Laydown", 1, name, sizeof(name)), 0);
    assert_string_equal(name, "Laydown_smm_c01_HDM_mm_lieDownFloor_015_120.pose");

    /* Selecting: the BVH by its path, a folder by name (its files need not
     * exist yet), a file that is no clip of the index refused. */
    bool selected[8] = {false};
    int count = 0;
    assert_int_equal(mocap_index_select(&index, bvh, selected, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_true(selected[0] && !selected[2]);
    assert_int_equal(mocap_index_select(&index, path, selected, &count, &err), -ENOENT);
    printf("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "not a clip of"));
    assert_int_equal(mocap_index_select(&index, tmp_dir(), selected, &count, &err), 0);
    assert_int_equal(count, 5); /* the five AMC rows; skeletons are never chosen */
    assert_false(selected[1] || selected[3]);

    /* Loading: the BVH's frame rate from the file; a missing AMC named. */
    struct mocap_clip clip;
    assert_int_equal(mocap_index_load_clip(&index, 0, &clip, &err), 0);
    assert_int_equal(clip.frames, 121);
    mocap_clip_done(&clip);
    r = mocap_index_load_clip(&index, 2, &clip, &err);
    printf("%s\n", err.msg);
    assert_true(r < 0);
    assert_non_null(strstr(err.msg, "a/13.asf"));
    mocap_index_done(&index);

    /* A row whose activity is no Smarthome class is refused by line and file. */
    path = write_file("bad-index.tsv", "file\tcmu_subject_trial\tactivity\tfps\n"
                                       "x.bvh\t1_1\tWalk\t\n"
                                       "y.amc\t1_2\tDrinking\t120\n");
    assert_int_equal(mocap_index_load(path, &index, &err), -EBADMSG);
    printf("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "bad-index.tsv:3 (y.amc): activity 'Drinking' is not"));
    path = write_file("bad-fps.tsv",
                      "file\tcmu_subject_trial\tactivity\tfps\ny.amc\t1_2\tWalk\tfast\n");
    assert_int_equal(mocap_index_load(path, &index, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, ":2 (y.amc): fps 'fast'"));
    path = write_file("no-column.tsv", "file\tactivity\tfps\ny.amc\tWalk\t120\n");
    assert_int_equal(mocap_index_load(path, &index, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "no column 'cmu_subject_trial'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(coco_mapping_of_a_standing_figure),
        cmocka_unit_test(coco_mapping_names_missing_joints),
        cmocka_unit_test(resampling),
        cmocka_unit_test(projection_through_cameras),
        cmocka_unit_test(seeded_cameras),
        cmocka_unit_test(index_rows_and_skeletons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
