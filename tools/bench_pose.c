/* crt bench pose: crtd's MoveNet runner on one thread beside ONNX Runtime
 * (bench_peer_ort.c) and TensorFlow.js 4.22.0 with tfjs-backend-wasm (SIMD,
 * one thread) on the same model and the same input tensor, measured in the
 * same run; MultiPose at two input sizes. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "bench_peer_ort.h"
#include "commands.h"
#include "pose.h"
#include "pose_cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crt bench pose [options]\n\n"
            "Time MoveNet on one thread: crtd's runner (pose_run_tensor), ONNX Runtime\n"
            "(onnxruntime-node, its CPU kernels) on the same graph written as ONNX, and\n"
            "TensorFlow.js 4.22.0 with tfjs-backend-wasm (SIMD, one thread) in node, on\n"
            "the same model file and the same pseudo-random input, all in one run; prints\n"
            "ms per frame of each (best of 3 repetitions; wall clock and CPU time, which\n"
            "stays fair when other jobs share the cores), the model's GFLOPs per frame,\n"
            "the GFLOP/s crtd reaches and its fraction of the CPU's peak measured in the\n"
            "same run (a loop of independent FMAs on the widest vectors the CPU has, one\n"
            "thread), and OpenBLAS's 1024^3 sgemm for comparison.\n\n"
            "options:\n"
            "  --model NAME|FILE  lightning (default), thunder, multipose, or a model.json\n"
            "  --models DIR       where movenet-NAME.json lives (default: third_party/models)\n"
            "  --side N           multipose: time an NxN input only (default: 256 and 384;\n"
            "                     pose_run_people_tensor, the graph alone)\n"
            "  --frames N         frames per repetition (default 100; multipose 30)\n"
            "  --reference WHAT   wasm (default), cpu (tfjs-backend-cpu) or none\n"
            "  --node PATH        the node program (default node)\n"
            "  --no-ort           skip ONNX Runtime (onnxruntime-node 1.30.0, its CPU\n"
            "                     kernels, one thread, on the same graph written as ONNX\n"
            "                     by tests/ref/onnx_export.py)\n"
            "  --python PATH      interpreter with python3-onnx (default /usr/bin/python3)\n"
            "  --json             the figures as JSON on stdout\n");
}

static int64_t thread_cpu_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The CPU's single-thread float peak at its current clock: 12 independent
 * chains of fused multiply-adds on the widest vectors it has (AVX-512, else
 * AVX2 + FMA, else SSE multiply and add), nothing but registers. */
typedef float peak_v16 __attribute__((vector_size(64)));
typedef float peak_v8 __attribute__((vector_size(32)));
typedef float peak_v4 __attribute__((vector_size(16)));

#define PEAK_LOOP(V, LANES)                                                                        \
    V a[12], m, c;                                                                                 \
    for (int j = 0; j < 12; j++)                                                                   \
        a[j] = (V){0} + (float)j;                                                                  \
    m = (V){0} + 0.999999f;                                                                        \
    c = (V){0} + 1e-6f;                                                                            \
    for (long i = 0; i < iters; i++) {                                                             \
        _Pragma("GCC unroll 12") for (int j = 0; j < 12; j++) a[j] = a[j] * m + c;                 \
    }                                                                                              \
    float sum = 0;                                                                                 \
    for (int j = 0; j < 12; j++)                                                                   \
        for (int l = 0; l < (LANES); l++)                                                          \
            sum += a[j][l];                                                                        \
    *ret_lanes = (LANES);                                                                          \
    return sum;

__attribute__((target("arch=x86-64-v4"))) static float peak_avx512(long iters, int *ret_lanes)
{
    PEAK_LOOP(peak_v16, 16)
}

__attribute__((target("arch=x86-64-v3"))) static float peak_avx2(long iters, int *ret_lanes)
{
    PEAK_LOOP(peak_v8, 8)
}

static float peak_sse(long iters, int *ret_lanes)
{
    PEAK_LOOP(peak_v4, 4)
}

