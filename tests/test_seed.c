/* The other memory mechanisms (docs/MODEL.md, after the CRT) against their
 * PyTorch reference (suite numeric).
 *
 * tests/ref/seed_ref.py writes, at test time, a random-weight model file per
 * variant, clips of features with PyTorch's logits and memories, and for
 * training a batch with PyTorch's gradients. For every variant crtd must
 * agree within 1e-4 (max |crtd - torch| / max(1, |torch|)) on the logits and
 * memories, batched over whole clips and streamed one frame at a time; a
 * stream saved mid-segment and restored into a fresh stream continues bit for
 * bit; the trainer's gradients agree within 1e-3 relative on every tensor. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "crt_internal.h"
#include <zlib.h> /* crc32: to mend a blob damaged on purpose */
#include "safetensors.h"
#include "crt.h"
#include "data.h"
#include "train.h"
#include "refscript.h"
#include "tl_tensor.h"

#define OUT_TOLERANCE  1e-4
#define GRAD_TOLERANCE 1e-3

/* The file names seed_ref.py writes (its VARIANTS). */
static const char *const variants[] = {"none_mean", "none_last", "rmt_m3",   "xl_m1",
                                       "full_w3",   "brt_fixed", "brt_lstm", "srf_raf"};

static char ref_dir[4096];

static int run_reference(void **state)
{
    (void)state;
    snprintf(ref_dir, sizeof(ref_dir), "%s/seed-ref", refscript_env_or("CRTD_TEST_TMP", "."));
    const char *env = "CRTD_SEED_REF", *script = "tests/ref/seed_ref.py";
    return refscript_run(env, script, "models", ref_dir) < 0 ||
                   refscript_run(env, script, "grads", ref_dir) < 0
               ? -1
               : 0;
}

static double rel_err(float got, float want)
{
    return fabs((double)got - want) / fmax(1.0, fabs(want));
}

static void outputs_match(const char *name)
{
    char path[8192];
    struct errbuf err = {0};
    struct crt_model *model = NULL;
    struct safetensors *ref = NULL;
    snprintf(path, sizeof(path), "%s/%s.safetensors", ref_dir, name);
    if (crt_model_load(path, &model, &err) < 0)
        fail_msg("%s", err.msg);
    snprintf(path, sizeof(path), "%s/%s.expected.safetensors", ref_dir, name);
    if (safetensors_open(path, &ref, &err) < 0)
        fail_msg("%s", err.msg);

    const struct crt_config *cfg = crt_model_config(model);
    const int64_t *fshape, *lshape, *mshape;
    float *feats = tl_tensor_load(ref, "features", -1, &fshape, NULL);
    float *nf = tl_tensor_load(ref, "n_frames", -1, NULL, NULL);
    float *want_logits = tl_tensor_load(ref, "logits", -1, &lshape, NULL);
    float *want_mem = tl_tensor_load(ref, "memory", -1, &mshape, NULL);
    int n = (int)fshape[0], max_frames = (int)fshape[1], F = (int)fshape[2];
    int SEG = (int)lshape[1], C = cfg->n_classes, L = cfg->segment_len;
    size_t S = crt_model_memory_floats(model), MS = (size_t)mshape[2];
    assert_int_equal(F, cfg->n_features);
    assert_true(n <= 16 && (S == MS || (S == 0 && MS == 1)));

    /* Batched over whole clips. */
    const float *fp[16];
    int n_frames[16];
    float *got_logits = calloc((size_t)n * SEG * C, sizeof(float));
    float *got_mem = calloc((size_t)n * SEG * (S + 1), sizeof(float));
    float *lp[16], *mp[16];
    for (int c = 0; c < n; c++) {
        fp[c] = feats + (size_t)c * max_frames * F;
        n_frames[c] = (int)nf[c];
        lp[c] = got_logits + (size_t)c * SEG * C;
        mp[c] = got_mem + (size_t)c * SEG * (S + 1);
    }
    struct crt_workspace *ws = NULL;
    assert_int_equal(crt_workspace_new(model, 3, &ws), 0);
    assert_int_equal(crt_model_run_clips(model, ws, n, fp, n_frames, lp, NULL, mp), 0);
    double worst_logit = 0, worst_mem = 0;
    for (int c = 0; c < n; c++)
        for (int s = 0; s < n_frames[c] / L; s++) {
            for (int k = 0; k < C; k++)
                worst_logit =
                    fmax(worst_logit,
                         rel_err(lp[c][s * C + k], want_logits[((size_t)c * SEG + s) * C + k]));
            for (size_t k = 0; k < S; k++)
                worst_mem = fmax(
                    worst_mem, rel_err(mp[c][s * S + k], want_mem[((size_t)c * SEG + s) * MS + k]));
        }

    /* Streamed a frame at a time, saved and restored mid-segment. */
    struct crt_stream *st = NULL, *st2 = NULL;
    assert_int_equal(crt_stream_new(model, &st), 0);
    assert_int_equal(crt_stream_new(model, &st2), 0);
    size_t cap = crt_stream_save_size(model), len = 0;
    uint8_t *blob = malloc(cap);
    float lg[64], lg2[64];
    double worst_stream = 0;
    int seg = 0;
    for (int f = 0; f < n_frames[0]; f++) {
        const float *x = fp[0] + (size_t)f * F;
        if (f == n_frames[0] / 2 + 1) {
            assert_int_equal(crt_stream_save(st, blob, cap, &len), 0);
            assert_int_equal(crt_stream_restore(st2, blob, len, &err), 0);
        }
        int r = crt_stream_push(st, x, lg, NULL);
        if (f > n_frames[0] / 2) {
            assert_int_equal(crt_stream_push(st2, x, lg2, NULL), r);
            if (r == 1)
                assert_memory_equal(lg, lg2, (size_t)C * sizeof(float));
        }
        if (r == 1) {
            for (int k = 0; k < C; k++)
                worst_stream = fmax(worst_stream, rel_err(lg[k], want_logits[(size_t)seg * C + k]));
            seg++;
        }
    }
    assert_int_equal(seg, n_frames[0] / L);
    assert_memory_equal(crt_stream_memory(st), crt_stream_memory(st2), S * sizeof(float));
    printf("# %s: worst error batched logits %.2e, memory %.2e, streamed logits %.2e "
           "(tolerance %.0e); state %zu floats, blob %zu bytes\n",
           name, worst_logit, worst_mem, worst_stream, OUT_TOLERANCE, S, len);
    assert_true(worst_logit < OUT_TOLERANCE && worst_mem < OUT_TOLERANCE &&
                worst_stream < OUT_TOLERANCE);

    free(blob);
    crt_stream_free(st);
    crt_stream_free(st2);
    crt_workspace_free(ws);
    free(got_logits);
    free(got_mem);
    free(feats);
    free(nf);
    free(want_logits);
    free(want_mem);
    safetensors_free(ref);
    crt_model_free(model);
}

