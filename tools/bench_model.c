/* crt bench model: the segment step of one stream (batch 1) in crtd beside
 * the PyTorch reference (tests/ref/crt_ref.py) on the same weights, both on
 * one thread, and what a stream costs in bytes. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cblas.h>
#include <jansson.h>

#include "bench_bandwidth.h"
#include "bench_peer_ort.h"
#include "commands.h"
#include "safetensors.h"
#include "crt.h"
#include "data.h"
#include "refproc.h"

#ifndef CRTD_SOURCE_ROOT
#define CRTD_SOURCE_ROOT "."
#endif

#define BENCH "bench model"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt bench model [--model FILE] [--variant gru|ncgru] [--segments N]\n"
            "                       [--no-reference] [--no-ort] [--python PATH]\n"
            "                       [--node PATH] [--json]\n\n"
            "Microseconds per segment step of one stream (batch 1: L frames pushed and\n"
            "the step) in crtd and in the PyTorch reference on the same weights, both on\n"
            "one thread (CPU time of the calling thread, best of 9 runs), and the bytes\n"
            "a stream costs. Without --model, a model of the default sizes (d 128, N 2,\n"
            "H 4, L 8) with seeded random weights is used.\n\n"
            "  --model FILE      a model file instead of random weights\n"
            "  --variant NAME    memory cell of the random model (default gru)\n"
            "  --d-ff N          FFN width of the random model (default 512): with the\n"
            "                    weights' read time printed beside the step, shows what\n"
            "                    the weights' size costs\n"
            "  --segments N      segments per timed run (default 1000; best of 9 runs)\n"
            "  --no-reference    skip PyTorch\n"
            "  --no-ort          skip ONNX Runtime (onnxruntime-node 1.30.0, CPU kernels,\n"
            "                    one thread; the step written as ONNX by\n"
            "                    tests/ref/onnx_export.py; its time includes the node\n"
            "                    binding's call, printed apart as measured on an empty graph)\n"
            "  --python PATH     interpreter with torch and python3-onnx (default\n"
            "                    /usr/bin/python3)\n"
            "  --node PATH       the node program (default node)\n"
            "  --json            one JSON object on stdout\n\n"
            "The reference script is $CRTD_CRT_REF or %s/tests/ref/crt_ref.py.\n"
            "OpenBLAS picks its kernels by CPU; OPENBLAS_CORETYPE overrides that\n"
            "(docs/MODEL.md, \"Speed\").\n",
            CRTD_SOURCE_ROOT);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Time is the CPU time of the calling thread (where OpenBLAS on one thread,
 * and PyTorch on one thread, do all their work), so that other processes on
 * the machine do not count; and the best of the runs, since interference
 * (caches, frequency) only ever adds. */
#define RUNS 9

static int64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double best_of(double *runs)
{
    qsort(runs, RUNS, sizeof(double), compare_double);
    return runs[0];
}

/* Deterministic features in [-1, 1). */
static void fill_features(float *x, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) * 0x1p-23f - 1.0f;
    }
}

/* Microseconds per segment of one stream: L pushes, the step, probabilities. */
static int time_stream(const struct crt_model *model, int segments, double *ret_us)
{
    const struct crt_config *cfg = crt_model_config(model);
    int L = cfg->segment_len, F = cfg->n_features;
    struct crt_stream *s;
    int r = crt_stream_new(model, &s);
    if (r < 0)
        return r;
    size_t frames = 64;
    float *feats = malloc(frames * F * sizeof(float));
    float *probs = malloc((size_t)cfg->n_classes * sizeof(float));
    if (!feats || !probs) {
        free(feats);
        free(probs);
        crt_stream_free(s);
        return -ENOMEM;
    }
    fill_features(feats, frames * F, 1);
    double runs[RUNS];
    size_t k = 0;
    for (int w = 0; w < 200 * L; w++)
        crt_stream_push(s, feats + (k++ % frames) * F, NULL, probs);
    for (int run = 0; run < RUNS; run++) {
        int64_t t0 = thread_ns();
        for (int n = 0; n < segments * L; n++)
            crt_stream_push(s, feats + (k++ % frames) * F, NULL, probs);
        runs[run] = (double)(thread_ns() - t0) / 1e3 / segments;
    }
    *ret_us = best_of(runs);
    free(feats);
    free(probs);
    crt_stream_free(s);
    return 0;
}

