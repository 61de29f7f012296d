/* calibration: how sure a model is, as its file states it (docs/MODEL.md,
 * section 7). "calibration.temperature" divides the logits before the
 * softmax, so that a probability of 0.8 is right about 8 times in 10 on
 * validation data; "calibration.threshold" is the probability under which
 * the decision is "unknown", as is a top class named "Other" (motion outside
 * the repertoire). Both are fitted by `crt calibrate`, never by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crt_internal.h"
#include "kernels.h"

/* A number in [lo, hi], the whole string. */
static int parse_number(const char *text, double lo, double hi, float *ret)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !isfinite(v) || v < lo || v > hi)
        return -EINVAL;
    *ret = (float)v;
    return 0;
}

int crt_calibration_set(struct crt_model *m, const char *key, const char *value)
{
    if (strcmp(key, CRT_META_TEMPERATURE) == 0)
        return parse_number(value, CRT_TEMPERATURE_MIN, CRT_TEMPERATURE_MAX, &m->temperature);
    if (strcmp(key, CRT_META_THRESHOLD) == 0)
        return parse_number(value, 0, 1, &m->threshold);
    return 0;
}

void crt_calibration_init(struct crt_model *m)
{
    m->temperature = 1;
    m->threshold = 0;
    m->other_class = -1;
    for (int c = 0; c < m->cfg.n_classes; c++)
        if (m->classes[c] && strcmp(m->classes[c], CRT_OTHER_CLASS) == 0)
            m->other_class = c;
}

float crt_model_temperature(const struct crt_model *m)
{
    return m->temperature;
}

float crt_model_threshold(const struct crt_model *m)
{
    return m->threshold;
}

int crt_model_other_class(const struct crt_model *m)
{
    return m->other_class;
}

void crt_model_probs(const struct crt_model *m, float *probs, const float *logits)
{
    int C = m->cfg.n_classes;
    if (m->temperature == 1) {
        softmax_forward(probs, logits, 1, C);
        return;
    }
    for (int c = 0; c < C; c++)
        probs[c] = logits[c] / m->temperature;
    softmax_forward(probs, probs, 1, C);
}

int crt_decide(const float *probs, int n_classes, int other_class, float threshold)
{
    int best = 0;
    for (int c = 1; c < n_classes; c++)
        if (probs[c] > probs[best])
            best = c;
    if (best == other_class || probs[best] < threshold)
        return CRT_LABEL_UNKNOWN;
    return best;
}

int crt_model_decide(const struct crt_model *m, const float *probs)
{
    return crt_decide(probs, m->cfg.n_classes, m->other_class, m->threshold);
}

const char *crt_model_label(const struct crt_model *m, int label)
{
    return label == CRT_LABEL_UNKNOWN ? CRT_UNKNOWN_NAME : crt_model_class(m, label);
}