static double fma_peak_gflops(const char **ret_isa)
{
    const long iters = 2000000;
    double best = 0;
    volatile float sink = 0;

    bool v4 = cpu_has_avx512();
    bool v3 = cpu_has_avx2_fma();
    *ret_isa = v4 ? "AVX-512 FMA" : v3 ? "AVX2 FMA" : "SSE";
    for (int rep = 0; rep < 12; rep++) {
        int lanes = 4;
        int64_t t0 = thread_cpu_ns();
        sink += v4   ? peak_avx512(iters, &lanes)
                : v3 ? peak_avx2(iters, &lanes)
                     : peak_sse(iters, &lanes);
        double s = (double)(thread_cpu_ns() - t0) * 1e-9;
        double g = 2.0 * 12 * lanes * (double)iters / s * 1e-9;
        best = fmax(best, g);
    }
    (void)sink;
    return best;
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
        int64_t t0 = thread_cpu_ns();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        double s = (double)(thread_cpu_ns() - t0) * 1e-9;
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

/* Runs the reference on an in_h x in_w input; returns its ms per frame, or a
 * negative errno. */
static int run_reference(const char *node, const char *backend, const char *model_path,
                         const char *input_path, int frames, int in_w, int in_h, double *ret_ms,
                         double *ret_cpu_ms, bool *ret_simd, struct errbuf *err)
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
    snprintf(cmd, sizeof(cmd), "'%s' '%s' bench '%s' '%s' %s %d '%s' --size=%dx%d", node, script,
             npm, model_path, backend, frames, input_path, in_h, in_w);
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
    json_t *cpu = json_object_get(j, "cpu_ms_per_frame");
    *ret_cpu_ms = json_is_number(cpu) ? json_number_value(cpu) : NAN;
    *ret_simd = json_is_true(json_object_get(j, "simd"));
    json_decref(j);
    return 0;
}

/* One input size: what it costs and how fast each side runs it. */
struct bench_row {
    int in_w, in_h;
    double gflops, dense;
    double crtd_ms, crtd_cpu_ms;
    double ref_ms, ref_cpu_ms;
    bool simd;
    double ort_ms, ort_cpu_ms; /* NAN when not run */
};

/* Runs the graph once on input: pose_run_tensor, or for MultiPose
 * pose_run_people_tensor at that size. */
static int run_once(struct pose_context *pc, bool multi, const int32_t *input, int in_w, int in_h,
                    struct errbuf *err)
{
    float out[POSE_MAX_PEOPLE * POSE_PEOPLE_STRIDE];

    if (multi)
        return pose_run_people_tensor(pc, input, in_w, in_h, out, err);
    pose_run_tensor(pc, input, out);
    return 0;
}

