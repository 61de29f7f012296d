/* crt bench pose: crtd's MoveNet runner on one thread beside TensorFlow.js
 * 4.22.0 with tfjs-backend-wasm (SIMD, one thread) on the same model file and
 * the same input tensor, measured in the same run. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "commands.h"
#include "model.h"
#include "pose_cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt bench pose [options]\n\n"
            "Time MoveNet on one thread: crtd's runner (pose_run_tensor) and TensorFlow.js\n"
            "4.22.0 with tfjs-backend-wasm (SIMD, one thread) in node, on the same model\n"
            "file and the same pseudo-random input; prints ms per frame of each (best of\n"
            "3 repetitions), the model's GFLOPs per frame, the GFLOP/s crtd reaches and\n"
            "its fraction of the CPU's sgemm peak measured in the same run (OpenBLAS,\n"
            "one thread, 1024^3).\n\n"
            "options:\n"
            "  --model NAME|FILE  lightning (default), thunder, or a model.json\n"
            "  --models DIR       where movenet-NAME.json lives (default: third_party/models)\n"
            "  --frames N         frames per repetition (default 100)\n"
            "  --reference WHAT   wasm (default), cpu (tfjs-backend-cpu) or none\n"
            "  --node PATH        the node program (default node)\n"
            "  --json             the figures as JSON on stdout\n");
}

static double sgemm_peak_gflops(void)
{
    const int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    double best = 0;

    if (!a || !b || !c)
        goto done;
    for (int i = 0; i < n * n; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    for (int rep = 0; rep < 4; rep++) {
        int64_t t0 = time_mono_ns();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        double s = (double)(time_mono_ns() - t0) * 1e-9;
        double g = 2.0 * n * n * n / s * 1e-9;
        if (rep > 0 && g > best)
            best = g;
    }
done:
    free(a);
    free(b);
    free(c);
    return best;
}

/* Runs the reference; returns its ms per frame, or a negative errno. */
static int run_reference(const char *node, const char *backend, const char *model_path,
                         const char *input_path, int frames, double *ret_ms, bool *ret_simd,
                         struct errbuf *err)
{
    char script[4096], npm[4096], cmd[16384], line[1024];
    json_error_t jerr;
    int r;

    r = pose_cli_source_path(script, sizeof(script), "tests/ref/tfjs_pose.js", err);
    if (r < 0)
        return r;
    r = pose_cli_source_path(npm, sizeof(npm), "third_party/npm/node_modules", err);
    if (r < 0)
        return errbuf_set(err, r, "TensorFlow.js packages not found (run scripts/setup)");
    snprintf(cmd, sizeof(cmd), "'%s' '%s' bench '%s' '%s' %s %d '%s'", node, script, npm,
             model_path, backend, frames, input_path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return errbuf_set(err, -errno, "cannot run %s: %s", node, strerror(errno));
    bool got = fgets(line, sizeof(line), p) != NULL;
    int status = pclose(p);
    if (!got || status != 0)
        return errbuf_set(err, -EIO, "the TensorFlow.js reference failed (%s, exit status %d)",
                          node, status);
    json_t *j = json_loads(line, 0, &jerr);
    json_t *ms = json_object_get(j, "ms_per_frame");
    if (!json_is_number(ms)) {
        json_decref(j);
        return errbuf_set(err, -EBADMSG, "the reference printed no ms_per_frame: %s", line);
    }
    *ret_ms = json_number_value(ms);
    *ret_simd = json_is_true(json_object_get(j, "simd"));
    json_decref(j);
    return 0;
}

int bench_pose(int argc, char **argv)
{
    const char *model = "lightning", *models_dir = NULL, *reference = "wasm", *node = "node";
    int frames = 100;
    bool json = false;
    char model_path[4096], input_path[] = "/tmp/crt-bench-pose-XXXXXX";
    struct errbuf err = {0};
    struct pose_model *pm = NULL;
    struct pose_context *pc = NULL;
    int32_t *input = NULL;
    int input_fd = -1, status = 1, r;

    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--model") == 0 && has)
            model = argv[++i];
        else if (strcmp(a, "--models") == 0 && has)
            models_dir = argv[++i];
        else if (strcmp(a, "--frames") == 0 && has)
            frames = atoi(argv[++i]);
        else if (strcmp(a, "--reference") == 0 && has)
            reference = argv[++i];
        else if (strcmp(a, "--node") == 0 && has)
            node = argv[++i];
        else if (strcmp(a, "--json") == 0)
            json = true;
        else {
            cli_error("bench pose", "unknown or incomplete option '%s'", a);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (frames < 1 || frames > 100000 ||
        (strcmp(reference, "wasm") != 0 && strcmp(reference, "cpu") != 0 &&
         strcmp(reference, "none") != 0)) {
        cli_error("bench pose", "--frames must be 1..100000 and --reference wasm, cpu or none");
        return EXIT_USAGE;
    }

    openblas_set_num_threads(1);
    r = pose_cli_model_path(model_path, sizeof(model_path), model, models_dir, &err);
    if (r >= 0)
        r = pose_model_load(model_path, &pm, &err);
    if (r >= 0)
        r = pose_context_new(pm, &pc, &err);
    if (r < 0) {
        cli_error("bench pose", "%s", errbuf_text(&err, r));
        goto done;
    }
    int size = pose_model_input_size(pm);
    size_t n = (size_t)size * size * 3;
    input = malloc(n * sizeof(*input));
    if (!input) {
        cli_error("bench pose", "out of memory");
        goto done;
    }
    uint32_t seed = 12345;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 69069u + 1u;
        input[i] = (int32_t)(seed >> 24);
    }

    double dense, gflops = pose_model_gflops(pm, &dense);
    fprintf(stderr, "crt bench pose: %s, %dx%d, OpenBLAS core %s, measuring crtd...\n", model_path,
            size, size, pose_cli_blas_core());
    float out[POSE_NUM_KEYPOINTS * 3];
    for (int i = 0; i < 5; i++)
        pose_run_tensor(pc, input, out);
    double crtd_ms = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        int64_t t0 = time_mono_ns();
        for (int i = 0; i < frames; i++)
            pose_run_tensor(pc, input, out);
        crtd_ms = fmin(crtd_ms, (double)(time_mono_ns() - t0) * 1e-6 / frames);
    }
    double peak = sgemm_peak_gflops();

