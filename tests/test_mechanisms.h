/* test_mechanisms: what the files of the mechanisms' numeric test share
 * (test_mechanisms.c: the registry, the reference, outputs and gradients;
 * test_mechanisms_state.c: states, model files and threads). */
#ifndef CRTD_TESTS_TEST_MECHANISMS_H
#define CRTD_TESTS_TEST_MECHANISMS_H

#include <stddef.h>
#include <stdint.h>

#include "crt.h"
#include "safetensors.h"

/* Every number within this of PyTorch's: |crtd - torch| / max(1, |torch|),
 * which is the absolute error where the values are at most 1 (the CRT's
 * memories) and the relative error where they grow (sums, caches). */
#define OUT_TOLERANCE 1e-4
/* Every gradient tensor within this, relative to its largest value. */
#define GRAD_TOLERANCE 1e-3

/* One name of the registry (crt_variant_name), what it stands for, and the
 * stem of the reference's file names: "<architecture>_<variant>". */
struct mech {
    const char *name;
    char architecture[CRT_NAME_MAX], variant[CRT_NAME_MAX];
    char stem[2 * CRT_NAME_MAX + 1];
};

extern struct mech *mechs;
extern int n_mechs;
extern char ref_dir[4096];

/* The files mechanisms_ref.py writes per name: suffixes of the stem. */
extern const char *const file_suffixes[];
extern const int n_file_suffixes;

/* A model file and its expected values. */
struct fixture {
    char name[96];
    struct crt_model *model;
    struct safetensors *expected;
    float *features; /* [clips, frames_max, F] */
    float *n_frames; /* [clips] */
    float *logits;   /* [clips, segments, C] */
    float *memory;   /* [clips, segments, mem_width] */
    int clips, frames_max, segments;
    size_t S, mem_width; /* memory floats; their row in the file (1 when S is 0) */
};

void fixture_load(struct fixture *fx, const struct mech *m, const char *suffix);
void fixture_done(struct fixture *fx);
const float *clip_features(const struct fixture *fx, int clip);
/* Streams one clip from m_0: its logits, [segments][C]. */
void run_clip(const struct fixture *fx, int clip, float *logits);

/* The state tests of test_mechanisms_state.c, each over every name. */
void state_round_trip_all(void **state);
void state_bound_to_model_all(void **state);
void xl_state_with_a_bad_count_is_refused(void **state);
void save_load_round_trip_all(void **state);
void threads_share_model_all(void **state);

#endif
