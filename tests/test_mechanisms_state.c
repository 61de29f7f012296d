/* States, model files and threads, for every mechanism of the registry
 * (part of test_mechanisms; the reference files are test_mechanisms.c's):
 * a stream serialised mid-segment and restored into a fresh stream continues
 * bit for bit; damaged states and states of another model are refused and
 * leave the stream as it was; a model saved in F32, F16 and BF16 loads back
 * with every weight rounded to nearest; streams on several threads sharing
 * one model each give what they give alone. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h> /* crc32: to mend a blob damaged on purpose */

#include "crt.h"
#include "data.h"
#include "safetensors.h"
#include "test_mechanisms.h"

static void memory_equal(const struct crt_stream *a, const struct crt_stream *b, size_t S)
{
    if (S > 0)
        assert_memory_equal(crt_stream_memory(a), crt_stream_memory(b), S * sizeof(float));
}

/* Serialise after ten segments and a half, restore into a fresh stream and
 * into one that had run: the rest is bit-identical to the uninterrupted
 * stream. */
static void state_round_trip(const struct fixture *fx)
{
    const struct crt_config *cfg = crt_model_config(fx->model);
    int C = cfg->n_classes, F = cfg->n_features, L = cfg->segment_len;
    int frames = (int)fx->n_frames[0], cut = 10 * L + L / 2 + 1;
    assert_true(frames > cut + 2 * L);
    const float *feat = clip_features(fx, 0);

    struct crt_stream *a, *b, *c, *d;
    assert_int_equal(crt_stream_new(fx->model, &a), 0);
    assert_int_equal(crt_stream_new(fx->model, &b), 0);
    assert_int_equal(crt_stream_new(fx->model, &c), 0);
    assert_int_equal(crt_stream_new(fx->model, &d), 0);
    float *la = malloc((size_t)C * sizeof(float)), *lc = malloc((size_t)C * sizeof(float));
    float *ld = malloc((size_t)C * sizeof(float));
    for (int f = 0; f < cut; f++) {
        crt_stream_push(a, feat + (size_t)f * F, NULL, NULL);
        crt_stream_push(b, feat + (size_t)f * F, NULL, NULL);
    }
    size_t size = crt_stream_save_size(fx->model), len;
    uint8_t *blob = malloc(size);
    assert_int_equal(crt_stream_save(b, blob, size - 1 - (size_t)(L - 1 - cut % L) * F * 4, &len),
                     -ENOBUFS);
    assert_int_equal(crt_stream_save(b, blob, size, &len), 0);
    crt_stream_free(b);
    struct errbuf err = {0};
    /* Push something into c first: restore replaces everything. */
    crt_stream_push(c, feat, NULL, NULL);
    assert_int_equal(crt_stream_restore(c, blob, len, &err), 0);
    assert_int_equal(crt_stream_restore(d, blob, len, &err), 0);
    assert_int_equal(crt_stream_frames_pending(c), cut % L);
    assert_int_equal(crt_stream_segments(c), (uint64_t)(cut / L));
    memory_equal(c, a, fx->S);
    memory_equal(d, a, fx->S);
    int compared = 0;
    for (int f = cut; f < frames; f++) {
        int ra = crt_stream_push(a, feat + (size_t)f * F, la, NULL);
        int rc = crt_stream_push(c, feat + (size_t)f * F, lc, NULL);
        int rd = crt_stream_push(d, feat + (size_t)f * F, ld, NULL);
        assert_int_equal(ra, rc);
        assert_int_equal(ra, rd);
        if (ra) {
            assert_memory_equal(la, lc, (size_t)C * sizeof(float));
            assert_memory_equal(la, ld, (size_t)C * sizeof(float));
            memory_equal(a, c, fx->S);
            memory_equal(a, d, fx->S);
            compared++;
        }
    }
    printf("# %-22s state of %zu bytes (%zu memory floats) restored; %d segments after it "
           "bit-identical\n",
           fx->name, len, fx->S, compared);
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
    free(ld);
    crt_stream_free(a);
    crt_stream_free(c);
    crt_stream_free(d);
}

void state_round_trip_all(void **state)
{
    (void)state;
    for (int i = 0; i < n_mechs; i++)
        for (int k = 0; k < n_file_suffixes; k++) {
            struct fixture fx;
            fixture_load(&fx, &mechs[i], file_suffixes[k]);
            state_round_trip(&fx);
            fixture_done(&fx);
        }
}

