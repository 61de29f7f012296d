/* crt model-info: the model card of a model file — what it is, its sizes and
 * classes, what it costs to run and to keep per stream, where it came from. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "safetensors.h"
#include "crt.h"

#define COMMAND "model-info"

static void usage(FILE *out)
{
    fprintf(out, "usage: crt model-info FILE [--json] [--tensors]\n\n"
                 "Check a model file as crtd loads it and print its card: architecture and\n"
                 "variant, sizes, classes, parameter count, FLOPs per segment and per frame,\n"
                 "bytes of state per stream, fingerprint and training provenance.\n\n"
                 "  --json     one JSON object on stdout\n"
                 "  --tensors  also list every tensor with its shape\n");
}

static const char *meta_or(const struct crt_model *m, const char *key)
{
    const char *v = crt_model_metadata(m, key);
    return v ? v : "";
}

static bool card_key(const char *key)
{
    static const char *const keys[] = {
        "format_version",
        "architecture",
        "variant",
        "d_model",
        "n_layers",
        "n_heads",
        "d_ff",
        "n_features",
        "feature_layout",
        "segment_len",
        "fps",
        "layer_norm_eps",
        "n_classes",
        "classes",
        "provenance.data",
        "provenance.recipe",
        "provenance.date",
    };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (strcmp(keys[i], key) == 0)
            return true;
    return false;
}

int cmd_model_info(int argc, char **argv)
{
    const char *path = NULL;
    bool as_json = false, tensors = false;

    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (strcmp(argv[i], "--tensors") == 0) {
            tensors = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error(COMMAND, "unknown option '%s'", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            cli_error(COMMAND, "one model file at a time ('%s' and '%s')", path, argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!path) {
        cli_error(COMMAND, "no model file given");
        usage(stderr);
        return EXIT_USAGE;
    }

    struct crt_model *m;
    struct errbuf err = {0};
    int r = crt_model_load(path, &m, &err);
    if (r < 0) {
        cli_error(COMMAND, "%s", errbuf_text(&err, r));
        return 1;
    }
    struct crt_stream *s;
    if ((r = crt_stream_new(m, &s)) < 0) {
        cli_error(COMMAND, "%s: %s", path, strerror(-r));
        crt_model_free(m);
        return 1;
    }
    const struct crt_config *c = crt_model_config(m);
    size_t params = crt_model_num_parameters(m);
    double flops = crt_model_flops_per_segment(m);
    char fingerprint[17];
    snprintf(fingerprint, sizeof(fingerprint), "%016llx",
             (unsigned long long)crt_model_fingerprint(m));

    if (as_json) {
        /* eps is a float: print the number the file wrote, not its float. */
        char eps_text[32];
        snprintf(eps_text, sizeof(eps_text), "%.6g", (double)c->layer_norm_eps);
        double eps = strtod(eps_text, NULL);
        json_t *classes = json_array(), *extra = json_object(), *list = json_array();
        for (int i = 0; i < c->n_classes; i++)
            json_array_append_new(classes, json_string(crt_model_class(m, i)));
        for (int i = 0; i < crt_model_metadata_count(m); i++) {
            const char *k, *v;
            if (crt_model_metadata_at(m, i, &k, &v) == 0 && !card_key(k))
                json_object_set_new(extra, k, json_string(v));
        }
        for (int i = 0; tensors && i < crt_model_param_count(m); i++) {
            const char *name;
            int ndim;
            const int64_t *shape;
            crt_model_param_info(m, i, &name, &ndim, &shape, NULL);
            json_t *dims = json_array();
            for (int k = 0; k < ndim; k++)
                json_array_append_new(dims, json_integer(shape[k]));
            json_array_append_new(list, json_pack("{s:s, s:o}", "name", name, "shape", dims));
        }
        json_t *out = json_pack(
            "{s:s, s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:i}, s:o, s:I, "
            "s:f, s:f, s:{s:I, s:I, s:I, s:I}, s:s, s:{s:s, s:s, s:s}, s:o}",
            "file", path, "architecture", c->architecture, "variant", c->variant, "sizes",
            "d_model", c->d_model, "n_layers", c->n_layers, "n_heads", c->n_heads, "d_ff", c->d_ff,
            "n_features", c->n_features, "feature_layout", c->feature_layout, "segment_len",
            c->segment_len, "fps", c->fps, "layer_norm_eps", eps, "n_classes", c->n_classes,
            "classes", classes, "parameters", (json_int_t)params, "flops_per_segment", flops,
            "flops_per_frame", flops / c->segment_len, "state_bytes_per_stream",
            "persistent_memory", (json_int_t)crt_stream_memory_bytes(s), "with_partial_segment",
            (json_int_t)crt_stream_state_bytes(s), "saved_state_max",
            (json_int_t)crt_stream_save_size(m), "footprint_with_workspace",
            (json_int_t)crt_stream_footprint_bytes(s), "fingerprint", fingerprint, "provenance",
            "data", meta_or(m, "provenance.data"), "recipe", meta_or(m, "provenance.recipe"),
            "date", meta_or(m, "provenance.date"), "metadata", extra);
        if (tensors)
            json_object_set_new(out, "tensors", list);
        else
            json_decref(list);
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
        json_decref(out);
    } else {
        printf("file          %s\n", path);
        printf("architecture  %s, variant %s\n", c->architecture, c->variant);
        printf("sizes         d %d, layers %d, heads %d, FFN %d, LayerNorm eps %g\n", c->d_model,
               c->n_layers, c->n_heads, c->d_ff, (double)c->layer_norm_eps);
        printf("input         %d features per frame (layout %d), L %d frames per segment at "
               "%g fps (%.2f s)\n",
               c->n_features, c->feature_layout, c->segment_len, c->fps, c->segment_len / c->fps);
        printf("parameters    %zu (%.2f MiB as float32)\n", params,
               params * 4.0 / (1024.0 * 1024.0));
        printf("FLOPs         %.3f M per segment, %.3f M per frame (%.1f MFLOP/s per stream)\n",
               flops / 1e6, flops / c->segment_len / 1e6, flops / c->segment_len * c->fps / 1e6);
        printf("state         %zu bytes persistent memory per stream, %zu with the partial "
               "segment;\n              saved state at most %zu bytes; whole stream with its "
               "workspace %zu\n",
               crt_stream_memory_bytes(s), crt_stream_state_bytes(s), crt_stream_save_size(m),
               crt_stream_footprint_bytes(s));
        printf("fingerprint   %s\n", fingerprint);
        printf("provenance    data:   %s\n              recipe: %s\n              date:   %s\n",
               meta_or(m, "provenance.data"), meta_or(m, "provenance.recipe"),
               meta_or(m, "provenance.date"));
        if (crt_model_threshold(m) > 0 || crt_model_other_class(m) >= 0)
            printf("unknown       below a calibrated probability of %.2f (temperature %.3g)%s\n",
                   (double)crt_model_threshold(m), (double)crt_model_temperature(m),
                   crt_model_other_class(m) >= 0 ? ", or when the top class is Other" : "");
        else
            printf("unknown       never: no calibrated threshold, no Other class\n");
        printf("classes       %d\n", c->n_classes);
        for (int i = 0; i < c->n_classes; i++)
            printf("  %3d %s\n", i, crt_model_class(m, i));
        for (int i = 0; i < crt_model_metadata_count(m); i++) {
            const char *k, *v;
            if (crt_model_metadata_at(m, i, &k, &v) == 0 && !card_key(k))
                printf("metadata      %s = %s\n", k, v);
        }
        if (tensors) {
            printf("tensors       %d\n", crt_model_param_count(m));
            for (int i = 0; i < crt_model_param_count(m); i++) {
                const char *name;
                int ndim;
                const int64_t *shape;
                size_t numel;
                crt_model_param_info(m, i, &name, &ndim, &shape, &numel);
                char dims[96];
                safetensors_format_shape(dims, sizeof(dims), ndim, shape);
                printf("  %-28s %-12s %zu\n", name, dims, numel);
            }
        }
    }
    crt_stream_free(s);
    crt_model_free(m);
    return 0;
}