    double ref_ms = NAN;
    bool simd = false;
    if (strcmp(reference, "none") != 0) {
        input_fd = mkstemp(input_path);
        if (input_fd < 0 ||
            write(input_fd, input, n * sizeof(*input)) != (ssize_t)(n * sizeof(*input))) {
            cli_error("bench pose", "cannot write %s: %s", input_path, strerror(errno));
            goto done;
        }
        fprintf(stderr, "crt bench pose: measuring TensorFlow.js (tfjs-backend-%s)...\n",
                reference);
        r = run_reference(node, reference, model_path, input_path, frames, &ref_ms, &simd, &err);
        if (r < 0) {
            cli_error("bench pose", "%s", errbuf_text(&err, r));
            goto done;
        }
    }

    double crtd_gflops = gflops / crtd_ms * 1e3;
    if (json) {
        json_t *j =
            json_pack("{s:s, s:i, s:f, s:f, s:{s:f, s:f, s:s, s:i}, s:f}", "model", model_path,
                      "input_size", size, "gflops_per_frame", gflops, "gflops_dense", dense, "crtd",
                      "ms_per_frame", crtd_ms, "gflops_per_s", crtd_gflops, "blas_core",
                      pose_cli_blas_core(), "threads", 1, "sgemm_peak_gflops_per_s", peak);
        if (j && strcmp(reference, "none") != 0) {
            json_object_set_new(j, "reference",
                                json_pack("{s:s, s:s, s:b, s:f, s:i}", "name", "tfjs 4.22.0",
                                          "backend", reference, "simd", simd, "ms_per_frame",
                                          ref_ms, "threads", 1));
            json_object_set_new(j, "speedup", json_real(ref_ms / crtd_ms));
        }
        char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(j);
    } else {
        printf("pose model     %s (%dx%d)\n", model_path, size, size);
        printf("work           %.3f GFLOPs per frame (%.3f in dense convolutions)\n", gflops,
               dense);
        printf("crtd           %8.2f ms/frame  %6.1f GFLOP/s  1 thread, OpenBLAS %s\n", crtd_ms,
               crtd_gflops, pose_cli_blas_core());
        if (strcmp(reference, "none") != 0) {
            printf("tfjs-%-9s %8.2f ms/frame  %6.1f GFLOP/s  1 thread, TensorFlow.js 4.22.0%s\n",
                   reference, ref_ms, gflops / ref_ms * 1e3,
                   strcmp(reference, "wasm") == 0 ? (simd ? ", SIMD" : ", no SIMD") : "");
            printf("speed-up       %.1fx\n", ref_ms / crtd_ms);
        }
        printf("CPU peak       %.1f GFLOP/s (OpenBLAS sgemm 1024^3, 1 thread, this run): crtd "
               "reaches %.0f%%\n",
               peak, 100.0 * crtd_gflops / peak);
    }
    status = 0;
done:
    if (input_fd >= 0) {
        close(input_fd);
        unlink(input_path);
    }
    free(input);
    pose_context_free(pc);
    pose_model_free(pm);
    return status;
}