static int bench_size(struct pose_context *pc, const struct pose_model *pm, struct bench_row *row,
                      const int32_t *input, int frames, const char *reference, const char *node,
                      const char *model_path, const char *ort_onnx, struct errbuf *err)
{
    bool multi = pose_model_is_multi(pm);
    char input_path[] = "/tmp/crt-bench-pose-XXXXXX";
    size_t n = (size_t)row->in_w * row->in_h * 3;
    int r;

    if (multi) {
        r = pose_people_plan(pc, row->in_w, row->in_h, &row->gflops, &row->dense, err);
        if (r < 0)
            return r;
    } else {
        row->gflops = pose_model_gflops(pm, &row->dense);
    }
    fprintf(stderr, "crt bench pose: %s, %dx%d, %s, measuring crtd...\n", model_path, row->in_w,
            row->in_h, pose_model_kernels(pm));
    for (int i = 0; i < 5; i++)
        if ((r = run_once(pc, multi, input, row->in_w, row->in_h, err)) < 0)
            return r;
    row->crtd_ms = row->crtd_cpu_ms = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        int64_t t0 = time_mono_ns(), c0 = thread_cpu_ns();
        for (int i = 0; i < frames; i++)
            run_once(pc, multi, input, row->in_w, row->in_h, err);
        row->crtd_ms = fmin(row->crtd_ms, (double)(time_mono_ns() - t0) * 1e-6 / frames);
        row->crtd_cpu_ms = fmin(row->crtd_cpu_ms, (double)(thread_cpu_ns() - c0) * 1e-6 / frames);
    }
    row->ref_ms = row->ref_cpu_ms = row->ort_ms = row->ort_cpu_ms = NAN;
    if (strcmp(reference, "none") == 0 && !ort_onnx)
        return 0;
    int fd = mkstemp(input_path);
    if (fd < 0 || write(fd, input, n * sizeof(*input)) != (ssize_t)(n * sizeof(*input))) {
        r = errbuf_set(err, -errno, "cannot write %s: %s", input_path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(input_path);
        }
        return r;
    }
    close(fd);
    r = 0;
    if (ort_onnx) {
        fprintf(stderr, "crt bench pose: measuring ONNX Runtime (%s)...\n", ORT_PEER_NAME);
        r = ort_peer_pose(node, ort_onnx, input_path, frames, row->in_w, row->in_h, &row->ort_ms,
                          &row->ort_cpu_ms, err);
    }
    if (r >= 0 && strcmp(reference, "none") != 0) {
        fprintf(stderr, "crt bench pose: measuring TensorFlow.js (tfjs-backend-%s)...\n",
                reference);
        r = run_reference(node, reference, model_path, input_path, frames, row->in_w, row->in_h,
                          &row->ref_ms, &row->ref_cpu_ms, &row->simd, err);
    }
    unlink(input_path);
    return r;
}

