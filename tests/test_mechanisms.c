/* Every memory mechanism against its PyTorch reference (suite numeric).
 *
 * The mechanisms are the registry's (crt_variant_name: the CRT's GRU and
 * NC-GRU, none, RMT, Transformer-XL, full attention, the Block-Recurrent
 * Transformer, SRformer and their variants); their architecture/variant pairs
 * go to tests/ref/mechanisms_ref.py on its command line, so neither side keeps
 * a list of them. The script writes, at test time, per pair: random-weight
 * model files (the default sizes in F32; odd sizes d 48, N 3, H 6, FFN 80,
 * L 5, 7 classes in F16 and BF16), features of five clips of up to 20
 * segments with PyTorch's logits and memory after every segment, and a small
 * model with a batch and PyTorch's gradients.
 *
 * For every pair crtd must agree within 1e-4 on every logit and memory float,
 * streaming one frame at a time and batched over whole clips (batches of 2, 3
 * and 16); the trainer's gradients within 1e-3 relative on every tensor and
 * its loss within 1e-5. test_mechanisms_state.c: a stream serialised
 * mid-segment and restored continues bit for bit, damaged and foreign states
 * are refused, model files round-trip through F32, F16 and BF16, and streams
 * on several threads share one model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crt.h"
#include "data.h"
#include "refscript.h"
#include "safetensors.h"
#include "test_mechanisms.h"
#include "tl_tensor.h"
#include "train.h"

struct mech *mechs;
int n_mechs;
char ref_dir[4096];

const char *const file_suffixes[] = {"", "_small_f16", "_small_bf16"};
const int n_file_suffixes = sizeof(file_suffixes) / sizeof(file_suffixes[0]);

/* Every name of the registry, what it stands for, and the reference run on
 * those pairs: `mechanisms_ref.py models|grads --out DIR ARCH/VARIANT...`. */
static int run_reference(void)
{
    while (crt_variant_name(n_mechs))
        n_mechs++;
    mechs = calloc((size_t)n_mechs, sizeof(*mechs));
    const char **pairs = calloc((size_t)n_mechs, sizeof(*pairs));
    char(*text)[2 * CRT_NAME_MAX + 1] = calloc((size_t)n_mechs, sizeof(*text));
    if (!mechs || !pairs || !text)
        return -1;
    for (int i = 0; i < n_mechs; i++) {
        struct mech *m = &mechs[i];
        struct crt_config cfg;
        crt_config_default(&cfg);
        m->name = crt_variant_name(i);
        if (crt_variant_parse(m->name, &cfg) < 0) {
            fprintf(stderr, "%s: the registry's name does not parse\n", m->name);
            return -1;
        }
        snprintf(m->architecture, sizeof(m->architecture), "%s", cfg.architecture);
        snprintf(m->variant, sizeof(m->variant), "%s", cfg.variant);
        snprintf(m->stem, sizeof(m->stem), "%s_%s", cfg.architecture, cfg.variant);
        snprintf(text[i], sizeof(text[i]), "%s/%s", cfg.architecture, cfg.variant);
        pairs[i] = text[i];
    }
    snprintf(ref_dir, sizeof(ref_dir), "%s/mechanisms-ref", refscript_env_or("CRTD_TEST_TMP", "."));
    const char *env = "CRTD_MECHANISMS_REF", *script = "tests/ref/mechanisms_ref.py";
    int r = refscript_run_args(env, script, "models", ref_dir, pairs, n_mechs) < 0 ||
                    refscript_run_args(env, script, "grads", ref_dir, pairs, n_mechs) < 0
                ? -1
                : 0;
    free(pairs);
    free(text);
    return r;
}

/* ---- a model file and its expected values ---------------------------------- */

void fixture_load(struct fixture *fx, const struct mech *m, const char *suffix)
{
    char path[8192];
    struct errbuf err = {0};

    memset(fx, 0, sizeof(*fx));
    snprintf(fx->name, sizeof(fx->name), "%s%s", m->name, suffix);
    snprintf(path, sizeof(path), "%s/%s%s.safetensors", ref_dir, m->stem, suffix);
    if (crt_model_load(path, &fx->model, &err) < 0)
        fail_msg("%s", err.msg);
    snprintf(path, sizeof(path), "%s/%s%s.expected.safetensors", ref_dir, m->stem, suffix);
    if (safetensors_open(path, &fx->expected, &err) < 0)
        fail_msg("%s", err.msg);
    const struct crt_config *cfg = crt_model_config(fx->model);
    const int64_t *fshape, *lshape, *mshape;
    fx->features = tl_tensor_load(fx->expected, "features", 3, &fshape, NULL);
    fx->n_frames = tl_tensor_load(fx->expected, "n_frames", 1, NULL, NULL);
    fx->logits = tl_tensor_load(fx->expected, "logits", 3, &lshape, NULL);
    fx->memory = tl_tensor_load(fx->expected, "memory", 3, &mshape, NULL);
    fx->clips = (int)fshape[0];
    fx->frames_max = (int)fshape[1];
    fx->segments = (int)lshape[1];
    fx->S = crt_model_memory_floats(fx->model);
    fx->mem_width = (size_t)mshape[2];
    assert_int_equal(fshape[2], cfg->n_features);
    assert_int_equal(lshape[2], cfg->n_classes);
    assert_true(fx->S == fx->mem_width || (fx->S == 0 && fx->mem_width == 1));
}

