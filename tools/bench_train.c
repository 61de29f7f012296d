/* crt bench train: clips per second of crtd's trainer beside the PyTorch
 * reference (tests/ref/crt_train_ref.py) training the same model on the same
 * batch shape with the same number of threads, in one run. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "data.h"
#include "safetensors.h"
#include "crt.h"
#include "train.h"
#include "refproc.h"

#ifndef CRTD_SOURCE_ROOT
#define CRTD_SOURCE_ROOT "."
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt bench train [--variant V] [--batch B] [--segments W]\n"
            "                       [--steps N] [--threads T] [--no-reference] [--json]\n\n"
            "Clips per second of one training step (forward and backward over W\n"
            "segments of B clips, then AdamW) for crtd's trainer and for PyTorch on the\n"
            "same model (default sizes, seeded random weights) and the same threads.\n\n"
            "  --variant V      memory mechanism (default %s), one of:\n"
            "                   %s\n"
            "  --batch B        clips per step (default 32)\n"
            "  --segments W     segments per clip and window (default 8)\n"
            "  --steps N        timed steps (default 10, after 2 warm-up steps)\n"
            "  --threads T      threads for both (default 1)\n"
            "  --no-reference   skip PyTorch (the reference trains gru and ncgru)\n"
            "  --python PATH    interpreter with torch (default /usr/bin/python3)\n"
            "  --json           one JSON object on stdout\n\n"
            "The reference script is $CRTD_CRT_TRAIN_REF or\n"
            "%s/tests/ref/crt_train_ref.py.\n",
            crt_variant_name(0), crt_variant_names(), CRTD_SOURCE_ROOT);
}

static double time_crtd(struct crt_model *model, int B, int W, int steps, int threads,
                        struct errbuf *err)
{
    const struct crt_config *cfg = crt_model_config(model);
    struct crt_train_options opts;
    struct crt_trainer *trainer = NULL;
    crt_train_options_default(&opts);
    opts.max_batch = B;
    opts.max_window = W;
    opts.threads = threads;
    if (crt_trainer_new(model, &opts, &trainer, err) < 0)
        return -1;
    size_t per_clip = (size_t)W * cfg->segment_len * cfg->n_features;
    size_t S = crt_model_memory_floats(model);
    float *feats = malloc((size_t)B * per_clip * sizeof(float));
    float *weights = malloc((size_t)B * W * sizeof(float));
    float *mem = malloc((size_t)B * S * sizeof(float));
    int *targets = malloc((size_t)B * W * sizeof(int));
    const float **ptrs = malloc((size_t)B * sizeof(*ptrs));
    bool *from_start = malloc((size_t)B * sizeof(bool));
    double rate = -1;
    if (!feats || !weights || !mem || !targets || !ptrs || !from_start) {
        errbuf_set(err, -ENOMEM, "out of memory");
        goto done;
    }
    struct rng rng;
    rng_seed(&rng, 3);
    for (size_t k = 0; k < (size_t)B * per_clip; k++)
        feats[k] = (float)rng_range(&rng, -1, 1);
    for (int k = 0; k < B * W; k++) {
        targets[k] = rng_below(&rng, cfg->n_classes);
        weights[k] = (float)rng_uniform(&rng);
    }
    for (int b = 0; b < B; b++) {
        ptrs[b] = feats + per_clip * b;
        from_start[b] = true;
    }
    int64_t start = 0;
    for (int s = -2; s < steps; s++) {
        if (s == 0)
            start = time_mono_ns();
        for (int b = 0; b < B; b++)
            crt_model_initial_memory(model, mem + S * b);
        crt_trainer_zero_grad(trainer);
        crt_trainer_forward_backward(trainer, B, W, ptrs, targets, weights, from_start, mem, NULL);
        crt_trainer_step(trainer, 1.0f / (float)B, 1e-4f);
    }
    rate = (double)B * steps / ((double)(time_mono_ns() - start) * 1e-9);
done:
    free(feats);
    free(weights);
    free(mem);
    free(targets);
    free(ptrs);
    free(from_start);
    crt_trainer_free(trainer);
    return rate;
}

int bench_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"variant", required_argument, NULL, 'v'},  {"batch", required_argument, NULL, 'b'},
        {"segments", required_argument, NULL, 'w'}, {"steps", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'},  {"no-reference", no_argument, NULL, 'n'},
        {"python", required_argument, NULL, 'p'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *variant = crt_variant_name(0), *python = "/usr/bin/python3";
    int B = 32, W = 8, steps = 10, threads = 1, c;
    bool reference = true, as_json = false;
    struct errbuf err = {0};

    optind = 1;
    opterr = 0;
    int longindex = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, &longindex)) != -1) {
        int *slot = c == 'b' ? &B : c == 'w' ? &W : c == 's' ? &steps : c == 't' ? &threads : NULL;
        if (slot) {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 4096) {
                cli_error("bench train", "invalid value '%s' for --%s", optarg,
                          longopts[longindex].name);
                return EXIT_USAGE;
            }
            *slot = (int)v;
            continue;
        }
        switch (c) {
        case 'v':
            variant = optarg;
            break;
        case 'n':
            reference = false;
            break;
        case 'p':
            python = optarg;
            break;
        case 'j':
            as_json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            cli_error("bench train", "unknown option '%s'", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    struct crt_config cfg;
    struct crt_model *model = NULL;
    crt_config_default(&cfg);
    if (crt_variant_parse(variant, &cfg) < 0) {
        cli_error("bench train", "unknown variant '%s' (%s)", variant, crt_variant_names());
        return EXIT_USAGE;
    }
    blas_set_threads(1);

    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    int r = crt_model_new(&cfg, smarthome_classes, &model, &err);
    if (r < 0) {
        cli_error("bench train", "%s", errbuf_text(&err, r));
        return 1;
    }
    crt_model_init_random(model, 1);
    char path[] = "/tmp/crt-bench-train-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || (close(fd), crt_model_save(model, path, SAFETENSORS_F32, &err)) < 0) {
        cli_error("bench train", "cannot write the model for the reference: %s",
                  fd < 0 ? strerror(errno) : err.msg);
        crt_model_free(model);
        return 1;
    }

    fprintf(stderr, "crt bench train: crtd, %s, batch %d x %d segments, %d thread(s)...\n", variant,
            B, W, threads);
    double crtd = time_crtd(model, B, W, steps, threads, &err);
    if (crtd < 0) {
        cli_error("bench train", "%s", err.msg);
        unlink(path);
        crt_model_free(model);
        return 1;
    }
    json_t *ref = NULL;
    char why[512] = "skipped (--no-reference)";
    if (reference) {
        char script[4096], b_text[16], w_text[16], s_text[16];
        const char *env = getenv("CRTD_CRT_TRAIN_REF");
        snprintf(script, sizeof(script), "%s",
                 env && *env ? env : CRTD_SOURCE_ROOT "/tests/ref/crt_train_ref.py");
        snprintf(b_text, sizeof(b_text), "%d", B);
        snprintf(w_text, sizeof(w_text), "%d", W);
        snprintf(s_text, sizeof(s_text), "%d", steps);
        char threads_text[16];
        snprintf(threads_text, sizeof(threads_text), "%d", threads);
        setenv("OMP_NUM_THREADS", threads_text, 1);
        char *ref_argv[] = {(char *)python, script,      "bench",      "--model", path,
                            "--batch",      b_text,      "--segments", w_text,    "--steps",
                            s_text,         "--threads", threads_text, NULL};
        fprintf(stderr, "crt bench train: PyTorch reference...\n");
        ref = refproc_run_json(ref_argv, why, sizeof(why));
    }
    unlink(path);
    double torch_rate = ref ? json_real_value(json_object_get(ref, "clips_per_second")) : NAN;
    const char *torch_version = ref ? json_string_value(json_object_get(ref, "torch")) : NULL;

    if (as_json) {
        json_t *out = json_pack("{s:s, s:i, s:i, s:i, s:i, s:f, s:o, s:o, s:s?}", "variant",
                                variant, "batch", B, "segments", W, "threads", threads,
                                "parameters", (int)crt_model_num_parameters(model),
                                "crtd_clips_per_second", crtd, "pytorch_clips_per_second",
                                isnan(torch_rate) ? json_null() : json_real(torch_rate), "speedup",
                                isnan(torch_rate) ? json_null() : json_real(crtd / torch_rate),
                                "pytorch", torch_version);
        json_dumpf(out, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(out);
    } else {
        printf("training step: %s, d %d, %d layers, batch %d x %d segments of %d frames, %d "
               "thread(s)\n",
               variant, cfg.d_model, cfg.n_layers, B, W, cfg.segment_len, threads);
        printf("  crtd      %8.1f clips/s\n", crtd);
        if (ref)
            printf("  PyTorch   %8.1f clips/s  (torch %s)\n  crtd is %.2fx PyTorch\n", torch_rate,
                   torch_version ? torch_version : "?", crtd / torch_rate);
        else
            printf("  PyTorch   %s\n", why);
    }
    json_decref(ref);
    crt_model_free(model);
    return 0;
}