int bench_pose(int argc, char **argv)
{
    const char *model = "lightning", *models_dir = NULL, *reference = "wasm", *node = "node";
    const char *python = "/usr/bin/python3";
    bool ort = true;
    char ort_onnx[4096] = "";
    int frames = -1, side = 0; /* frames -1: the model's default */
    bool json = false;
    char model_path[4096];
    struct errbuf err = {0};
    struct pose_model *pm = NULL;
    struct pose_context *pc = NULL;
    int32_t *input = NULL;
    struct bench_row rows[2] = {{0}};
    int n_rows = 0, status = 1, r;

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
        else if (strcmp(a, "--side") == 0 && has)
            side = atoi(argv[++i]);
        else if (strcmp(a, "--reference") == 0 && has)
            reference = argv[++i];
        else if (strcmp(a, "--node") == 0 && has)
            node = argv[++i];
        else if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--no-ort") == 0)
            ort = false;
        else if (strcmp(a, "--python") == 0 && has)
            python = argv[++i];
        else {
            cli_error("bench pose", "unknown or incomplete option '%s'", a);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if ((frames < 1 && frames != -1) || frames > 100000 ||
        (strcmp(reference, "wasm") != 0 && strcmp(reference, "cpu") != 0 &&
         strcmp(reference, "none") != 0)) {
        cli_error("bench pose", "--frames must be 1..100000 and --reference wasm, cpu or none");
        return EXIT_USAGE;
    }
    if (side && (side < POSE_PEOPLE_MIN_SIDE || side > POSE_PEOPLE_MAX_SIDE || side % 32)) {
        cli_error("bench pose", "--side must be a multiple of 32 from %d to %d",
                  POSE_PEOPLE_MIN_SIDE, POSE_PEOPLE_MAX_SIDE);
        return EXIT_USAGE;
    }

    blas_set_threads(1);
    struct pose_options options = pose_cli_options();
    r = pose_cli_model_path(model_path, sizeof(model_path), model, models_dir, &err);
    if (r >= 0)
        r = pose_model_load_opts(model_path, &options, &pm, &err);
    if (r >= 0)
        r = pose_context_new(pm, &pc, &err);
    if (r < 0) {
        cli_error("bench pose", "%s", errbuf_text(&err, r));
        goto done;
    }
    bool multi = pose_model_is_multi(pm);
    if (multi) {
        /* square inputs: the largest a frame of that side gets */
        int sides[2] = {side ? side : 256, 384};
        for (int k = 0; k < (side ? 1 : 2); k++)
            rows[n_rows++] = (struct bench_row){.in_w = sides[k], .in_h = sides[k]};
    } else {
        int size = pose_model_input_size(pm);
        rows[n_rows++] = (struct bench_row){.in_w = size, .in_h = size};
    }
    if (frames < 0)
        frames = multi ? 30 : 100;
    size_t n = 0;
    for (int k = 0; k < n_rows; k++)
        n = n > (size_t)rows[k].in_w * rows[k].in_h * 3 ? n
                                                        : (size_t)rows[k].in_w * rows[k].in_h * 3;
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
    if (ort) {
        fprintf(stderr, "crt bench pose: writing %s as ONNX (tests/ref/onnx_export.py)...\n",
                model_path);
        r = ort_peer_export(python, "movenet", model_path, ort_onnx, sizeof(ort_onnx), &err);
        if (r < 0) {
            ort_onnx[0] = '\0';
            cli_error("bench pose", "ONNX Runtime: %s (--no-ort skips it)", errbuf_text(&err, r));
            goto done;
        }
    }
    for (int k = 0; k < n_rows; k++) {
        r = bench_size(pc, pm, &rows[k], input, frames, reference, node, model_path,
                       ort ? ort_onnx : NULL, &err);
        if (r < 0) {
            cli_error("bench pose", "%s", errbuf_text(&err, r));
            goto done;
        }
    }
    double blas = sgemm_peak_gflops();
    const char *isa;
    double peak = fma_peak_gflops(&isa);

    /* GFLOP/s per second of CPU time (the peak loop is timed the same way),
     * so that the fraction of peak holds on a shared machine */
    bool has_ref = strcmp(reference, "none") != 0;
    if (json) {
        json_t *j = json_object(), *sizes = json_array();
        json_object_set_new(j, "model", json_string(model_path));
        for (int k = 0; k < n_rows; k++) {
            const struct bench_row *w = &rows[k];
            double crtd_gflops = w->gflops / w->crtd_cpu_ms * 1e3;
            json_t *o = json_pack("{s:i, s:i, s:f, s:f}", "input_width", w->in_w, "input_height",
                                  w->in_h, "gflops_per_frame", w->gflops, "gflops_dense", w->dense);
            json_object_set_new(o, "crtd",
                                json_pack("{s:f, s:f, s:f, s:s, s:i}", "ms_per_frame", w->crtd_ms,
                                          "cpu_ms_per_frame", w->crtd_cpu_ms, "gflops_per_cpu_s",
                                          crtd_gflops, "kernels", pose_model_kernels(pm), "threads",
                                          1));
            if (has_ref) {
                json_object_set_new(o, "reference",
                                    json_pack("{s:s, s:s, s:b, s:f, s:f, s:f, s:i}", "name",
                                              "tfjs 4.22.0", "backend", reference, "simd", w->simd,
                                              "ms_per_frame", w->ref_ms, "cpu_ms_per_frame",
                                              w->ref_cpu_ms, "gflops_per_cpu_s",
                                              w->gflops / w->ref_cpu_ms * 1e3, "threads", 1));
                json_object_set_new(o, "speedup_wall", json_real(w->ref_ms / w->crtd_ms));
                json_object_set_new(o, "speedup_cpu", json_real(w->ref_cpu_ms / w->crtd_cpu_ms));
            }
            if (ort) {
                json_object_set_new(o, "onnxruntime",
                                    json_pack("{s:s, s:f, s:f, s:f, s:i}", "name", ORT_PEER_NAME,
                                              "ms_per_frame", w->ort_ms, "cpu_ms_per_frame",
                                              w->ort_cpu_ms, "gflops_per_cpu_s",
                                              w->gflops / w->ort_cpu_ms * 1e3, "threads", 1));
                json_object_set_new(o, "speedup_vs_onnxruntime_cpu",
                                    json_real(w->ort_cpu_ms / w->crtd_cpu_ms));
            }
            json_object_set_new(o, "fraction_of_peak", json_real(crtd_gflops / peak));
            json_array_append_new(sizes, o);
            /* the single-size fields as before, for the first size */
            if (k == 0) {
                json_object_set_new(j, "input_size", json_integer(w->in_w));
                json_object_set_new(j, "gflops_per_frame", json_real(w->gflops));
                json_object_set_new(j, "gflops_dense", json_real(w->dense));
                json_object_set(j, "crtd", json_object_get(o, "crtd"));
                if (has_ref) {
                    json_object_set(j, "reference", json_object_get(o, "reference"));
                    json_object_set(j, "speedup_wall", json_object_get(o, "speedup_wall"));
                    json_object_set(j, "speedup_cpu", json_object_get(o, "speedup_cpu"));
                }
                json_object_set(j, "fraction_of_peak", json_object_get(o, "fraction_of_peak"));
            }
        }
        json_object_set_new(j, "sizes", sizes);
        json_object_set_new(j, "cpu_peak_gflops_per_s", json_real(peak));
        json_object_set_new(j, "cpu_peak_method", json_string(isa));
        json_object_set_new(j, "openblas_sgemm_gflops_per_s", json_real(blas));
        json_object_set_new(j, "openblas_core", json_string(blas_core_name()));
        char *text = json_dumps(j, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(j);
    } else {
        printf("pose model     %s%s\n", model_path, multi ? " (MultiPose)" : "");
        for (int k = 0; k < n_rows; k++) {
            const struct bench_row *w = &rows[k];
            double crtd_gflops = w->gflops / w->crtd_cpu_ms * 1e3;
            printf("input          %dx%d\n", w->in_w, w->in_h);
            printf("work           %.3f GFLOPs per frame (%.3f in dense convolutions)\n", w->gflops,
                   w->dense);
            printf("crtd           %8.2f ms/frame  CPU %6.2f ms  %6.1f GFLOP/s  1 thread, %s "
                   "(%.0f%% of peak)\n",
                   w->crtd_ms, w->crtd_cpu_ms, crtd_gflops, pose_model_kernels(pm),
                   100.0 * crtd_gflops / peak);
            if (has_ref) {
                printf("tfjs-%-9s %8.2f ms/frame  CPU %6.2f ms  %6.1f GFLOP/s  1 thread, "
                       "TensorFlow.js 4.22.0%s\n",
                       reference, w->ref_ms, w->ref_cpu_ms, w->gflops / w->ref_cpu_ms * 1e3,
                       strcmp(reference, "wasm") == 0 ? (w->simd ? ", SIMD" : ", no SIMD") : "");
                printf("speed-up       %.1fx wall clock, %.1fx CPU time\n", w->ref_ms / w->crtd_ms,
                       w->ref_cpu_ms / w->crtd_cpu_ms);
            }
            if (ort) {
                printf("onnxruntime    %8.2f ms/frame  CPU %6.2f ms  %6.1f GFLOP/s  1 thread, %s, "
                       "CPU kernels\n",
                       w->ort_ms, w->ort_cpu_ms, w->gflops / w->ort_cpu_ms * 1e3, ORT_PEER_NAME);
                printf("vs ONNX Rt     %.2fx wall clock, %.2fx CPU time\n", w->ort_ms / w->crtd_ms,
                       w->ort_cpu_ms / w->crtd_cpu_ms);
            }
        }
        printf("CPU peak       %.1f GFLOP/s (1 thread, %s loop)\n", peak, isa);
        printf("OpenBLAS       %.1f GFLOP/s (sgemm 1024^3, 1 thread, core %s)\n", blas,
               blas_core_name());
        printf("(GFLOP/s per second of CPU time: figures stay fair when other jobs share "
               "the cores)\n");
    }
    status = 0;
done:
    if (ort_onnx[0])
        unlink(ort_onnx);
    free(input);
    pose_context_free(pc);
    pose_model_free(pm);
    return status;
}
