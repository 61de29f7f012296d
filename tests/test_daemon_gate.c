/* Integration test of the motion gate in crtd's real pipeline
 * (daemon/pipeline_real.c): the same clip, played as a camera file, through
 * the pipeline with the gate (still_pose_fps 2) and without it (0): the
 * same segments while the gate runs pose on every frame (moving), the same
 * people in view as the same tracks once it holds detections (still), and
 * fewer pose runs. The clip (made here by ffmpeg, lossless) is a photograph
 * of a person panned for 1 s, then held.
 * Usage: test_daemon_gate MOVENET_JSON PHOTO */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "crt.h"
#include "data.h"
#include "pipeline.h"
#include "safetensors.h"

#define SEGMENTS 10 /* 8 s of the 9 s clip at the model's 10 fps, L 8 */

static const char *movenet_path, *photo_path;
static char dir[64];

struct run {
    struct pipeline_result results[SEGMENTS];
    struct pipeline_status status;
};

static void run_clip(const struct pipeline_model *model, const char *clip, double still_pose_fps,
                     struct run *ret)
{
    struct pipeline_source source = {.still_pose_fps = still_pose_fps};
    atomic_bool stop = false;
    struct pipeline *p = NULL;
    struct errbuf err;
    int r;

    errbuf_clear(&err);
    if ((r = pipeline_open(model, clip, &source, &stop, &p, &err)) < 0)
        fail_msg("%s", errbuf_text(&err, r));
    for (int i = 0; i < SEGMENTS; i++)
        if ((r = pipeline_step(p, &ret->results[i], &err)) < 0)
            fail_msg("segment %d: %s", i, errbuf_text(&err, r));
    pipeline_status(p, &ret->status);
    pipeline_free(p);
}

static void gate_keeps_labels(void **state)
{
    char model_path[128], clip[128], cmd[768];
    struct crt_model *m = NULL;
    struct crt_config cfg;
    struct errbuf err;

    crt_config_default(&cfg);
    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    assert_int_equal(crt_model_new(&cfg, smarthome_classes, &m, &err), 0);
    crt_model_init_random(m, 7);
    snprintf(model_path, sizeof(model_path), "%s/crt-random.safetensors", dir);
    assert_int_equal(crt_model_save(m, model_path, SAFETENSORS_F32, &err), 0);
    crt_model_free(m);

    /* 800x480 of the photograph, a 640x480 window panned 160 px over 1 s,
     * then still; lossless, so that still frames decode identically. */
    snprintf(clip, sizeof(clip), "%s/pan.mkv", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -loop 1 -i '%s' -t 9 -r 25 "
             "-vf \"scale=800:480,crop=640:480:'min(t*160,160)':0,format=yuv420p\" "
             "-c:v libx264 -preset ultrafast -qp 0 '%s'",
             photo_path, clip);
    assert_int_equal(system(cmd), 0);

    struct pipeline_model *model = NULL;
    int r = pipeline_model_load(model_path, movenet_path, POSE_ISA_BEST, &model, &err);
    if (r < 0)
        fail_msg("%s", errbuf_text(&err, r));
    static struct run off, on;
    run_clip(model, clip, 0, &off);
    run_clip(model, clip, 2, &on);
    pipeline_model_free(model);

    printf("without the gate: %llu pose frames of %llu sampled; with it: %llu of %llu, "
           "%llu gated\n",
           (unsigned long long)off.status.pose_frames, (unsigned long long)off.status.sampled,
           (unsigned long long)on.status.pose_frames, (unsigned long long)on.status.sampled,
           (unsigned long long)on.status.gated);
    assert_int_equal(off.status.gate, PIPELINE_GATE_OFF);
    assert_int_equal(off.status.gated, 0);
    assert_int_equal(off.status.pose_frames, off.status.sampled);
    /* The gate skipped pose on a good part of the still seconds. */
    assert_true(on.status.pose_frames + 10 <= on.status.sampled);

    /* Where the gate ran pose on every frame of a segment, and on every
     * frame before it, the segment is the same to the last bit (RGB on
     * demand is the same RGB). Past that, pose itself is not a function of
     * the frame alone: its tracking crop moves with each run, so the same
     * still frame gives keypoints that differ by up to 0.1 in score from run
     * to run, and a random model's near-even scores can change label. What
     * must hold there is that the person stays in view, as one track. */
    int people = 0, same = 0, held = 0;
    bool posed_all = true;
    uint64_t pose0 = 0, sampled0 = 0;
    for (int i = 0; i < SEGMENTS; i++) {
        const struct pipeline_result *a = &off.results[i], *b = &on.results[i];
        posed_all = posed_all && b->pose_frames - pose0 == b->sampled - sampled0;
        pose0 = b->pose_frames;
        sampled0 = b->sampled;
        assert_true(a->pts == b->pts);
        assert_int_equal(a->n_people, b->n_people);
        assert_int_equal(a->person, b->person);
        for (unsigned j = 0; j < a->n_people; j++) {
            assert_int_equal(a->people[j].id, b->people[j].id);
            assert_int_equal(a->people[j].in_view, b->people[j].in_view);
        }
        if (posed_all) {
            if (a->label != b->label ||
                memcmp(a->scores, b->scores, a->n_classes * sizeof(a->scores[0])) != 0 ||
                memcmp(a->keypoints, b->keypoints, sizeof(a->keypoints)) != 0)
                fail_msg("segment %d: pose on every frame, yet label %d with the gate, %d "
                         "without",
                         i, b->label, a->label);
        } else {
            held++;
        }
        same += a->label == b->label;
        people += (int)a->n_people;
    }
    printf("labels the same in %d of %d segments; %d segments with frames held\n", same, SEGMENTS,
           held);
    assert_true(held > 0);   /* the gate did hold frames in the comparison */
    assert_true(people > 0); /* pose saw the person: the comparison means something */
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_daemon_gate MOVENET_JSON PHOTO\n");
        return 2;
    }
    movenet_path = argv[1];
    photo_path = argv[2];
    if (access(movenet_path, R_OK) < 0 || access(photo_path, R_OK) < 0) {
        fprintf(stderr, "skipped: %s or %s missing (run scripts/setup)\n", movenet_path,
                photo_path);
        return 77;
    }
    strcpy(dir, "/tmp/crtd-gate-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gate_keeps_labels),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (r == 0 && system(cmd) != 0)
        return 1;
    if (r != 0)
        fprintf(stderr, "files kept in %s\n", dir);
    return r;
}
