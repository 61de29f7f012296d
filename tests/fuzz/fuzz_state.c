/* libFuzzer target: restoring a stream's state blob (crt/state.c) for
 * small models of each memory mechanism. An input is a selector byte (which
 * model; whether to mend the blob's model fingerprint and CRC-32 trailer, so
 * that mutations reach the checks behind them, in any build, whatever the
 * fingerprint its floating point gives) and the blob. What restores runs one
 * segment.
 *
 * Its seeds are real blobs; with CRTD_FUZZ_STATE_SEEDS=DIR set the target
 * writes one per model into DIR at start-up (tests/fuzz/README.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crt_internal.h"
#include <zlib.h>
#include "crt.h"
#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One small model per name of the registry (crt_variant_name), in its order:
 * an input's first byte picks the model by that index. */
#define MAX_MODELS 64
static struct crt_model *models[MAX_MODELS];
static size_t n_models;

static void write_seed(const char *dir, size_t index)
{
    const struct crt_model *m = models[index];
    const struct crt_config *cfg = crt_model_config(m);
    struct crt_stream *s;
    if (crt_stream_new(m, &s) < 0)
        abort();
    float *features = calloc((size_t)cfg->n_features, sizeof(float));
    float *probs = calloc((size_t)cfg->n_classes, sizeof(float));
    /* a segment and a half: memory set, a partial segment pending */
    for (int k = 0; k < cfg->segment_len * 3 / 2; k++) {
        for (int f = 0; f < cfg->n_features; f++)
            features[f] = (float)((k * 7 + f) % 13) / 13.0f;
        crt_stream_push(s, features, NULL, probs);
    }
    size_t cap = crt_stream_save_size(m), len;
    uint8_t *blob = malloc(cap + 1);
    if (!blob || crt_stream_save(s, blob + 1, cap, &len) < 0)
        abort();
    blob[0] = (uint8_t)index;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.state", dir, crt_variant_name((int)index));
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(blob, 1, len + 1, f) != len + 1 || fclose(f) != 0)
        abort();
    free(blob);
    free(features);
    free(probs);
    crt_stream_free(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; crt_variant_name((int)i) && i < MAX_MODELS; i++, n_models++) {
        struct crt_config cfg;
        struct errbuf err = {0};
        crt_config_default(&cfg);
        cfg.n_classes = SMARTHOME_NUM_CLASSES;
        if (crt_variant_parse(crt_variant_name((int)i), &cfg) < 0)
            abort();
        cfg.d_model = 16, cfg.n_heads = 2, cfg.d_ff = 32, cfg.n_layers = 1;
        cfg.segment_len = 4, cfg.n_classes = 3;
        if (crt_model_new(&cfg, NULL, &models[i], &err) < 0) {
            fprintf(stderr, "fuzz_state: %s: %s\n", crt_variant_name((int)i), err.msg);
            abort();
        }
        crt_model_init_random(models[i], 1 + i);
    }
    const char *seeds = getenv("CRTD_FUZZ_STATE_SEEDS");
    for (size_t i = 0; seeds && i < n_models; i++)
        write_seed(seeds, i);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const struct crt_model *m = models[(data[0] & 0x7f) % n_models];
    bool mend = data[0] & 0x80;
    uint8_t *blob = malloc(size);
    if (!blob)
        return 0;
    memcpy(blob, data + 1, size - 1);
    size_t len = size - 1;
    if (mend && len >= 44) {
        memcpy(blob + 32, &m->fingerprint, 8);                    /* little-endian, as the blob */
        uint32_t crc = (uint32_t)crc32(0, blob, (uInt)(len - 4)); /* zlib, as the blob */
        memcpy(blob + len - 4, &crc, 4);                          /* little-endian, as the blob */
    }

    struct crt_stream *s;
    struct errbuf err = {0};
    if (crt_stream_new(m, &s) < 0)
        abort();
    if (crt_stream_restore(s, blob, len, &err) == 0) {
        const struct crt_config *cfg = crt_model_config(m);
        float *features = calloc((size_t)cfg->n_features, sizeof(float));
        float *probs = calloc((size_t)cfg->n_classes, sizeof(float));
        for (int k = 0; features && probs && k < cfg->segment_len; k++)
            crt_stream_push(s, features, NULL, probs);
        free(features);
        free(probs);
    }
    crt_stream_free(s);
    free(blob);
    return 0;
}