/* A state saved by one model is refused by another of the same sizes whose
 * weights differ in one float; the same weights loaded twice give the same
 * fingerprint. */
static void state_bound_to_model(const struct mech *m)
{
    struct fixture fx;
    fixture_load(&fx, m, "");
    char path[8192];
    struct errbuf err = {0};
    struct crt_model *again, *other;
    snprintf(path, sizeof(path), "%s/%s.safetensors", ref_dir, m->stem);
    assert_int_equal(crt_model_load(path, &again, &err), 0);
    assert_true(crt_model_fingerprint(again) == crt_model_fingerprint(fx.model));
    assert_int_equal(crt_model_load(path, &other, &err), 0);
    const char *pname;
    crt_model_param_info(other, crt_model_param_count(other) - 1, &pname, NULL, NULL, NULL);
    crt_model_param(other, pname)[0] += 0.25f;
    crt_model_params_changed(other);
    assert_true(crt_model_fingerprint(other) != crt_model_fingerprint(fx.model));

    struct crt_stream *a, *b;
    assert_int_equal(crt_stream_new(fx.model, &a), 0);
    assert_int_equal(crt_stream_new(other, &b), 0);
    int F = crt_model_config(fx.model)->n_features;
    for (int f = 0; f < 11; f++)
        crt_stream_push(a, clip_features(&fx, 0) + (size_t)f * F, NULL, NULL);
    size_t cap = crt_stream_save_size(fx.model), len;
    uint8_t *blob = malloc(cap);
    assert_int_equal(crt_stream_save(a, blob, cap, &len), 0);
    assert_int_equal(crt_stream_restore(b, blob, len, &err), -ESTALE);
    printf("# %-22s restore into another model: %s\n", fx.name, err.msg);
    assert_non_null(strstr(err.msg, "another model"));
    assert_int_equal(crt_stream_frames_pending(b), 0);

    free(blob);
    crt_stream_free(a);
    crt_stream_free(b);
    crt_model_free(again);
    crt_model_free(other);
    fixture_done(&fx);
}

void state_bound_to_model_all(void **state)
{
    (void)state;
    for (int i = 0; i < n_mechs; i++)
        state_bound_to_model(&mechs[i]);
}

/* An XL state keeps the number of segments cached as its first memory float
 * and its attention indexes by it: a restored blob whose count is no count
 * from 0 to M (found by fuzz_state, tests/fuzz/corpus/state/crash-xl-*), or
 * that holds a value that is not finite, is refused with a checksum that is
 * right, and the stream stays as it was. */
void xl_state_with_a_bad_count_is_refused(void **state)
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

/* Saving and loading again keeps every weight, and F16 / BF16 saves round to
 * nearest. */
static void save_load_round_trip(const struct mech *mech)
{
    struct fixture fx;
    fixture_load(&fx, mech, "");
    char path[8192];
    struct errbuf err = {0};
    static const enum safetensors_dtype dtypes[] = {SAFETENSORS_F32, SAFETENSORS_F16,
                                                    SAFETENSORS_BF16};
    for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++) {
        snprintf(path, sizeof(path), "%s/resaved.safetensors", ref_dir);
        assert_int_equal(crt_model_save(fx.model, path, dtypes[i], &err), 0);
        struct crt_model *m;
        if (crt_model_load(path, &m, &err) < 0)
            fail_msg("%s: %s", fx.name, err.msg);
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

void save_load_round_trip_all(void **state)
{
    (void)state;
    for (int i = 0; i < n_mechs; i++)
        save_load_round_trip(&mechs[i]);
}

/* Streams on several threads share one model: each gives what it gives alone. */
struct thread_job {
    const struct fixture *fx;
    int clip;
    float *logits; /* [segments][C] */
};

static void *thread_main(void *arg)
{
    struct thread_job *job = arg;
    for (int rep = 0; rep < 3; rep++)
        run_clip(job->fx, job->clip, job->logits);
    return NULL;
}

static void threads_share_model(const struct mech *m)
{
    struct fixture fx;
    fixture_load(&fx, m, "");
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

void threads_share_model_all(void **state)
{
    (void)state;
    for (int i = 0; i < n_mechs; i++)
        threads_share_model(&mechs[i]);
}
