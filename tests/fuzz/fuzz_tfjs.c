/* libFuzzer target: the TensorFlow.js graph loader (pose/tfjs.c) on any
 * model.json and weight shard. An input is a 4-byte little-endian length,
 * that many bytes of model.json, and the rest as model.bin beside it (the
 * file name the seeds' manifests give). A graph that loads gets a context;
 * one whose input and work are small also runs once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_files.h"
#include "tfjs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint32_t json_size;
    memcpy(&json_size, data, 4);
    data += 4, size -= 4;
    if (json_size > size)
        json_size = (uint32_t)size;
    fuzz_write("model.bin", data + json_size, size - json_size);
    const char *path = fuzz_write("model.json", data, json_size);

    struct tfjs_model *model;
    struct errbuf err = {0};
    if (tfjs_model_load(path, NULL, &model, &err) < 0) {
        if (getenv("FUZZ_VERBOSE")) /* why a seed does not load */
            fprintf(stderr, "fuzz_tfjs: %s\n", err.msg);
        return 0;
    }
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_tfjs: loaded, %.0f flops\n", tfjs_model_flops(model, NULL, NULL));
    struct tfjs_shape shape;
    enum tfjs_dtype dtype;
    tfjs_model_value_info(model, tfjs_model_input(model), &shape, &dtype);
    size_t input = tfjs_shape_size(&shape);
    struct tfjs_context *context;
    if (tfjs_model_arena_bytes(model, false) < (64u << 20) &&
        tfjs_context_new(model, false, &context, &err) == 0) {
        if (input <= 4096 && tfjs_model_flops(model, NULL, NULL) < 1e7) {
            memset(tfjs_context_input(context), 0, input * 4); /* int32 or float32 */
            tfjs_context_run(context);
        }
        tfjs_context_free(context);
    }
    tfjs_model_free(model);
    return 0;
}