static void gradients_match(const char *name)
{
    char path[8192];
    struct errbuf err = {0};
    struct crt_model *model = NULL;
    struct crt_trainer *trainer = NULL;
    struct safetensors *ref = NULL;
    snprintf(path, sizeof(path), "%s/train_%s.safetensors", ref_dir, name);
    if (crt_model_load(path, &model, &err) < 0)
        fail_msg("%s", err.msg);
    snprintf(path, sizeof(path), "%s/train_%s.grads.safetensors", ref_dir, name);
    if (safetensors_open(path, &ref, &err) < 0)
        fail_msg("%s", err.msg);

    const int64_t *fshape;
    float *feats = tl_tensor_load(ref, "features", -1, &fshape, NULL);
    int B = (int)fshape[0], frames = (int)fshape[1], F = (int)fshape[2];
    const struct crt_config *cfg = crt_model_config(model);
    int W = frames / cfg->segment_len;
    assert_true(B <= 16 && B * W <= 256);

    struct crt_train_options opts;
    crt_train_options_default(&opts);
    opts.max_batch = B;
    opts.max_window = W;
    if (crt_trainer_new(model, &opts, &trainer, &err) < 0)
        fail_msg("%s", err.msg);
    float *targets_f = tl_tensor_load(ref, "targets", -1, NULL, NULL);
    float *weights = tl_tensor_load(ref, "weights", -1, NULL, NULL);
    float *loss_ref = tl_tensor_load(ref, "loss", -1, NULL, NULL);
    const float *ptrs[16];
    int targets[256];
    bool from_start[16];
    size_t S = crt_model_memory_floats(model);
    float *mem = calloc((size_t)B * S + 1, sizeof(float));
    for (int b = 0; b < B; b++) {
        ptrs[b] = feats + (size_t)b * frames * F;
        from_start[b] = true;
        crt_model_initial_memory(model, mem + b * S);
    }
    for (int k = 0; k < B * W; k++)
        targets[k] = (int)targets_f[k];

    crt_trainer_zero_grad(trainer);
    double loss =
        crt_trainer_forward_backward(trainer, B, W, ptrs, targets, weights, from_start, mem, NULL);
    double loss_err = fabs(loss - loss_ref[0]) / fabs(loss_ref[0]);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < crt_model_param_count(model); i++) {
        const char *pname;
        size_t numel;
        char ref_name[128];
        crt_model_param_info(model, i, &pname, NULL, NULL, &numel);
        snprintf(ref_name, sizeof(ref_name), "grad.%s", pname);
        float *expected = tl_tensor_load(ref, ref_name, -1, NULL, NULL);
        const float *got = crt_trainer_grad(trainer, pname);
        struct tl_tensor_diff d;
        tl_tensor_diff(&d, got, expected, numel);
        /* A tensor without gradient (both zero) counts as exact. */
        double rel = d.max_abs_want > 1e-10 ? d.max_abs_err / d.max_abs_want : d.max_abs_err;
        if (rel >= GRAD_TOLERANCE)
            printf("#   %s: relative error %.2e\n", pname, rel);
        if (rel > worst) {
            worst = rel;
            worst_name = pname;
        }
        free(expected);
    }
    printf("# %s: loss %.6f, PyTorch %.6f (relative error %.1e); worst relative gradient error "
           "%.2e in '%s' over %d tensors (tolerance %.0e)\n",
           name, loss, loss_ref[0], loss_err, worst, worst_name, crt_model_param_count(model),
           GRAD_TOLERANCE);
    assert_true(loss_err < 1e-5);
    assert_true(worst < GRAD_TOLERANCE);

    free(mem);
    free(feats);
    free(targets_f);
    free(weights);
    free(loss_ref);
    safetensors_free(ref);
    crt_trainer_free(trainer);
    crt_model_free(model);
}

