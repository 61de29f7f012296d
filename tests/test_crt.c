/* The CRT against its PyTorch reference (suite numeric).
 *
 * tests/ref/crt_ref.py writes, at test time, random-weight model files (GRU
 * and NC-GRU at the default sizes in F32, and at odd sizes in F16 and BF16)
 * with features for a few clips and PyTorch's logits and memory after every
 * segment. crtd must agree within 1e-4 on every number, streaming one frame at
 * a time and batched over whole clips; a stream serialised mid-segment and
 * restored into a fresh stream must continue bit for bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "safetensors.h"
#include "crt.h"
#include "refscript.h"
#include "tl_tensor.h"

#define TOLERANCE 1e-4

static char ref_dir[4096];

static const char *const model_names[] = {
    "crt_gru",
    "crt_ncgru",
    "crt_gru_small_f16",
    "crt_ncgru_small_bf16",
};

/* Runs the reference: python3 crt_ref.py models --out DIR. */
static int run_reference(void)
{
    snprintf(ref_dir, sizeof(ref_dir), "%s/crt-ref", refscript_env_or("CRTD_TEST_TMP", "."));
    return refscript_run("CRTD_CRT_REF", "tests/ref/crt_ref.py", "models", ref_dir);
}

struct fixture {
    const char *name;
    struct crt_model *model;
    struct safetensors *expected;
    const float *features; /* [clips, frames_max, F] */
    float *n_frames;       /* [clips] */
    float *logits;         /* [clips, segments, C] */
    float *memory;         /* [clips, segments, d] */
    int clips, frames_max, segments;
    float *storage[3];
};