void fixture_done(struct fixture *fx)
{
    crt_model_free(fx->model);
    safetensors_free(fx->expected);
    free(fx->features);
    free(fx->n_frames);
    free(fx->logits);
    free(fx->memory);
}

const float *clip_features(const struct fixture *fx, int clip)
{
    return fx->features +
           (size_t)clip * fx->frames_max * (size_t)crt_model_config(fx->model)->n_features;
}

void run_clip(const struct fixture *fx, int clip, float *logits)
{
    const struct crt_config *cfg = crt_model_config(fx->model);
    struct crt_stream *s;
    assert_int_equal(crt_stream_new(fx->model, &s), 0);
    int n = 0;
    for (int f = 0; f < (int)fx->n_frames[clip]; f++)
        if (crt_stream_push(s, clip_features(fx, clip) + (size_t)f * cfg->n_features,
                            logits + (size_t)n * cfg->n_classes, NULL) == 1)
            n++;
    crt_stream_free(s);
}

/* ---- outputs --------------------------------------------------------------- */

/* The worst error of a check, |got - want| / max(1, |want|), and where. */
struct worst {
    double err, abs_err; /* abs_err: the worst |got - want| alone, for the record */
    int clip, segment, index;
};

static void compare(struct worst *w, const float *got, const float *want, size_t n, int clip,
                    int segment)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double e = d / fmax(1.0, fabs((double)want[i]));
        if (!(d <= w->abs_err))
            w->abs_err = isnan(d) ? INFINITY : d;
        if (!(e <= w->err)) { /* NaN counts as the worst */
            w->err = isnan(e) ? INFINITY : e;
            w->clip = clip;
            w->segment = segment;
            w->index = (int)i;
        }
    }
}

static void report(const char *what, const struct fixture *fx, const struct worst *lw,
                   const struct worst *mw)
{
    printf("# %-22s %-8s worst logit error %.3g (clip %d segment %d class %d; absolute %.3g), "
           "memory %.3g (clip %d segment %d index %d; absolute %.3g) (tolerance %.0e)\n",
           fx->name, what, lw->err, lw->clip, lw->segment, lw->index, lw->abs_err, mw->err,
           mw->clip, mw->segment, mw->index, mw->abs_err, OUT_TOLERANCE);
    assert_true(lw->err <= OUT_TOLERANCE);
    assert_true(mw->err <= OUT_TOLERANCE);
}

/* One frame at a time through a stream, every clip from a reset. */
static void stream_matches(const struct fixture *fx)
{
    const struct crt_config *cfg = crt_model_config(fx->model);
    int C = cfg->n_classes;
    struct crt_stream *s;
    assert_int_equal(crt_stream_new(fx->model, &s), 0);
    float *logits = malloc((size_t)C * sizeof(float)), *probs = malloc((size_t)C * sizeof(float));
    struct worst lw = {0}, mw = {0};

    for (int c = 0; c < fx->clips; c++) {
        crt_stream_reset(s);
        int frames = (int)fx->n_frames[c], segment = 0;
        for (int f = 0; f < frames; f++) {
            const float *feat = clip_features(fx, c) + (size_t)f * cfg->n_features;
            int r = crt_stream_push(s, feat, logits, probs);
            assert_int_equal(r, (f + 1) % cfg->segment_len == 0);
            if (r == 0)
                continue;
            size_t row = (size_t)c * fx->segments + segment;
            compare(&lw, logits, fx->logits + row * C, (size_t)C, c, segment);
            compare(&mw, crt_stream_memory(s), fx->memory + row * fx->mem_width, fx->S, c, segment);
            double sum = 0;
            for (int k = 0; k < C; k++)
                sum += probs[k];
            assert_true(fabs(sum - 1.0) < 1e-5);
            segment++;
        }
        assert_int_equal(crt_stream_frames_pending(s), frames % cfg->segment_len);
        assert_int_equal(crt_stream_segments(s), (uint64_t)segment);
    }
    report("stream", fx, &lw, &mw);
    free(logits);
    free(probs);
    crt_stream_free(s);
}