static void all_outputs_match_pytorch(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
        outputs_match(variants[i]);
}

static void all_gradients_match_pytorch(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
        gradients_match(variants[i]);
}

/* Every variant name of `crt train --variant` makes a model that runs. */
static void every_variant_name_makes_a_model(void **state)
{
    (void)state;
    for (int i = 0; crt_variant_name(i); i++) {
        struct crt_config cfg;
        struct crt_model *m = NULL;
        struct errbuf err = {0};
        crt_config_default(&cfg);
        cfg.n_classes = SMARTHOME_NUM_CLASSES;
        cfg.d_model = 16;
        cfg.n_heads = 2;
        cfg.d_ff = 32;
        assert_int_equal(crt_variant_parse(crt_variant_name(i), &cfg), 0);
        if (crt_model_new(&cfg, smarthome_classes, &m, &err) < 0)
            fail_msg("%s: %s", crt_variant_name(i), err.msg);
        assert_true(crt_model_flops_per_segment(m) > 0);
        crt_model_free(m);
    }
    struct crt_config cfg;
    crt_config_default(&cfg);
    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    assert_int_equal(crt_variant_parse("no-such-thing", &cfg), -EINVAL);
}

/* An XL state keeps the number of segments cached as its first memory float
 * and its attention indexes by it: a restored blob whose count is no count
 * from 0 to M (found by fuzz_state, tests/fuzz/corpus/state/crash-xl-*), or
 * that holds a value that is not finite, is refused with a checksum that is
 * right, and the stream stays as it was. */
static void xl_state_with_a_bad_count_is_refused(void **state)
{
    (void)state;
    struct crt_config cfg;
    struct crt_model *m = NULL;
    struct errbuf err = {0};
    crt_config_default(&cfg);
    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    assert_int_equal(crt_variant_parse("xl", &cfg), 0);
    cfg.d_model = 16, cfg.n_heads = 2, cfg.d_ff = 32, cfg.n_layers = 1, cfg.segment_len = 4;
    assert_int_equal(crt_model_new(&cfg, smarthome_classes, &m, &err), 0);
    crt_model_init_random(m, 3);
    struct crt_stream *a, *b;
    assert_int_equal(crt_stream_new(m, &a), 0);
    assert_int_equal(crt_stream_new(m, &b), 0);
    float *x = calloc((size_t)cfg.n_features, sizeof(float));
    for (int f = 0; f < cfg.segment_len * 3 / 2; f++) {
        x[f % cfg.n_features] = 0.5f;
        crt_stream_push(a, x, NULL, NULL);
    }
    size_t cap = crt_stream_save_size(m), len, S = crt_model_memory_floats(m);
    uint8_t *blob = malloc(cap);
    assert_int_equal(crt_stream_save(a, blob, cap, &len), 0);
    assert_int_equal(crt_stream_restore(b, blob, len, &err), 0);
    float saved_count;
    memcpy(&saved_count, blob + 48, 4); /* the first memory float (docs/MODEL.md) */
    assert_true(saved_count == 1.0f);
    float *before = malloc(S * sizeof(float));
    memcpy(before, crt_stream_memory(b), S * sizeof(float));

    const float bad[] = {0.5f, -1.0f, 1e30f, NAN, INFINITY};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(blob + 48, &bad[i], 4);
        uint32_t crc = (uint32_t)crc32(0, blob, (uInt)(len - 4)); /* zlib, as the blob */
        memcpy(blob + len - 4, &crc, 4);                          /* little-endian, as the blob */
        assert_int_equal(crt_stream_restore(b, blob, len, &err), -EBADMSG);
        printf("# xl count %g refused: %s\n", (double)bad[i], err.msg);
        assert_memory_equal(crt_stream_memory(b), before, S * sizeof(float));
    }

    free(before);
    free(blob);
    free(x);
    crt_stream_free(a);
    crt_stream_free(b);
    crt_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_variant_name_makes_a_model),
        cmocka_unit_test(xl_state_with_a_bad_count_is_refused),
        cmocka_unit_test(all_outputs_match_pytorch),
        cmocka_unit_test(all_gradients_match_pytorch),
    };
    return cmocka_run_group_tests(tests, run_reference, NULL);
}
