/* rules: running the safety rules of the configuration ([rule "NAME"],
 * docs/SAFETY.md "Rules") over each segment's people and the streams' state,
 * raising and clearing their alerts. What a rule is: rule_defs.c. */
#include "rules.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "alerts.h"
#include "zones.h"

/* ---- the engine ------------------------------------------------------------ */

#define MIN_SCORE      0.3f  /* keypoints below are not seen */
#define DEFAULT_MOTION 0.01f /* still: mean keypoint movement, of the image */

/* A per-track rule's view of one person track. */
struct track_state {
    size_t rule;
    char stream[API_NAME_MAX];
    uint32_t track;
    double since; /* the condition holds since; < 0: it does not */
    float ref[PIPELINE_KEYPOINTS][3];
    bool has_ref;
    int64_t alert; /* 0: none */
    struct fall_detector *fall;
    bool listed; /* in this segment's list */
};

/* A rule of the clock on one stream, and what each stream last did. */
struct stream_state {
    char stream[API_NAME_MAX];
    bool watched;
    bool frame_known; /* last_frame is from a previous run's camera_down alert */
    double last_frame;
    double last_seen[RULES_MAX_ALERT_RULES]; /* absent: someone seen (in the zone) */
    int64_t alert[RULES_MAX_ALERT_RULES];    /* camera_down, absent: the open alert */
    double window[RULES_MAX_ALERT_RULES];    /* absent: the start of the missed window */
};

struct rules {
    struct alerts *alerts;
    pthread_mutex_t lock;
    struct config_rule *rules;
    size_t n_rules;
    double started;
    struct track_state *tracks; /* under lock */
    size_t n_tracks;
    struct stream_state *streams;
    size_t n_streams;
};

static bool applies(const struct config_rule *rule, const char *stream)
{
    return !rule->stream[0] || strcmp(rule->stream, stream) == 0;
}