/* All clips at once, with batches smaller than the number of clips. */
static void batch_matches(const struct fixture *fx, int max_batch)
{
    const struct crt_config *cfg = crt_model_config(fx->model);
    int C = cfg->n_classes, n = fx->clips;
    size_t S = fx->S;
    struct crt_workspace *ws;
    assert_int_equal(crt_workspace_new(fx->model, max_batch, &ws), 0);

    const float **feats = calloc((size_t)n, sizeof(*feats));
    int *n_frames = calloc((size_t)n, sizeof(int));
    float **logits = calloc((size_t)n, sizeof(*logits));
    float **memory = calloc((size_t)n, sizeof(*memory));
    float **probs = calloc((size_t)n, sizeof(*probs));
    for (int c = 0; c < n; c++) {
        feats[c] = clip_features(fx, c);
        n_frames[c] = (int)fx->n_frames[c];
        logits[c] = calloc((size_t)fx->segments * C, sizeof(float));
        probs[c] = calloc((size_t)fx->segments * C, sizeof(float));
        memory[c] = calloc((size_t)fx->segments * S + 1, sizeof(float));
    }
    assert_int_equal(crt_model_run_clips(fx->model, ws, n, feats, n_frames, logits, probs, memory),
                     0);
    struct worst lw = {0}, mw = {0};
    for (int c = 0; c < n; c++)
        for (int s = 0; s < n_frames[c] / cfg->segment_len; s++) {
            size_t row = (size_t)c * fx->segments + s;
            compare(&lw, logits[c] + (size_t)s * C, fx->logits + row * C, (size_t)C, c, s);
            compare(&mw, memory[c] + (size_t)s * S, fx->memory + row * fx->mem_width, S, c, s);
        }
    char what[32];
    snprintf(what, sizeof(what), "batch %d", max_batch);
    report(what, fx, &lw, &mw);
    for (int c = 0; c < n; c++) {
        free(logits[c]);
        free(probs[c]);
        free(memory[c]);
    }
    free(feats);
    free(n_frames);
    free(logits);
    free(probs);
    free(memory);
    crt_workspace_free(ws);
}

static void outputs_match_pytorch(void **state)
{
    (void)state;
    static const int batches[] = {2, 3, 16};
    for (int i = 0; i < n_mechs; i++)
        for (int k = 0; k < n_file_suffixes; k++) {
            struct fixture fx;
            fixture_load(&fx, &mechs[i], file_suffixes[k]);
            stream_matches(&fx);
            for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++)
                batch_matches(&fx, batches[b]);
            fixture_done(&fx);
        }
}

/* ---- gradients ------------------------------------------------------------- */

static void gradients_match(const struct mech *m)
{
    char path[8192];
    struct errbuf err = {0};
    struct crt_model *model = NULL;
    struct crt_trainer *trainer = NULL;
    struct safetensors *ref = NULL;
    snprintf(path, sizeof(path), "%s/train_%s.safetensors", ref_dir, m->stem);
    if (crt_model_load(path, &model, &err) < 0)
        fail_msg("%s", err.msg);
    snprintf(path, sizeof(path), "%s/train_%s.grads.safetensors", ref_dir, m->stem);
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
           m->name, loss, loss_ref[0], loss_err, worst, worst_name, crt_model_param_count(model),
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

static void gradients_match_pytorch(void **state)
{
    (void)state;
    for (int i = 0; i < n_mechs; i++)
        gradients_match(&mechs[i]);
}

/* Every name of `crt train --variant` makes a model that runs; others are refused. */
static void every_variant_name_makes_a_model(void **state)
{
    (void)state;
    for (int i = 0; i < n_mechs; i++) {
        struct crt_config cfg;
        struct crt_model *m = NULL;
        struct errbuf err = {0};
        crt_config_default(&cfg);
        cfg.n_classes = SMARTHOME_NUM_CLASSES;
        cfg.d_model = 16;
        cfg.n_heads = 2;
        cfg.d_ff = 32;
        assert_int_equal(crt_variant_parse(mechs[i].name, &cfg), 0);
        if (crt_model_new(&cfg, smarthome_classes, &m, &err) < 0)
            fail_msg("%s: %s", mechs[i].name, err.msg);
        assert_true(crt_model_flops_per_segment(m) > 0);
        crt_model_free(m);
    }
    struct crt_config cfg;
    crt_config_default(&cfg);
    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    assert_int_equal(crt_variant_parse("no-such-thing", &cfg), -EINVAL);
}

int main(void)
{
    /* One BLAS thread, as the daemon and the benchmark run. */
    blas_set_threads(1);
    if (run_reference() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_variant_name_makes_a_model),
        cmocka_unit_test(xl_state_with_a_bad_count_is_refused),
        cmocka_unit_test(outputs_match_pytorch),
        cmocka_unit_test(state_round_trip_all),
        cmocka_unit_test(state_bound_to_model_all),
        cmocka_unit_test(save_load_round_trip_all),
        cmocka_unit_test(threads_share_model_all),
        cmocka_unit_test(gradients_match_pytorch),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    free(mechs);
    return r;
}