/* Microseconds per segment when whole clips go through in batches. */
static int time_clips(const struct crt_model *model, int batch, double *ret_us)
{
    const struct crt_config *cfg = crt_model_config(model);
    int L = cfg->segment_len, F = cfg->n_features, segs = 20;
    struct crt_workspace *ws;
    int r = crt_workspace_new(model, batch, &ws);
    if (r < 0)
        return r;
    size_t per_clip = (size_t)segs * L * F;
    float *feats = malloc((size_t)batch * per_clip * sizeof(float));
    const float **clips = calloc((size_t)batch, sizeof(*clips));
    int *frames = calloc((size_t)batch, sizeof(int));
    if (!feats || !clips || !frames) {
        r = -ENOMEM;
        goto done;
    }
    fill_features(feats, (size_t)batch * per_clip, 2);
    for (int c = 0; c < batch; c++) {
        clips[c] = feats + c * per_clip;
        frames[c] = segs * L;
    }
    crt_model_run_clips(model, ws, batch, clips, frames, NULL, NULL, NULL);
    double runs[RUNS];
    for (int run = 0; run < RUNS; run++) {
        int64_t t0 = thread_ns();
        for (int i = 0; i < 4; i++)
            crt_model_run_clips(model, ws, batch, clips, frames, NULL, NULL, NULL);
        runs[run] = (double)(thread_ns() - t0) / 1e3 / (4.0 * batch * segs);
    }
    *ret_us = best_of(runs);
done:
    free(feats);
    free(clips);
    free(frames);
    crt_workspace_free(ws);
    return r;
}

/* Runs the reference's bench command and parses the JSON it prints. */
static json_t *run_reference(const char *python, const char *script, const char *model_path,
                             int iters, char *why, size_t why_size)
{
    if (access(script, R_OK) < 0) {
        snprintf(why, why_size, "%s: %s", script, strerror(errno));
        return NULL;
    }
    char iters_text[32];
    snprintf(iters_text, sizeof(iters_text), "%d", iters);
    setenv("OMP_NUM_THREADS", "1", 1);
    char *argv[] = {(char *)python,     (char *)script, "bench",    "--model",
                    (char *)model_path, "--iters",      iters_text, NULL};
    json_t *out = refproc_run_json(argv, why, why_size);
    if (out && !json_is_object(json_object_get(out, "us_per_step"))) {
        snprintf(why, why_size, "the reference printed no us_per_step");
        json_decref(out);
        return NULL;
    }
    return out;
}