static void fixture_load(struct fixture *fx, const char *name)
{
    char path[8192];
    struct errbuf err = {0};

    memset(fx, 0, sizeof(*fx));
    fx->name = name;
    snprintf(path, sizeof(path), "%s/%s.safetensors", ref_dir, name);
    int r = crt_model_load(path, &fx->model, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    snprintf(path, sizeof(path), "%s/%s.expected.safetensors", ref_dir, name);
    r = safetensors_open(path, &fx->expected, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    const struct safetensors_tensor *t = safetensors_find(fx->expected, "features");
    assert_non_null(t);
    fx->clips = (int)t->shape[0];
    fx->frames_max = (int)t->shape[1];
    fx->storage[0] = tl_tensor_load(fx->expected, "features", 3, NULL, NULL);
    fx->features = fx->storage[0];
    fx->n_frames = fx->storage[1] = tl_tensor_load(fx->expected, "n_frames", 1, NULL, NULL);
    fx->logits = tl_tensor_load(fx->expected, "logits", 3, NULL, NULL);
    fx->memory = tl_tensor_load(fx->expected, "memory", 3, NULL, NULL);
    fx->segments = (int)safetensors_find(fx->expected, "logits")->shape[1];
    assert_int_equal(safetensors_find(fx->expected, "logits")->shape[2],
                     crt_model_config(fx->model)->n_classes);
    assert_int_equal(safetensors_find(fx->expected, "memory")->shape[2],
                     (int64_t)crt_model_memory_floats(fx->model));
}

static void fixture_done(struct fixture *fx)
{
    crt_model_free(fx->model);
    safetensors_free(fx->expected);
    free(fx->storage[0]);
    free(fx->storage[1]);
    free(fx->logits);
    free(fx->memory);
}

static const float *clip_features(const struct fixture *fx, int clip)
{
    return fx->features +
           (size_t)clip * fx->frames_max * (size_t)crt_model_config(fx->model)->n_features;
}

struct worst {
    double err;
    int clip, segment, index;
};

static void compare(struct worst *w, const float *got, const float *want, int n, int clip,
                    int segment)
{
    for (int i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (!(e <= w->err)) { /* NaN counts as the worst */
            w->err = isnan(e) ? INFINITY : e;
            w->clip = clip;
            w->segment = segment;
            w->index = i;
        }
    }
}

static void report(const char *what, const char *name, const struct worst *lw,
                   const struct worst *mw)
{
    print_message("%-22s %-8s worst |logit - torch| %.3g (clip %d segment %d class %d), "
                  "|memory - torch| %.3g (clip %d segment %d index %d)\n",
                  name, what, lw->err, lw->clip, lw->segment, lw->index, mw->err, mw->clip,
                  mw->segment, mw->index);
    assert_true(lw->err <= TOLERANCE);
    assert_true(mw->err <= TOLERANCE);
}

/* One frame at a time through a stream, every clip from a reset. */
static void stream_matches(const char *name)
{
    struct fixture fx;
    fixture_load(&fx, name);
    const struct crt_config *cfg = crt_model_config(fx.model);
    int C = cfg->n_classes, d = (int)crt_model_memory_floats(fx.model);
    struct crt_stream *s;
    assert_int_equal(crt_stream_new(fx.model, &s), 0);
    float *logits = malloc((size_t)C * sizeof(float)), *probs = malloc((size_t)C * sizeof(float));
    struct worst lw = {0}, mw = {0};

    for (int c = 0; c < fx.clips; c++) {
        crt_stream_reset(s);
        int frames = (int)fx.n_frames[c], segment = 0;
        for (int f = 0; f < frames; f++) {
            const float *feat = clip_features(&fx, c) + (size_t)f * cfg->n_features;
            int r = crt_stream_push(s, feat, logits, probs);
            assert_int_equal(r, (f + 1) % cfg->segment_len == 0);
            if (r == 0)
                continue;
            compare(&lw, logits, fx.logits + ((size_t)c * fx.segments + segment) * C, C, c,
                    segment);
            compare(&mw, crt_stream_memory(s), fx.memory + ((size_t)c * fx.segments + segment) * d,
                    d, c, segment);
            double sum = 0;
            for (int k = 0; k < C; k++)
                sum += probs[k];
            assert_true(fabs(sum - 1.0) < 1e-5);
            segment++;
        }
        assert_int_equal(crt_stream_frames_pending(s), frames % cfg->segment_len);
        assert_int_equal(crt_stream_segments(s), (uint64_t)segment);
    }
    report("stream", name, &lw, &mw);
    free(logits);
    free(probs);
    crt_stream_free(s);
    fixture_done(&fx);
}

/* All clips at once, with batches smaller than the number of clips. */
static void batch_matches(const char *name, int max_batch)
{
    struct fixture fx;
    fixture_load(&fx, name);
    const struct crt_config *cfg = crt_model_config(fx.model);
    int C = cfg->n_classes, d = (int)crt_model_memory_floats(fx.model);
    struct crt_workspace *ws;
    assert_int_equal(crt_workspace_new(fx.model, max_batch, &ws), 0);

    const float **feats = calloc((size_t)fx.clips, sizeof(*feats));
    int *n_frames = calloc((size_t)fx.clips, sizeof(int));
    float **logits = calloc((size_t)fx.clips, sizeof(*logits));
    float **memory = calloc((size_t)fx.clips, sizeof(*memory));
    float **probs = calloc((size_t)fx.clips, sizeof(*probs));
    for (int c = 0; c < fx.clips; c++) {
        feats[c] = clip_features(&fx, c);
        n_frames[c] = (int)fx.n_frames[c];
        logits[c] = calloc((size_t)fx.segments * C, sizeof(float));
        probs[c] = calloc((size_t)fx.segments * C, sizeof(float));
        memory[c] = calloc((size_t)fx.segments * d, sizeof(float));
    }
    assert_int_equal(
        crt_model_run_clips(fx.model, ws, fx.clips, feats, n_frames, logits, probs, memory), 0);
    struct worst lw = {0}, mw = {0};
    for (int c = 0; c < fx.clips; c++)
        for (int n = 0; n < n_frames[c] / cfg->segment_len; n++) {
            compare(&lw, logits[c] + (size_t)n * C, fx.logits + ((size_t)c * fx.segments + n) * C,
                    C, c, n);
            compare(&mw, memory[c] + (size_t)n * d, fx.memory + ((size_t)c * fx.segments + n) * d,
                    d, c, n);
        }
    char what[32];
    snprintf(what, sizeof(what), "batch %d", max_batch);
    report(what, name, &lw, &mw);
    for (int c = 0; c < fx.clips; c++) {
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
    fixture_done(&fx);
}

/* Serialise after a segment and a half, restore into a fresh stream: the rest
 * is bit-identical to the uninterrupted stream. */
static void state_round_trip(const char *name)
{
    struct fixture fx;
    fixture_load(&fx, name);
    const struct crt_config *cfg = crt_model_config(fx.model);
    int C = cfg->n_classes, F = cfg->n_features, L = cfg->segment_len;
    int frames = (int)fx.n_frames[0], cut = 10 * L + L / 2 + 1;
    assert_true(frames > cut + 2 * L);
    const float *feat = clip_features(&fx, 0);

    struct crt_stream *a, *b, *c;
    assert_int_equal(crt_stream_new(fx.model, &a), 0);
    assert_int_equal(crt_stream_new(fx.model, &b), 0);
    assert_int_equal(crt_stream_new(fx.model, &c), 0);
    float *la = malloc((size_t)C * sizeof(float)), *lc = malloc((size_t)C * sizeof(float));
    for (int f = 0; f < cut; f++) {
        crt_stream_push(a, feat + (size_t)f * F, NULL, NULL);
        crt_stream_push(b, feat + (size_t)f * F, NULL, NULL);
    }
    size_t size = crt_stream_save_size(fx.model), len;
    uint8_t *blob = malloc(size);
    assert_int_equal(crt_stream_save(b, blob, size - 1 - (size_t)(L - 1 - cut % L) * F * 4, &len),
                     -ENOBUFS);
    assert_int_equal(crt_stream_save(b, blob, size, &len), 0);
    crt_stream_free(b);
    struct errbuf err = {0};
    /* Push something into c first: restore replaces everything. */
    crt_stream_push(c, feat, NULL, NULL);
    assert_int_equal(crt_stream_restore(c, blob, len, &err), 0);
    assert_int_equal(crt_stream_frames_pending(c), cut % L);
    assert_int_equal(crt_stream_segments(c), (uint64_t)(cut / L));
    assert_memory_equal(crt_stream_memory(c), crt_stream_memory(a),
                        crt_model_memory_floats(fx.model) * sizeof(float));
    int compared = 0;
    for (int f = cut; f < frames; f++) {
        int ra = crt_stream_push(a, feat + (size_t)f * F, la, NULL);
        int rc = crt_stream_push(c, feat + (size_t)f * F, lc, NULL);
        assert_int_equal(ra, rc);
        if (ra) {
            assert_memory_equal(la, lc, (size_t)C * sizeof(float));
            assert_memory_equal(crt_stream_memory(a), crt_stream_memory(c),
                                crt_model_memory_floats(fx.model) * sizeof(float));
            compared++;
        }
    }
    print_message("%-22s state of %zu bytes restored; %d segments after it bit-identical\n", name,
                  len, compared);
    assert_true(compared >= 2);

    /* Damage is refused and leaves the stream as it was. */
    uint64_t before = crt_stream_segments(c);
    blob[len / 2] ^= 0x10;
    assert_int_equal(crt_stream_restore(c, blob, len, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "checksum"));
    blob[len / 2] ^= 0x10;
    assert_int_equal(crt_stream_restore(c, blob, len - 3, &err), -EBADMSG);
    assert_int_equal(crt_stream_restore(c, blob, 20, &err), -EBADMSG);
    blob[8] = 9; /* version */
    assert_int_equal(crt_stream_restore(c, blob, len, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "version"));
    assert_int_equal(crt_stream_segments(c), before);

    free(blob);
    free(la);
    free(lc);
    crt_stream_free(a);
    crt_stream_free(c);
    fixture_done(&fx);
}

static void stream_gru(void **state)
{
    stream_matches("crt_gru");
}
static void stream_ncgru(void **state)
{
    stream_matches("crt_ncgru");
}
static void stream_gru_small_f16(void **state)
{
    stream_matches("crt_gru_small_f16");
}
static void stream_ncgru_small_bf16(void **state)
{
    stream_matches("crt_ncgru_small_bf16");
}

static void batch_all(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(model_names); i++) {
        batch_matches(model_names[i], 2);
        batch_matches(model_names[i], 16);
    }
}

static void state_round_trip_all(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(model_names); i++)
        state_round_trip(model_names[i]);
}

/* A state saved by one model is refused by another, even of the same sizes. */
static void state_bound_to_model(void **state)
{
    struct fixture gru, ncgru;
    fixture_load(&gru, "crt_gru");
    fixture_load(&ncgru, "crt_ncgru");
    assert_true(crt_model_fingerprint(gru.model) != crt_model_fingerprint(ncgru.model));
    struct crt_stream *a, *b;
    assert_int_equal(crt_stream_new(gru.model, &a), 0);
    assert_int_equal(crt_stream_new(ncgru.model, &b), 0);
    for (int f = 0; f < 11; f++)
        crt_stream_push(a, clip_features(&gru, 0) + (size_t)f * FEATURES_V1_DIM, NULL, NULL);
    uint8_t blob[8192];
    size_t len;
    assert_int_equal(crt_stream_save(a, blob, sizeof(blob), &len), 0);
    struct errbuf err = {0};
    assert_int_equal(crt_stream_restore(b, blob, len, &err), -ESTALE);
    print_message("restore into another model: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "another model"));
    assert_int_equal(crt_stream_frames_pending(b), 0);

    /* The same weights loaded twice give the same fingerprint. */
    struct crt_model *again;
    char path[8192];
    snprintf(path, sizeof(path), "%s/crt_gru.safetensors", ref_dir);
    assert_int_equal(crt_model_load(path, &again, &err), 0);
    assert_true(crt_model_fingerprint(again) == crt_model_fingerprint(gru.model));
    crt_model_free(again);

    crt_stream_free(a);
    crt_stream_free(b);
    fixture_done(&gru);
    fixture_done(&ncgru);
}

/* Saving and loading again keeps every weight, and F16 / BF16 saves round to
 * nearest. */
static void save_load_round_trip(void **state)
{
    struct fixture fx;
    fixture_load(&fx, "crt_ncgru");
    char path[8192];
    struct errbuf err = {0};
    static const enum safetensors_dtype dtypes[] = {SAFETENSORS_F32, SAFETENSORS_F16,
                                                    SAFETENSORS_BF16};
    for (size_t i = 0; i < ARRAY_SIZE(dtypes); i++) {
        snprintf(path, sizeof(path), "%s/resaved.safetensors", ref_dir);
        assert_int_equal(crt_model_save(fx.model, path, dtypes[i], &err), 0);
        struct crt_model *m;
        if (crt_model_load(path, &m, &err) < 0)
            fail_msg("%s", err.msg);
        assert_string_equal(crt_model_metadata(m, "provenance.data"),
                            crt_model_metadata(fx.model, "provenance.data"));
        for (int p = 0; p < crt_model_param_count(m); p++) {
            const char *pname;
            size_t numel;
            crt_model_param_info(m, p, &pname, NULL, NULL, &numel);
            const float *x = crt_model_param(fx.model, pname), *y = crt_model_param(m, pname);
            for (size_t k = 0; k < numel; k++) {
                float want = x[k];
                if (dtypes[i] == SAFETENSORS_F16)
                    want = f16_to_f32(safetensors_f32_to_f16(x[k]));
                else if (dtypes[i] == SAFETENSORS_BF16)
                    want = safetensors_bf16_to_f32(safetensors_f32_to_bf16(x[k]));
                assert_memory_equal(&want, &y[k], sizeof(float));
            }
        }
        if (dtypes[i] == SAFETENSORS_F32)
            assert_true(crt_model_fingerprint(m) == crt_model_fingerprint(fx.model));
        crt_model_free(m);
    }
    fixture_done(&fx);
}

/* Streams on several threads share one model: each gives what it gives alone. */
struct thread_job {
    const struct fixture *fx;
    int clip;
    float *logits; /* [segments][C] */
};

static void run_clip(const struct fixture *fx, int clip, float *logits)
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

static void *thread_main(void *arg)
{
    struct thread_job *job = arg;
    for (int rep = 0; rep < 3; rep++)
        run_clip(job->fx, job->clip, job->logits);
    return NULL;
}

static void threads_share_model(void **state)
{
    struct fixture fx;
    fixture_load(&fx, "crt_ncgru");
    int C = crt_model_config(fx.model)->n_classes;
    enum { THREADS = 4 };
    struct thread_job jobs[THREADS];
    pthread_t tid[THREADS];
    size_t bytes = (size_t)fx.segments * C * sizeof(float);
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (struct thread_job){&fx, t % fx.clips, calloc(1, bytes)};
        assert_int_equal(pthread_create(&tid[t], NULL, thread_main, &jobs[t]), 0);
    }
    float *alone = calloc(1, bytes);
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(tid[t], NULL), 0);
        memset(alone, 0, bytes);
        run_clip(&fx, jobs[t].clip, alone);
        assert_memory_equal(alone, jobs[t].logits, bytes);
        free(jobs[t].logits);
    }
    free(alone);
    fixture_done(&fx);
}

int main(void)
{
    /* One BLAS thread, as the daemon and the benchmark run. */
    blas_set_threads(1);
    if (run_reference() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_gru),
        cmocka_unit_test(stream_ncgru),
        cmocka_unit_test(stream_gru_small_f16),
        cmocka_unit_test(stream_ncgru_small_bf16),
        cmocka_unit_test(batch_all),
        cmocka_unit_test(state_round_trip_all),
        cmocka_unit_test(state_bound_to_model),
        cmocka_unit_test(save_load_round_trip),
        cmocka_unit_test(threads_share_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
