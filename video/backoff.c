/* backoff: how long to wait before reconnect attempt n. */
#include "video.h"

#include <math.h>

#define BACKOFF_JITTER 0.2 /* +-20% */

double video_backoff_delay(double min_s, double max_s, unsigned attempt, double unit_random)
{
    if (attempt < 1)
        attempt = 1;
    /* 2^(attempt-1) overflows nothing: the exponent is capped first. */
    double exponent = attempt - 1 < 62 ? (double)(attempt - 1) : 62;
    double delay = fmin(max_s, min_s * exp2(exponent));
    if (unit_random < 0)
        unit_random = 0;
    if (unit_random >= 1)
        unit_random = nextafter(1.0, 0.0);
    delay *= 1.0 + BACKOFF_JITTER * (2.0 * unit_random - 1.0);
    return fmin(delay, max_s);
}
