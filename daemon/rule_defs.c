/* rule_defs: what a rule is, apart from running it — its kinds and their
 * defaults, times of day and schedules as the configuration writes them.
 * config.c parses with these; rules.c runs them. */
#include "rules.h"

#include <ctype.h>
#include <string.h>

static const struct rule_kind_info {
    const char *name;
    bool per_track;   /* judged for each person track (else for the stream) */
    double default_s; /* seconds/minutes when not given */
} kinds[] = {
    [RULE_FALL] = {"fall", true, 0},
    [RULE_ON_FLOOR] = {"on_floor", true, 60},
    [RULE_STILL] = {"still", true, 30 * 60},
    [RULE_IN_ZONE_LONGER] = {"in_zone_longer", true, 30 * 60},
    [RULE_ABSENT] = {"absent", false, 0},
    [RULE_CAMERA_DOWN] = {"camera_down", false, 60},
};
_Static_assert(ARRAY_SIZE(kinds) == RULE_KIND_COUNT, "one row per rule kind");

const char *rule_kind_name(enum rule_kind kind)
{
    return kind >= 0 && kind < RULE_KIND_COUNT ? kinds[kind].name : "unknown";
}

int rule_kind_parse(const char *text, enum rule_kind *ret_kind)
{
    for (int k = 0; k < RULE_KIND_COUNT; k++)
        if (strcmp(text, kinds[k].name) == 0) {
            *ret_kind = (enum rule_kind)k;
            return 0;
        }
    return -EINVAL;
}

/* Two digits of a time: "07", "7" for hours. */
static int number(const char **p, int digits_max, int max, int *ret)
{
    int n = 0, digits = 0;
    while (isdigit((unsigned char)**p) && digits < digits_max) {
        n = n * 10 + (**p - '0');
        (*p)++;
        digits++;
    }
    if (digits == 0 || n > max)
        return -EINVAL;
    *ret = n;
    return 0;
}

/* A time at *p, moving *p past it. */
static int time_at(const char **p, int *ret)
{
    int h, m, s = 0;
    if (number(p, 2, 24, &h) < 0 || **p != ':')
        return -EINVAL;
    (*p)++;
    if (number(p, 2, 59, &m) < 0 || (**p == ':' && ((*p)++, number(p, 2, 59, &s) < 0)))
        return -EINVAL;
    if (h == 24 && (m || s))
        return -EINVAL;
    *ret = h * 3600 + m * 60 + s;
    return 0;
}

int rule_time_parse(const char *text, int *ret_seconds)
{
    const char *p = text;
    int t;
    while (isspace((unsigned char)*p))
        p++;
    if (time_at(&p, &t) < 0)
        return -EINVAL;
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return -EINVAL;
    *ret_seconds = t;
    return 0;
}

int rule_schedule_parse(const char *text, struct config_rule *rule)
{
    struct rule_window w[RULE_MAX_WINDOWS];
    unsigned n = 0;
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (!*p)
            break;
        if (n == RULE_MAX_WINDOWS || time_at(&p, &w[n].from) < 0)
            return -EINVAL;
        while (isspace((unsigned char)*p))
            p++;
        if (*p++ != '-')
            return -EINVAL;
        while (isspace((unsigned char)*p))
            p++;
        if (time_at(&p, &w[n].until) < 0 || w[n].from == w[n].until)
            return -EINVAL;
        n++;
        if (*p && *p != ',' && !isspace((unsigned char)*p))
            return -EINVAL;
    }
    if (n == 0)
        return -EINVAL;
    memcpy(rule->schedule, w, n * sizeof(w[0]));
    rule->n_schedule = n;
    return 0;
}

bool rule_window_contains(const struct rule_window *w, int t)
{
    return w->from < w->until ? t >= w->from && t < w->until : t >= w->from || t < w->until;
}

bool rule_scheduled(const struct config_rule *rule, int t)
{
    if (rule->n_schedule == 0)
        return true;
    for (unsigned i = 0; i < rule->n_schedule; i++)
        if (rule_window_contains(&rule->schedule[i], t))
            return true;
    return false;
}

double rule_duration_s(const struct config_rule *rule)
{
    return rule->duration_s >= 0 ? rule->duration_s : kinds[rule->kind].default_s;
}

bool rule_per_track(const struct config_rule *rule)
{
    return kinds[rule->kind].per_track;
}
