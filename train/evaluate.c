/* evaluate: last-segment predictions of a data set into a confusion matrix. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

#define EVALUATE_BATCH 64

int train_last_logits(float *ret_logits, bool *ret_scored, const struct crt_model *model,
                      const struct dataset *ds, bool score_short,
                      void (*progress)(void *user, int done, int total), void *user,
                      struct errbuf *err)
{
    const struct crt_config *cfg = crt_model_config(model);
    int L = cfg->segment_len, C = cfg->n_classes;
    struct crt_workspace *ws = NULL;
    float *logits[EVALUATE_BATCH] = {0};
    float *padded[EVALUATE_BATCH] = {0};
    int r = crt_workspace_new(model, EVALUATE_BATCH, &ws);
    if (r < 0)
        return errbuf_set(err, r, "cannot allocate the model's workspace: %s", strerror(-r));

    for (int first = 0; first < ds->n; first += EVALUATE_BATCH) {
        int n = ds->n - first < EVALUATE_BATCH ? ds->n - first : EVALUATE_BATCH;
        const float *feats[EVALUATE_BATCH];
        int frames[EVALUATE_BATCH];
        for (int i = 0; i < n; i++) {
            const struct dataset_clip *clip = &ds->clips[first + i];
            int segments = clip->frames / L;
            feats[i] = clip->features;
            frames[i] = clip->frames;
            if (segments == 0 && score_short) {
                /* Padded by repeating the last frame (or zeros when
                 * empty), so the clip still gets a vote. */
                free(padded[i]);
                padded[i] = calloc((size_t)L * FEATURES_V1_DIM, sizeof(float));
                if (!padded[i]) {
                    r = -ENOMEM;
                    goto done;
                }
                for (int f = 0; f < L && clip->frames > 0; f++) {
                    int src = f < clip->frames ? f : clip->frames - 1;
                    memcpy(padded[i] + (size_t)f * FEATURES_V1_DIM,
                           clip->features + (size_t)src * FEATURES_V1_DIM,
                           FEATURES_V1_DIM * sizeof(float));
                }
                feats[i] = padded[i];
                frames[i] = L;
                segments = 1;
            }
            free(logits[i]);
            logits[i] = malloc((size_t)(segments + 1) * (size_t)C * sizeof(float));
            if (!logits[i]) {
                r = -ENOMEM;
                goto done;
            }
        }
        r = crt_model_run_clips(model, ws, n, feats, frames, logits, NULL, NULL);
        if (r < 0)
            goto done;
        for (int i = 0; i < n; i++) {
            int segments = frames[i] / L;
            ret_scored[first + i] = segments > 0; /* else too short to decide */
            if (segments > 0)
                memcpy(ret_logits + (size_t)(first + i) * C,
                       logits[i] + (size_t)(segments - 1) * (size_t)C, (size_t)C * sizeof(float));
        }
        if (progress)
            progress(user, first + n, ds->n);
    }
done:
    for (int i = 0; i < EVALUATE_BATCH; i++) {
        free(logits[i]);
        free(padded[i]);
    }
    crt_workspace_free(ws);
    if (r < 0)
        return errbuf_set(err, r, "evaluation failed: %s", strerror(-r));
    return 0;
}

int train_evaluate(struct confusion *cm, const struct crt_model *model, const struct dataset *ds,
                   bool score_short, void (*progress)(void *user, int done, int total), void *user,
                   struct errbuf *err)
{
    int C = crt_model_config(model)->n_classes;
    float *logits = malloc((size_t)(ds->n ? ds->n : 1) * (size_t)C * sizeof(float));
    bool *scored = calloc((size_t)(ds->n ? ds->n : 1), sizeof(bool));
    int r = logits && scored ? 0 : errbuf_set(err, -ENOMEM, "out of memory");
    if (r == 0)
        r = train_last_logits(logits, scored, model, ds, score_short, progress, user, err);
    for (int i = 0; r == 0 && i < ds->n; i++) {
        if (!scored[i] || ds->clips[i].label < 0)
            continue; /* too short to decide, or no label */
        const float *last = logits + (size_t)i * C;
        int best = 0;
        for (int c = 1; c < C; c++)
            if (last[c] > last[best])
                best = c;
        confusion_add(cm, ds->clips[i].label, best);
    }
    free(logits);
    free(scored);
    return r;
}
