/* metrics: confusion matrices, accuracy and mean per-class accuracy. */
#include "data.h"

#include <math.h>
#include <string.h>

int confusion_init(struct confusion *cm, int n_classes)
{
    if (n_classes < 1 || n_classes > 4096)
        return -EINVAL;
    int64_t *counts = calloc((size_t)n_classes * (size_t)n_classes, sizeof(*counts));
    if (!counts)
        return -ENOMEM;
    cm->n_classes = n_classes;
    cm->counts = counts;
    return 0;
}

void confusion_done(struct confusion *cm)
{
    if (!cm)
        return;
    free(cm->counts);
    cm->counts = NULL;
    cm->n_classes = 0;
}

void confusion_reset(struct confusion *cm)
{
    memset(cm->counts, 0, (size_t)cm->n_classes * (size_t)cm->n_classes * sizeof(*cm->counts));
}

int confusion_add(struct confusion *cm, int truth, int predicted)
{
    if (truth < 0 || truth >= cm->n_classes || predicted < 0 || predicted >= cm->n_classes)
        return -EINVAL;
    cm->counts[truth * cm->n_classes + predicted]++;
    return 0;
}

int64_t confusion_class_total(const struct confusion *cm, int truth)
{
    int64_t n = 0;
    for (int p = 0; p < cm->n_classes; p++)
        n += cm->counts[truth * cm->n_classes + p];
    return n;
}

int64_t confusion_total(const struct confusion *cm)
{
    int64_t n = 0;
    for (int t = 0; t < cm->n_classes; t++)
        n += confusion_class_total(cm, t);
    return n;
}

double confusion_recall(const struct confusion *cm, int truth)
{
    int64_t n = confusion_class_total(cm, truth);
    if (n == 0)
        return NAN;
    return (double)cm->counts[truth * cm->n_classes + truth] / (double)n;
}

double confusion_accuracy(const struct confusion *cm)
{
    int64_t n = confusion_total(cm), right = 0;
    for (int c = 0; c < cm->n_classes; c++)
        right += cm->counts[c * cm->n_classes + c];
    return n ? (double)right / (double)n : NAN;
}

double confusion_mean_class_accuracy(const struct confusion *cm, const bool *scored,
                                     int *ret_classes)
{
    double sum = 0;
    int classes = 0;
    for (int c = 0; c < cm->n_classes; c++) {
        if (scored && !scored[c])
            continue;
        double r = confusion_recall(cm, c);
        if (isnan(r))
            continue; /* a class absent from the test set has no recall */
        sum += r;
        classes++;
    }
    if (ret_classes)
        *ret_classes = classes;
    return classes ? sum / classes : NAN;
}
