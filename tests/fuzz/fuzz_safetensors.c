/* libFuzzer target: the safetensors reader and the model loader on any bytes.
 * Whatever parses is converted tensor by tensor; whatever loads as a model of
 * modest size runs a segment through a stream. Built with -Dfuzz=true (clang):
 *   build-fuzz/tests/fuzz/fuzz_safetensors tests/fuzz/corpus/safetensors */
#include <stdint.h>
#include <stdlib.h>

#include "safetensors.h"
#include "crt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct safetensors *st;
    struct errbuf err = {0};
    if (safetensors_parse(data, size, &st, &err) < 0)
        return 0;
    for (int i = 0; i < safetensors_count(st); i++) {
        const struct safetensors_tensor *t = safetensors_tensor(st, i);
        float *x = malloc(t->numel * sizeof(float) + 1);
        if (x)
            safetensors_tensor_to_f32(t, x);
        free(x);
    }
    struct crt_model *m;
    if (crt_model_from_safetensors(st, &m, &err) == 0) {
        const struct crt_config *cfg = crt_model_config(m);
        struct crt_stream *s;
        if (crt_model_num_parameters(m) < 200000 && crt_stream_new(m, &s) == 0) {
            float *f = calloc((size_t)cfg->n_features, sizeof(float));
            float *probs = calloc((size_t)cfg->n_classes, sizeof(float));
            for (int k = 0; f && probs && k < cfg->segment_len; k++)
                crt_stream_push(s, f, NULL, probs);
            free(f);
            free(probs);
            crt_stream_free(s);
        }
        crt_model_free(m);
    }
    safetensors_free(st);
    return 0;
}