/* Seconds after local midnight (in the configured time zone: main sets TZ). */
static int time_of_day(double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    localtime_r(&s, &tm);
    return tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

static struct stream_state *stream_get_locked(struct rules *rs, const char *stream, double t,
                                              bool add)
{
    for (size_t i = 0; i < rs->n_streams; i++)
        if (strcmp(rs->streams[i].stream, stream) == 0)
            return &rs->streams[i];
    if (!add)
        return NULL;
    struct stream_state *grown = realloc(rs->streams, (rs->n_streams + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    rs->streams = grown;
    struct stream_state *s = &rs->streams[rs->n_streams++];
    memset(s, 0, sizeof(*s));
    str_copy(s->stream, sizeof(s->stream), stream);
    s->last_frame = t;
    for (size_t r = 0; r < RULES_MAX_ALERT_RULES; r++)
        s->last_seen[r] = -1;
    return s;
}

static struct track_state *track_get_locked(struct rules *rs, size_t rule, const char *stream,
                                            uint32_t track, bool add)
{
    for (size_t i = 0; i < rs->n_tracks; i++) {
        struct track_state *ts = &rs->tracks[i];
        if (ts->rule == rule && ts->track == track && strcmp(ts->stream, stream) == 0)
            return ts;
    }
    if (!add)
        return NULL;
    const struct config_rule *r = &rs->rules[rule];
    struct fall_detector *fall = NULL;
    if (r->kind == RULE_FALL || r->kind == RULE_ON_FLOOR) {
        struct fall_options o;
        struct errbuf err;
        fall_options_default(&o);
        if (r->kind == RULE_FALL && r->duration_s >= 0)
            o.confirm_s = r->duration_s;
        errbuf_clear(&err);
        if (fall_detector_new(&o, &fall, &err) < 0) {
            log_warning("rule %s: %s", r->name, err.msg);
            return NULL;
        }
    }
    struct track_state *grown = realloc(rs->tracks, (rs->n_tracks + 1) * sizeof(*grown));
    if (!grown) {
        fall_detector_free(fall);
        return NULL;
    }
    rs->tracks = grown;
    struct track_state *ts = &rs->tracks[rs->n_tracks++];
    *ts = (struct track_state){.rule = rule, .track = track, .since = -1, .fall = fall};
    str_copy(ts->stream, sizeof(ts->stream), stream);
    return ts;
}

static void track_drop_locked(struct rules *rs, struct track_state *ts)
{
    fall_detector_free(ts->fall);
    size_t i = (size_t)(ts - rs->tracks);
    memmove(&rs->tracks[i], &rs->tracks[i + 1], (rs->n_tracks - i - 1) * sizeof(*ts));
    rs->n_tracks--;
}

static ssize_t rule_find(const struct rules *rs, const char *name)
{
    for (size_t i = 0; i < rs->n_rules; i++)
        if (strcmp(rs->rules[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

/* The open alerts of a previous run go back to the rule that raised them. */
static void adopt(struct rules *rs)
{
    struct store_alert *open = NULL;
    size_t n = 0;
    if (alerts_open_list(rs->alerts, &open, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct store_alert *a = &open[i];
        ssize_t r = rule_find(rs, a->rule);
        if (r < 0 || strcmp(rule_kind_name(rs->rules[r].kind), a->kind) != 0)
            continue; /* no rule watches it: acknowledging clears it */
        if (rule_per_track(&rs->rules[r])) {
            struct track_state *ts = track_get_locked(rs, (size_t)r, a->stream, a->track, true);
            if (!ts)
                continue;
            ts->alert = a->id;
            ts->since = a->started;
        } else {
            struct stream_state *s = stream_get_locked(rs, a->stream, rs->started, true);
            if (!s || (size_t)r >= RULES_MAX_ALERT_RULES)
                continue;
            s->alert[r] = a->id;
            s->window[r] = a->started;
            if (rs->rules[r].kind == RULE_CAMERA_DOWN) {
                s->last_frame = a->started; /* still down until a frame comes */
                s->frame_known = true;
            }
        }
        alerts_adopt(rs->alerts, a->id);
    }
    free(open);
}

int rules_new(const struct config *cfg, struct alerts *alerts, struct rules **ret,
              struct errbuf *err)
{
    struct rules *rs = calloc(1, sizeof(*rs));
    if (!rs)
        return -ENOMEM;
    if (cfg->n_rules > RULES_MAX_ALERT_RULES) {
        free(rs);
        return errbuf_set(err, -E2BIG, "%zu rules (at most %d)", cfg->n_rules,
                          RULES_MAX_ALERT_RULES);
    }
    rs->alerts = alerts;
    rs->started = time_wall_s();
    pthread_mutex_init(&rs->lock, NULL);
    rs->rules = calloc(cfg->n_rules ? cfg->n_rules : 1, sizeof(*rs->rules));
    if (!rs->rules) {
        rules_free(rs);
        return -ENOMEM;
    }
    if (cfg->n_rules) /* cfg->rules is NULL when there are none */
        memcpy(rs->rules, cfg->rules, cfg->n_rules * sizeof(*rs->rules));
    rs->n_rules = cfg->n_rules;
    for (size_t i = 0; i < rs->n_rules; i++)
        alerts_declare_rule(alerts, rs->rules[i].name);
    pthread_mutex_lock(&rs->lock);
    adopt(rs);
    pthread_mutex_unlock(&rs->lock);
    *ret = rs;
    return 0;
}

struct rules *rules_free(struct rules *rs)
{
    if (!rs)
        return NULL;
    for (size_t i = 0; i < rs->n_tracks; i++)
        fall_detector_free(rs->tracks[i].fall);
    pthread_mutex_destroy(&rs->lock);
    free(rs->tracks);
    free(rs->streams);
    free(rs->rules);
    free(rs);
    return NULL;
}

static bool same_window(const struct rule_window *a, const struct rule_window *b)
{
    return a->from == b->from && a->until == b->until;
}

/* Field by field: the configuration's structs are not all zeroed alike. */
static bool same_rule(const struct config_rule *a, const struct config_rule *b)
{
    if (strcmp(a->name, b->name) != 0 || a->kind != b->kind || strcmp(a->stream, b->stream) != 0 ||
        strcmp(a->zone, b->zone) != 0 || a->duration_s != b->duration_s || a->motion != b->motion ||
        a->from != b->from || a->until != b->until || a->n_schedule != b->n_schedule)
        return false;
    for (unsigned i = 0; i < a->n_schedule; i++)
        if (!same_window(&a->schedule[i], &b->schedule[i]))
            return false;
    return true;
}

/* Moves one stream's per-rule state to the new rule numbers (to[r], or
 * SIZE_MAX for a rule that is gone or changed, whose alert is cleared). */
static void stream_renumber_locked(struct rules *rs, struct stream_state *s, const size_t *to,
                                   size_t n_old, double t)
{
    double last_seen[RULES_MAX_ALERT_RULES], window[RULES_MAX_ALERT_RULES];
    int64_t alert[RULES_MAX_ALERT_RULES];
    for (size_t r = 0; r < RULES_MAX_ALERT_RULES; r++) {
        last_seen[r] = -1;
        window[r] = 0;
        alert[r] = 0;
    }
    for (size_t r = 0; r < n_old; r++) {
        if (to[r] == SIZE_MAX) {
            if (s->alert[r])
                alerts_clear(rs->alerts, s->alert[r], t);
            continue;
        }
        last_seen[to[r]] = s->last_seen[r];
        window[to[r]] = s->window[r];
        alert[to[r]] = s->alert[r];
    }
    memcpy(s->last_seen, last_seen, sizeof(last_seen));
    memcpy(s->window, window, sizeof(window));
    memcpy(s->alert, alert, sizeof(alert));
}

int rules_apply(struct rules *rs, const struct config *cfg, double t, struct errbuf *err)
{
    if (cfg->n_rules > RULES_MAX_ALERT_RULES)
        return errbuf_set(err, -E2BIG, "%zu rules (at most %d)", cfg->n_rules,
                          RULES_MAX_ALERT_RULES);
    struct config_rule *next = calloc(cfg->n_rules ? cfg->n_rules : 1, sizeof(*next));
    if (!next)
        return errbuf_set(err, -ENOMEM, "rules: out of memory");
    if (cfg->n_rules)
        memcpy(next, cfg->rules, cfg->n_rules * sizeof(*next));

    pthread_mutex_lock(&rs->lock);
    size_t to[RULES_MAX_ALERT_RULES];
    for (size_t r = 0; r < rs->n_rules; r++) {
        to[r] = SIZE_MAX;
        for (size_t j = 0; j < cfg->n_rules; j++)
            if (same_rule(&rs->rules[r], &next[j]))
                to[r] = j;
    }
    for (size_t i = rs->n_tracks; i-- > 0;) {
        struct track_state *ts = &rs->tracks[i];
        if (to[ts->rule] != SIZE_MAX) {
            ts->rule = to[ts->rule];
            continue;
        }
        if (ts->alert)
            alerts_clear(rs->alerts, ts->alert, t);
        track_drop_locked(rs, ts);
    }
    for (size_t i = 0; i < rs->n_streams; i++)
        stream_renumber_locked(rs, &rs->streams[i], to, rs->n_rules, t);
    free(rs->rules);
    rs->rules = next;
    rs->n_rules = cfg->n_rules;
    for (size_t r = 0; r < rs->n_rules; r++)
        alerts_declare_rule(rs->alerts, rs->rules[r].name);
    pthread_mutex_unlock(&rs->lock);
    return 0;
}

void rules_watch(struct rules *rs, const char *stream, double t)
{
    if (!rs)
        return;
    pthread_mutex_lock(&rs->lock);
    struct stream_state *s = stream_get_locked(rs, stream, t, true);
    if (s && !s->watched) {
        s->watched = true;
        if (!s->frame_known)
            s->last_frame = t;
    }
    pthread_mutex_unlock(&rs->lock);
}

/* What was about the stream is over; a fall or someone on the floor stays
 * open when asked (keep_falls), for whoever must go and look. */
static void forget_locked(struct rules *rs, const char *stream, double t, bool keep_falls)
{
    for (size_t i = rs->n_tracks; i-- > 0;)
        if (strcmp(rs->tracks[i].stream, stream) == 0) {
            struct track_state *ts = &rs->tracks[i];
            enum rule_kind kind = rs->rules[ts->rule].kind;
            if (ts->alert && keep_falls && (kind == RULE_FALL || kind == RULE_ON_FLOOR))
                alerts_release(rs->alerts, ts->alert, t);
            else if (ts->alert)
                alerts_clear(rs->alerts, ts->alert, t);
            track_drop_locked(rs, ts);
        }
    struct stream_state *s = stream_get_locked(rs, stream, t, false);
    if (s) {
        for (size_t r = 0; r < rs->n_rules; r++)
            if (s->alert[r])
                alerts_clear(rs->alerts, s->alert[r], t);
        size_t i = (size_t)(s - rs->streams);
        memmove(&rs->streams[i], &rs->streams[i + 1], (rs->n_streams - i - 1) * sizeof(*s));
        rs->n_streams--;
    }
}

void rules_forget(struct rules *rs, const char *stream, double t)
{
    if (!rs)
        return;
    pthread_mutex_lock(&rs->lock);
    forget_locked(rs, stream, t, false);
    pthread_mutex_unlock(&rs->lock);
}

void rules_pause(struct rules *rs, const char *stream, double t)
{
    if (!rs)
        return;
    pthread_mutex_lock(&rs->lock);
    forget_locked(rs, stream, t, true);
    pthread_mutex_unlock(&rs->lock);
}

static int zone_named(const struct zone *zones, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(zones[i].name, name) == 0)
            return i;
    return -1;
}

/* Whether the person is where the rule looks: anywhere, or in its zone. */
static bool where(const struct config_rule *r, const struct pipeline_person *p,
                  const struct zone *zones, int n_zones)
{
    if (!r->zone[0])
        return true;
    int z = zone_named(zones, n_zones, r->zone);
    return z >= 0 && (zones_of_person(zones, n_zones, p) & (1u << z));
}

/* The mean movement of the keypoints seen in both poses. */
static float motion(const float *a, const float *b)
{
    float sum = 0;
    int n = 0;
    for (int k = 0; k < PIPELINE_KEYPOINTS * 3; k += 3)
        if (a[k + 2] >= MIN_SCORE && b[k + 2] >= MIN_SCORE) {
            sum += hypotf(a[k] - b[k], a[k + 1] - b[k + 1]);
            n++;
        }
    return n ? sum / (float)n : 0;
}

static void describe(char *dst, size_t size, const struct config_rule *r, uint32_t track,
                     double held)
{
    switch (r->kind) {
    case RULE_FALL:
        snprintf(dst, size, "person %u fell", track);
        break;
    case RULE_ON_FLOOR:
        snprintf(dst, size, "person %u is lying on the floor (%.0f s)", track, held);
        break;
    case RULE_STILL:
        snprintf(dst, size, "person %u has not moved for %.0f s", track, held);
        break;
    case RULE_IN_ZONE_LONGER:
        snprintf(dst, size, "person %u has been in zone %s for %.0f s", track, r->zone, held);
        break;
    case RULE_ABSENT:
        snprintf(dst, size, "nobody seen%s%s between %02d:%02d and %02d:%02d",
                 r->zone[0] ? " in zone " : "", r->zone, r->from / 3600, r->from / 60 % 60,
                 r->until / 3600, r->until / 60 % 60);
        break;
    case RULE_CAMERA_DOWN:
        snprintf(dst, size, "no frame for %.0f s", held);
        break;
    default:
        dst[0] = '\0';
    }
}

/* One person-track rule on one listed person. */
static void judge_track(struct rules *rs, struct track_state *ts, const struct config_rule *r,
                        const char *stream, double t, const struct pipeline_person *p,
                        const struct zone *zones, int n_zones)
{
    bool scheduled = rule_scheduled(r, time_of_day(t));
    bool here = where(r, p, zones, n_zones);
    double duration = rule_duration_s(r);
    char message[200];

    if (r->kind == RULE_FALL || r->kind == RULE_ON_FLOOR) {
        struct pose_keypoint kp[PIPELINE_KEYPOINTS];
        for (int k = 0; k < PIPELINE_KEYPOINTS; k++)
            kp[k] =
                (struct pose_keypoint){p->keypoints[k][0], p->keypoints[k][1], p->keypoints[k][2]};
        struct fall_report rep;
        fall_detector_update(ts->fall, t, p->in_view ? kp : NULL, zones, n_zones, &rep);
        if (!p->in_view)
            return;
        if (r->kind == RULE_FALL) {
            if (rep.state != FALL_NONE && !ts->alert && scheduled && here) {
                describe(message, sizeof(message), r, p->id, 0);
                alerts_raise(rs->alerts, r->name, rule_kind_name(r->kind), stream, p->id, r->zone,
                             rep.state == FALL_CONFIRMED ? ALERT_ACTIVE : ALERT_PENDING,
                             rep.descent_at > 0 ? rep.descent_at : t, message, &ts->alert);
            } else if (rep.state == FALL_CONFIRMED && ts->alert) {
                alerts_confirm(rs->alerts, ts->alert, t);
            } else if (rep.state == FALL_NONE && !rep.on_floor && ts->alert) {
                /* Up again (or lying in a bed or seat zone). */
                alerts_clear(rs->alerts, ts->alert, t);
                ts->alert = 0;
            }
            return;
        }
        if (rep.on_floor && here) {
            if (ts->since < 0)
                ts->since = t;
        } else {
            ts->since = -1;
        }
    } else if (r->kind == RULE_STILL) {
        if (!p->in_view)
            return;
        float limit = r->motion > 0 ? r->motion : DEFAULT_MOTION;
        if (!ts->has_ref || motion(&ts->ref[0][0], &p->keypoints[0][0]) > limit) {
            /* Moving: this pose is the new reference, stillness starts over. */
            memcpy(ts->ref, p->keypoints, sizeof(ts->ref));
            ts->since = ts->has_ref || !here ? -1 : t;
            ts->has_ref = true;
        } else if (!here) {
            ts->since = -1;
        } else if (ts->since < 0) {
            ts->since = t;
        }
    } else if (r->kind == RULE_IN_ZONE_LONGER) {
        if (!p->in_view)
            return;
        bool in = r->zone[0] && here;
        if (in && ts->since < 0)
            ts->since = t;
        else if (!in)
            ts->since = -1;
    }

    bool holds = ts->since >= 0 && t - ts->since >= duration;
    if (holds && !ts->alert && scheduled) {
        describe(message, sizeof(message), r, p->id, t - ts->since);
        alerts_raise(rs->alerts, r->name, rule_kind_name(r->kind), stream, p->id, r->zone,
                     ALERT_ACTIVE, ts->since, message, &ts->alert);
    } else if (ts->since < 0 && ts->alert) {
        alerts_clear(rs->alerts, ts->alert, t);
        ts->alert = 0;
    }
}

void rules_observe(struct rules *rs, const char *stream, double t,
                   const struct pipeline_person *people, unsigned n_people,
                   const struct zone *zones, int n_zones)
{
    if (!rs)
        return;
    pthread_mutex_lock(&rs->lock);
    struct stream_state *s = stream_get_locked(rs, stream, t, true);
    if (s)
        s->last_frame = t;
    for (size_t i = 0; i < rs->n_tracks; i++)
        if (strcmp(rs->tracks[i].stream, stream) == 0)
            rs->tracks[i].listed = false;
    for (size_t r = 0; r < rs->n_rules; r++) {
        const struct config_rule *rule = &rs->rules[r];
        if (!applies(rule, stream))
            continue;
        if (rule->kind == RULE_ABSENT && s) {
            for (unsigned j = 0; j < n_people; j++)
                if (people[j].in_view && where(rule, &people[j], zones, n_zones))
                    s->last_seen[r] = t;
            continue;
        }
        if (!rule_per_track(rule))
            continue;
        for (unsigned j = 0; j < n_people; j++) {
            struct track_state *ts = track_get_locked(rs, r, stream, people[j].id, true);
            if (!ts)
                continue;
            ts->listed = true;
            judge_track(rs, ts, rule, stream, t, &people[j], zones, n_zones);
        }
    }
    /* Tracks that ended: a fall or someone on the floor stays until
     * acknowledged (the person may be out of the pose model's sight); the
     * other rules are over. */
    for (size_t i = rs->n_tracks; i-- > 0;) {
        struct track_state *ts = &rs->tracks[i];
        if (strcmp(ts->stream, stream) != 0 || ts->listed)
            continue;
        enum rule_kind kind = rs->rules[ts->rule].kind;
        if (ts->alert && (kind == RULE_FALL || kind == RULE_ON_FLOOR))
            alerts_release(rs->alerts, ts->alert, t);
        else if (ts->alert)
            alerts_clear(rs->alerts, ts->alert, t);
        track_drop_locked(rs, ts);
    }
    pthread_mutex_unlock(&rs->lock);
}

void rules_tick(struct rules *rs, double t)
{
    if (!rs)
        return;
    int tod = time_of_day(t);
    char message[200];
    pthread_mutex_lock(&rs->lock);
    for (size_t r = 0; r < rs->n_rules; r++) {
        const struct config_rule *rule = &rs->rules[r];
        if (rule->kind != RULE_CAMERA_DOWN && rule->kind != RULE_ABSENT)
            continue;
        bool scheduled = rule_scheduled(rule, tod);
        for (size_t i = 0; i < rs->n_streams; i++) {
            struct stream_state *s = &rs->streams[i];
            if (!s->watched || !applies(rule, s->stream))
                continue;
            bool holds;
            double since;
            if (rule->kind == RULE_CAMERA_DOWN) {
                since = s->last_frame;
                holds = t - s->last_frame >= rule_duration_s(rule);
                describe(message, sizeof(message), rule, 0, t - s->last_frame);
            } else {
                /* Missed today's window: past its end, nobody seen since its
                 * start, and crtd was watching before it ended. An absence
                 * lasts until somebody is seen, across midnight too. */
                double day = t - tod, from = day + rule->from, until = day + rule->until;
                if (s->alert[r]) {
                    since = s->window[r];
                    holds = s->last_seen[r] < since;
                } else {
                    since = from;
                    holds = tod >= rule->until && s->last_seen[r] < from && rs->started < until;
                }
                describe(message, sizeof(message), rule, 0, 0);
            }
            if (holds && !s->alert[r] && scheduled) {
                alerts_raise(rs->alerts, rule->name, rule_kind_name(rule->kind), s->stream, 0,
                             rule->zone, ALERT_ACTIVE, since, message, &s->alert[r]);
                s->window[r] = since;
            } else if (!holds && s->alert[r]) {
                alerts_clear(rs->alerts, s->alert[r], t);
                s->alert[r] = 0;
            }
        }
    }
    pthread_mutex_unlock(&rs->lock);
}
