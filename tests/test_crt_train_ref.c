/* The trainer's gradients against PyTorch's autograd (suite numeric).
 *
 * tests/ref/crt_train_ref.py writes, at test time, random-weight GRU and
 * NC-GRU models, a batch of clips over three segments with targets and loss
 * weights, and PyTorch's gradient of every tensor. crtd's trainer must agree
 * within 1e-3 relative error (max |crtd - torch| / max |torch|) on every
 * tensor, and on the loss. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "safetensors.h"
#include "crt.h"
#include "train.h"
#include "refscript.h"
#include "tl_tensor.h"

#define TOLERANCE 1e-3

static char ref_dir[4096];

static int run_reference(void **state)
{
    snprintf(ref_dir, sizeof(ref_dir), "%s/crt-train-ref", refscript_env_or("CRTD_TEST_TMP", "."));
    return refscript_run("CRTD_CRT_TRAIN_REF", "tests/ref/crt_train_ref.py", "grads", ref_dir);
}

static void gradients_match_pytorch(const char *variant)
{
    char path[8192];
    struct errbuf err = {0};
    struct crt_model *model = NULL;
    struct crt_trainer *trainer = NULL;
    struct safetensors *ref = NULL;

    snprintf(path, sizeof(path), "%s/train_%s.safetensors", ref_dir, variant);
    if (crt_model_load(path, &model, &err) < 0)
        fail_msg("%s", err.msg);
    snprintf(path, sizeof(path), "%s/train_%s.grads.safetensors", ref_dir, variant);
    if (safetensors_open(path, &ref, &err) < 0)
        fail_msg("%s", err.msg);

    const struct safetensors_tensor *ft = safetensors_find(ref, "features");
    assert_non_null(ft);
    int B = (int)ft->shape[0], frames = (int)ft->shape[1], F = (int)ft->shape[2];
    const struct crt_config *cfg = crt_model_config(model);
    int W = frames / cfg->segment_len;
    assert_int_equal(F, cfg->n_features);

    struct crt_train_options opts;
    crt_train_options_default(&opts);
    opts.max_batch = B;
    opts.max_window = W;
    if (crt_trainer_new(model, &opts, &trainer, &err) < 0)
        fail_msg("%s", err.msg);

    float *feats = tl_tensor_load(ref, "features", -1, NULL, NULL);
    float *targets_f = tl_tensor_load(ref, "targets", -1, NULL, NULL);
    float *weights = tl_tensor_load(ref, "weights", -1, NULL, NULL);
    float *loss_ref = tl_tensor_load(ref, "loss", -1, NULL, NULL);
    const float *ptrs[64];
    int targets[256];
    bool from_start[64];
    float mem[64 * 256];
    size_t S = crt_model_memory_floats(model);
    for (int b = 0; b < B; b++) {
        ptrs[b] = feats + (size_t)b * frames * F;
        from_start[b] = true;
        crt_model_initial_memory(model, mem + b * S);
    }
    for (int k = 0; k < B * W; k++)
        targets[k] = (int)targets_f[k];

    crt_trainer_zero_grad(trainer);
    double loss =
        crt_trainer_forward_backward(trainer, B, W, ptrs, targets, weights, from_start, mem, NULL);
    double loss_err = fabs(loss - loss_ref[0]) / fabs(loss_ref[0]);
    printf("# %s: loss %.6f, PyTorch %.6f (relative error %.1e)\n", variant, loss, loss_ref[0],
           loss_err);
    assert_true(loss_err < 1e-5);

    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < crt_model_param_count(model); i++) {
        const char *name;
        int ndim;
        const int64_t *shape;
        size_t numel, ref_numel;
        char ref_name[128];
        crt_model_param_info(model, i, &name, &ndim, &shape, &numel);
        snprintf(ref_name, sizeof(ref_name), "grad.%s", name);
        float *expected = tl_tensor_load(ref, ref_name, -1, NULL, &ref_numel);
        assert_int_equal(ref_numel, numel);
        const float *got = crt_trainer_grad(trainer, name);
        struct tl_tensor_diff d;
        tl_tensor_diff(&d, got, expected, numel);
        double rel = d.max_abs_err / fmax(d.max_abs_want, 1e-12);
        if (rel > worst) {
            worst = rel;
            worst_name = name;
        }
        if (rel >= TOLERANCE)
            printf("#   %s: relative error %.2e\n", name, rel);
        free(expected);
    }
    printf("# %s: worst relative gradient error %.2e in '%s' over %d tensors (tolerance %.0e)\n",
           variant, worst, worst_name, crt_model_param_count(model), TOLERANCE);
    assert_true(worst < TOLERANCE);

    free(feats);
    free(targets_f);
    free(weights);
    free(loss_ref);
    safetensors_free(ref);
    crt_trainer_free(trainer);
    crt_model_free(model);
}

static void gru_gradients_match_pytorch(void **state)
{
    gradients_match_pytorch("gru");
}

static void ncgru_gradients_match_pytorch(void **state)
{
    gradients_match_pytorch("ncgru");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gru_gradients_match_pytorch),
        cmocka_unit_test(ncgru_gradients_match_pytorch),
    };
    return cmocka_run_group_tests(tests, run_reference, NULL);
}