int bench_model(int argc, char **argv)
{
    const char *model_path = NULL, *variant = "gru", *python = "/usr/bin/python3", *node = "node";
    int segments = 1000, d_ff = 0;
    bool reference = true, as_json = false, ort = true;

    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--model") == 0 && has_value) {
            model_path = argv[++i];
        } else if (strcmp(a, "--variant") == 0 && has_value) {
            variant = argv[++i];
        } else if (strcmp(a, "--segments") == 0 && has_value) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 10000000) {
                cli_error(BENCH, "--segments: '%s' is not a count from 1", argv[i]);
                return EXIT_USAGE;
            }
            segments = (int)n;
        } else if (strcmp(a, "--python") == 0 && has_value) {
            python = argv[++i];
        } else if (strcmp(a, "--no-reference") == 0) {
            reference = false;
        } else if (strcmp(a, "--d-ff") == 0 && has_value) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 8 || n > 65536 || n % 8) {
                cli_error(BENCH, "--d-ff: '%s' is not a width from 8 to 65536, a multiple of 8",
                          argv[i]);
                return EXIT_USAGE;
            }
            d_ff = (int)n;
        } else if (strcmp(a, "--no-ort") == 0) {
            ort = false;
        } else if (strcmp(a, "--node") == 0 && has_value) {
            node = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            as_json = true;
        } else {
            cli_error(BENCH, "unknown option or missing value '%s'", a);
            usage(stderr);
            return EXIT_USAGE;
        }
    }

    blas_set_threads(1);
    struct errbuf err = {0};
    struct crt_model *model = NULL;
    char tmp_path[] = "/tmp/crt-bench-model-XXXXXX.safetensors";
    bool tmp_made = false;
    json_t *ref = NULL;
    int status = 1, r;

    if (model_path && d_ff) {
        cli_error(BENCH, "--d-ff sizes the random model: not with --model");
        return EXIT_USAGE;
    }
    if (model_path) {
        r = crt_model_load(model_path, &model, &err);
        if (r < 0) {
            cli_error(BENCH, "%s", errbuf_text(&err, r));
            return 1;
        }
    } else {
        struct crt_config cfg;
        crt_config_default(&cfg);
        cfg.n_classes = SMARTHOME_NUM_CLASSES;
        str_copy(cfg.variant, sizeof(cfg.variant), variant);
        if (d_ff)
            cfg.d_ff = d_ff;
        r = crt_model_new(&cfg, smarthome_classes, &model, &err);
        if (r < 0) {
            cli_error(BENCH, "--variant %s: %s", variant, errbuf_text(&err, r));
            return EXIT_USAGE;
        }
        crt_model_init_random(model, 1);
        crt_model_set_metadata(model, "provenance.data", "random weights (crt bench model)");
        crt_model_set_metadata(model, "provenance.recipe", "none");
        crt_model_set_metadata(model, "provenance.date", "now");
        if (reference || ort) {
            int fd = mkstemps(tmp_path, (int)strlen(".safetensors"));
            if (fd < 0) {
                cli_error(BENCH, "%s: %s", tmp_path, strerror(errno));
                goto done;
            }
            close(fd);
            tmp_made = true;
            r = crt_model_save(model, tmp_path, SAFETENSORS_F32, &err);
            if (r < 0) {
                cli_error(BENCH, "%s", errbuf_text(&err, r));
                goto done;
            }
            model_path = tmp_path;
        }
    }

    const struct crt_config *cfg = crt_model_config(model);
    double us_stream, us_clips;
    int batch = 64;
    if ((r = time_stream(model, segments, &us_stream)) < 0 ||
        (r = time_clips(model, batch, &us_clips)) < 0) {
        cli_error(BENCH, "%s", strerror(-r));
        goto done;
    }
    struct crt_stream *s;
    if ((r = crt_stream_new(model, &s)) < 0) {
        cli_error(BENCH, "%s", strerror(-r));
        goto done;
    }
    size_t mem_bytes = crt_stream_memory_bytes(s), state_bytes = crt_stream_state_bytes(s);
    size_t footprint = crt_stream_footprint_bytes(s), saved = crt_stream_save_size(model);
    crt_stream_free(s);

    char why[512] = "--no-reference";
    if (reference) {
        const char *script = getenv("CRTD_CRT_REF");
        if (!script || !*script)
            script = CRTD_SOURCE_ROOT "/tests/ref/crt_ref.py";
        if (!as_json)
            fprintf(stderr, "crt bench model: timing the PyTorch reference (%s)...\n", script);
        int iters = segments / 5 > 20 ? segments / 5 : 20;
        ref = run_reference(python, script, model_path, iters, why, sizeof(why));
    }

    double ort_us = NAN, ort_binding_us = NAN;
    char ort_why[512] = "--no-ort";
    if (ort) {
        char onnx_path[4096];
        struct errbuf oerr = {0};
        int iters = segments / 2 > 100 ? segments / 2 : 100;
        if (!as_json)
            fprintf(stderr, "crt bench model: timing ONNX Runtime (%s)...\n", ORT_PEER_NAME);
        r = ort_peer_export(python, "segment", model_path, onnx_path, sizeof(onnx_path), &oerr);
        if (r >= 0) {
            r = ort_peer_segment(node, onnx_path, iters, &ort_us, &ort_binding_us, &oerr);
            unlink(onnx_path);
        }
        if (r < 0)
            snprintf(ort_why, sizeof(ort_why), "%s", errbuf_text(&oerr, r));
    }

    static const struct {
        const char *key, *label;
    } ref_paths[] = {
        {"module", "PyTorch nn.TransformerEncoder + nn.GRUCell"},
        {"functional", "PyTorch op by op (functional)"},
        {"fastpath_erf_gelu", "PyTorch fused encoder fast path (erf GELU)"},
    };
    double flops = crt_model_flops_per_segment(model);
    /* The floor under a step that reads every weight once. */
    size_t weight_bytes = crt_model_num_parameters(model) * sizeof(float);
    double read_gbs = 0, read_us = bench_read_us(weight_bytes, &read_gbs);
    if (as_json) {
        json_t *out = json_pack(
            "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:f, s:s, s:i, s:{s:f, s:f, s:i}, "
            "s:{s:I, s:I, s:I, s:I}}",
            "architecture", cfg->architecture, "variant", cfg->variant, "d_model", cfg->d_model,
            "n_layers", cfg->n_layers, "n_heads", cfg->n_heads, "segment_len", cfg->segment_len,
            "n_features", cfg->n_features, "n_classes", cfg->n_classes, "parameters",
            (json_int_t)crt_model_num_parameters(model), "flops_per_segment", flops, "blas_core",
            blas_core_name(), "blas_threads", openblas_get_num_threads(), "crtd_us_per_segment",
            "stream_batch1", us_stream, "clips_batched", us_clips, "clips_batch", batch,
            "bytes_per_stream", "persistent_memory", (json_int_t)mem_bytes,
            "state_with_partial_segment", (json_int_t)state_bytes, "saved_state_max",
            (json_int_t)saved, "footprint", (json_int_t)footprint);
        json_object_set_new(out, "weights_bytes", json_integer((json_int_t)weight_bytes));
        json_object_set_new(out, "weights_read_us", json_real(read_us));
        if (ref) {
            json_t *us = json_object_get(ref, "us_per_step");
            json_t *ratios = json_object();
            const char *key;
            json_t *v;
            json_object_foreach(us, key, v)
                json_object_set_new(ratios, key, json_real(json_number_value(v) / us_stream));
            json_object_set(out, "pytorch", ref);
            json_object_set_new(out, "pytorch_over_crtd", ratios);
        } else {
            json_object_set_new(out, "pytorch_skipped", json_string(why));
        }
        if (isfinite(ort_us)) {
            json_object_set_new(out, "onnxruntime",
                                json_pack("{s:s, s:f, s:f, s:i}", "runtime", ORT_PEER_NAME,
                                          "us_per_step", ort_us, "us_per_call_empty_graph",
                                          ort_binding_us, "threads", 1));
            json_object_set_new(out, "onnxruntime_over_crtd", json_real(ort_us / us_stream));
        } else {
            json_object_set_new(out, "onnxruntime_skipped", json_string(ort_why));
        }
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(out);
    } else {
        printf("model: %s/%s  d %d  N %d  H %d  FFN %d  L %d  F %d  classes %d\n",
               cfg->architecture, cfg->variant, cfg->d_model, cfg->n_layers, cfg->n_heads,
               cfg->d_ff, cfg->segment_len, cfg->n_features, cfg->n_classes);
        printf("       %zu parameters, %.2f MFLOP per segment; OpenBLAS core %s, %d thread\n\n",
               crt_model_num_parameters(model), flops / 1e6, blas_core_name(),
               openblas_get_num_threads());
        printf("segment step, batch 1 (L frames pushed + step)   us/segment   vs crtd\n");
        printf("  %-46s %10.1f   %s\n", "crtd", us_stream, "1.0x");
        char what[64];
        snprintf(what, sizeof(what), "reading the %.2f MB of weights, nothing else",
                 (double)weight_bytes / 1e6);
        printf("  %-46s %10.1f   (%.0f GB/s: the floor under a step)\n", what, read_us, read_gbs);
        if (ref) {
            json_t *us = json_object_get(ref, "us_per_step");
            for (size_t i = 0; i < ARRAY_SIZE(ref_paths); i++) {
                json_t *v = json_object_get(us, ref_paths[i].key);
                if (json_is_number(v))
                    printf("  %-46s %10.1f   %.1fx slower\n", ref_paths[i].label,
                           json_number_value(v), json_number_value(v) / us_stream);
            }
            printf("  (torch %s, %d thread)\n",
                   json_string_value(json_object_get(ref, "torch"))
                       ? json_string_value(json_object_get(ref, "torch"))
                       : "?",
                   (int)json_integer_value(json_object_get(ref, "threads")));
        } else {
            printf("  PyTorch reference not run: %s\n", why);
        }
        if (isfinite(ort_us)) {
            printf("  %-46s %10.1f   %.1fx slower\n", "ONNX Runtime (" ORT_PEER_NAME ", CPU)",
                   ort_us, ort_us / us_stream);
            printf("  (of which the node binding's call, on an empty graph: %.1f us;\n"
                   "   ONNX Runtime's own step: %.1f us, %.1fx crtd's)\n",
                   ort_binding_us, ort_us - ort_binding_us, (ort_us - ort_binding_us) / us_stream);
        } else {
            printf("  ONNX Runtime not run: %s\n", ort_why);
        }
        if (strcmp(blas_core_name(), "Haswell") == 0 && cpu_has_avx512())
            printf("  (this CPU has AVX-512 but OpenBLAS runs its Haswell kernels%s: PyTorch's\n"
                   "   products and crtd's batched clips use them; crtd's batch-1 step runs its\n"
                   "   own small-matrix kernels. OPENBLAS_CORETYPE=SkylakeX selects OpenBLAS's\n"
                   "   AVX-512 kernels)\n",
                   getenv("OPENBLAS_CORETYPE") ? ", as OPENBLAS_CORETYPE says" : "");
        printf("\nbatched clips, %d per batch (crt eval's path)   %10.1f us/segment\n\n", batch,
               us_clips);
        printf("bytes per stream\n");
        printf("  persistent memory m                    %8zu  (goal <= 1024)\n", mem_bytes);
        printf("  memory + partial segment (L x F)       %8zu\n", state_bytes);
        printf("  serialised state, at most              %8zu\n", saved);
        printf("  whole stream with its workspace        %8zu\n", footprint);
    }
    status = 0;
done:
    json_decref(ref);
    if (tmp_made)
        unlink(tmp_path);
    crt_model_free(model);
    return status;
}
