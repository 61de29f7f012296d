/* fall_eval: the fall detector's figures on labelled pose sequences, the
 * computation behind `crt eval --falls` (docs/SAFETY.md, "Figures"): recall
 * of falls, false alarms per 24 hours of activity without a fall, and the
 * time from the fall to the alert. The daemon's detector, unchanged. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "safety.h"

/* A confirmation this long after up_at still belongs to the fall (the
 * detector needs up_hold_s to see the person up). */
#define UP_GRACE_S 5.0

int fall_eval_case(const struct fall_options *opts, const struct fall_case *c,
                   struct fall_case_result *ret_result, struct errbuf *err)
{
    struct fall_detector *det = NULL;
    struct fall_case_result res = {.latency = NAN, .false_at = NAN, .fall = c->fall_at >= 0};
    if (!(c->fps > 0) || c->frames < 0 || (c->frames > 0 && !c->keypoints))
        return errbuf_set(err, -EINVAL, "fall eval: a case needs a frame rate and its frames");
    int r = fall_detector_new(opts, &det, err);
    if (r < 0)
        return r;
    double seconds = c->frames / c->fps;
    bool alone = opts && opts->model_alone && opts->model_min_p > 0 && c->p_fall;
    double high_since = -1, low_since = -1;
    bool alone_alert = false;
    for (int f = 0; f < c->frames; f++) {
        double t = f / c->fps;
        struct fall_report rep;
        if (c->p_fall)
            fall_detector_evidence(det, c->p_fall[f]);
        fall_detector_update(det, t, c->keypoints[f], c->zones, c->n_zones, &rep);
        if (alone) {
            /* The model by itself: P(Fall) high for confirm_s, not lying in
             * a bed or seat zone, is the alert; low for up_hold_s clears it. */
            bool fine = rep.lying && !rep.on_floor;
            bool high = c->p_fall[f] >= opts->model_min_p && !fine;
            if (!high)
                high_since = -1;
            else if (high_since < 0)
                high_since = t;
            if (high)
                low_since = -1;
            else if (low_since < 0)
                low_since = t;
            if (alone_alert && !high && t - low_since >= opts->up_hold_s)
                alone_alert = false;
            bool raise = !alone_alert && high && t - high_since >= opts->confirm_s;
            res.suspected = res.suspected || high;
            if (!raise)
                continue;
            alone_alert = true;
            rep.descent_at = high_since;
        } else {
            res.suspected = res.suspected || rep.state == FALL_SUSPECTED;
            if (!rep.changed || rep.state != FALL_CONFIRMED)
                continue;
        }
        res.alerts++;
        bool in_fall = res.fall && t >= c->fall_at && (c->up_at < 0 || t <= c->up_at + UP_GRACE_S);
        if (in_fall && !res.detected) {
            res.detected = true;
            res.latency = t - c->fall_at;
        } else {
            if (!res.false_alarms)
                res.false_at = rep.descent_at > 0 ? rep.descent_at : t;
            res.false_alarms++;
        }
    }
    res.normal_s = res.fall ? fmin(c->fall_at, seconds) : seconds;
    fall_detector_free(det);
    *ret_result = res;
    return 0;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank quantile of sorted values. */
static double quantile(const double *sorted, int n, double q)
{
    if (n == 0)
        return NAN;
    int k = (int)ceil(q * n) - 1;
    return sorted[k < 0 ? 0 : k >= n ? n - 1 : k];
}

static struct fall_eval_row *row_for(struct fall_eval_summary *s, const char *scene)
{
    const char *name = scene && scene[0] ? scene : "normal";
    for (int i = 0; i < s->n_rows; i++)
        if (strcmp(s->rows[i].scene, name) == 0)
            return &s->rows[i];
    if (s->n_rows == FALL_EVAL_MAX_SCENES)
        return &s->rows[FALL_EVAL_MAX_SCENES - 1]; /* "other" */
    if (s->n_rows == FALL_EVAL_MAX_SCENES - 1)
        name = "other";
    struct fall_eval_row *row = &s->rows[s->n_rows++];
    memset(row, 0, sizeof(*row));
    str_copy(row->scene, sizeof(row->scene), name);
    return row;
}

int fall_eval_summarize(const struct fall_case_result *results, const char *const *scenes, int n,
                        struct fall_eval_summary *ret_summary)
{
    struct fall_eval_summary s = {0};
    double *all = calloc((size_t)(n > 0 ? n : 1), sizeof(*all));
    double *mine = calloc((size_t)(n > 0 ? n : 1), sizeof(*mine));
    if (!all || !mine) {
        free(all);
        free(mine);
        return -ENOMEM;
    }
    int n_all = 0;
    double normal_s = 0;
    for (int i = 0; i < n; i++) {
        const struct fall_case_result *r = &results[i];
        struct fall_eval_row *row = row_for(&s, scenes ? scenes[i] : NULL);
        s.cases++;
        row->cases++;
        s.falls += r->fall;
        row->falls += r->fall;
        s.detected += r->detected;
        row->detected += r->detected;
        s.false_alarms += r->false_alarms;
        row->false_alarms += r->false_alarms;
        row->alerts += r->alerts;
        row->suspected += r->suspected;
        s.suspected += r->suspected;
        row->normal_s += r->normal_s;
        normal_s += r->normal_s;
        if (r->detected)
            all[n_all++] = r->latency;
    }
    /* Each row's latencies: a pass over the cases per row (few rows). */
    for (int k = 0; k < s.n_rows; k++) {
        struct fall_eval_row *row = &s.rows[k];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (results[i].detected && row_for(&s, scenes ? scenes[i] : NULL) == row)
                mine[m++] = results[i].latency;
        qsort(mine, (size_t)m, sizeof(*mine), compare_double);
        row->latency_median = quantile(mine, m, 0.5);
        row->latency_max = m ? mine[m - 1] : NAN;
    }
    qsort(all, (size_t)n_all, sizeof(*all), compare_double);
    s.latency_median = quantile(all, n_all, 0.5);
    s.latency_p95 = quantile(all, n_all, 0.95);
    s.normal_hours = normal_s / 3600;
    s.recall = s.falls ? (double)s.detected / s.falls : NAN;
    s.false_alarms_per_24h = normal_s > 0 ? s.false_alarms * 86400.0 / normal_s : NAN;
    free(all);
    free(mine);
    *ret_summary = s;
    return 0;
}
