/* calibrate: temperature scaling of a model's confidence and the choice of
 * its "unknown" threshold, both on validation clips (Guo et al. 2017: one
 * scalar T that divides the logits, fitted by likelihood, changes no
 * decision's class and makes the top probability mean what it says). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

/* As many classes as a model file may have (crt_internal.h). */
#define CALIBRATE_MAX_CLASSES 1024

/* The share of known validation clips the threshold may turn unknown. */
#define THRESHOLD_KNOWN_REJECTED 0.05

/* softmax(logits / T) into p[C]. */
static void probs_at(float *p, const float *logits, int C, double T)
{
    float maxv = -INFINITY;
    for (int c = 0; c < C; c++)
        maxv = logits[c] > maxv ? logits[c] : maxv;
    double sum = 0;
    for (int c = 0; c < C; c++) {
        p[c] = (float)exp((logits[c] - maxv) / T);
        sum += p[c];
    }
    for (int c = 0; c < C; c++)
        p[c] = (float)(p[c] / sum);
}

double train_nll(const float *logits, const int *labels, int n, int C, double temperature)
{
    double sum = 0;
    int count = 0;
    float p[CALIBRATE_MAX_CLASSES];
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= C)
            continue;
        probs_at(p, logits + (size_t)i * C, C, temperature);
        sum -= log(fmax(p[labels[i]], 1e-30));
        count++;
    }
    return count ? sum / count : NAN;
}

double train_fit_temperature(const float *logits, const int *labels, int n, int C)
{
    double lo = log(CRT_TEMPERATURE_MIN), hi = log(CRT_TEMPERATURE_MAX);
    const double g = (sqrt(5.0) - 1) / 2;
    double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    double fa = train_nll(logits, labels, n, C, exp(a));
    double fb = train_nll(logits, labels, n, C, exp(b));
    if (isnan(fa))
        return 1;
    for (int it = 0; it < 60; it++) {
        if (fa < fb) {
            hi = b;
            b = a;
            fb = fa;
            a = hi - g * (hi - lo);
            fa = train_nll(logits, labels, n, C, exp(a));
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + g * (hi - lo);
            fb = train_nll(logits, labels, n, C, exp(b));
        }
    }
    return exp((lo + hi) / 2);
}

void train_open_set(struct open_set_figures *ret, const float *logits, const int *labels, int n,
                    int C, int other_label, int model_other, double temperature, double threshold)
{
    int total[CALIBRATE_MAX_CLASSES + 1] = {0}, right[CALIBRATE_MAX_CLASSES + 1] = {0};
    int rejected_known = 0, rejected_other = 0;
    double bin_conf[10] = {0}, bin_right[10] = {0};
    int bin_n[10] = {0};
    float p[CALIBRATE_MAX_CLASSES];
    memset(ret, 0, sizeof(*ret));
    for (int i = 0; i < n; i++) {
        int y = labels[i];
        if (y < 0 || y > C)
            continue;
        probs_at(p, logits + (size_t)i * C, C, temperature);
        int d = crt_decide(p, C, model_other, (float)threshold);
        if (y == other_label) {
            ret->other++;
            rejected_other += d == CRT_LABEL_UNKNOWN;
            continue;
        }
        ret->known++;
        total[y]++;
        right[y] += d == y;
        rejected_known += d == CRT_LABEL_UNKNOWN;
        /* Calibration of the top probability, on known clips. */
        int top = 0;
        for (int c = 1; c < C; c++)
            top = p[c] > p[top] ? c : top;
        int bin = p[top] >= 1 ? 9 : (int)(p[top] * 10);
        bin_conf[bin] += p[top];
        bin_right[bin] += top == y;
        bin_n[bin]++;
    }
    int classes = 0;
    double sum = 0;
    for (int c = 0; c < C; c++)
        if (c != other_label && total[c]) {
            sum += (double)right[c] / total[c];
            classes++;
        }
    ret->known_mca = classes ? sum / classes : NAN;
    ret->known_rejected = ret->known ? (double)rejected_known / ret->known : NAN;
    ret->other_rejected = ret->other ? (double)rejected_other / ret->other : NAN;
    double ece = 0;
    for (int b = 0; b < 10; b++)
        if (bin_n[b])
            ece += fabs(bin_conf[b] - bin_right[b]) / (ret->known ? ret->known : 1);
    ret->expected_error = ret->known ? ece : NAN;
}

double train_choose_threshold(const float *logits, const int *labels, int n, int C, int other_label,
                              int model_other, double temperature)
{
    /* Not the threshold that best rejects the validation set's Other clips:
     * a model with an Other class learns those, so any threshold would do
     * there. The threshold is for motion unlike anything it learned, which
     * validation data cannot show; so it is set by what it costs on known
     * activities: the most doubt that turns at most 5% of them unknown. */
    double best_t = 0;
    for (int k = 0; k <= 95; k++) {
        double t = k / 100.0;
        struct open_set_figures f;
        train_open_set(&f, logits, labels, n, C, other_label, model_other, temperature, t);
        if (f.known_rejected <= THRESHOLD_KNOWN_REJECTED)
            best_t = t;
    }
    return best_t;
}
