/* schedule: the learning rate of each optimiser step. */
#include <math.h>

#include "train.h"

float train_schedule_lr(const struct train_schedule *s, long step)
{
    if (step < s->warmup)
        return s->lr * (float)(step + 1) / (float)s->warmup;
    double progress = s->total_steps > s->warmup
                          ? (double)(step - s->warmup) / (double)(s->total_steps - s->warmup)
                          : 1.0;
    double cosine = 0.5 * (1.0 + cos(M_PI * fmin(1.0, progress)));
    return s->lr * (float)(s->min_lr_ratio + (1.0 - s->min_lr_ratio) * cosine);
}
