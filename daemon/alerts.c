/* alerts: life cycle, persistence and publication of alerts. */
#include "alerts.h"

#include <pthread.h>
#include <string.h>

static const char *const state_names[] = {
    [ALERT_PENDING] = "pending",
    [ALERT_ACTIVE] = "active",
    [ALERT_ACKNOWLEDGED] = "acknowledged",
    [ALERT_CLEARED] = "cleared",
};
_Static_assert(ARRAY_SIZE(state_names) == ALERT_STATE_COUNT, "one name per alert state");

const char *alert_state_name(enum alert_state state)
{
    return state >= 0 && state < ALERT_STATE_COUNT ? state_names[state] : "unknown";
}

int alert_state_parse(const char *text, enum alert_state *ret_state)
{
    for (int i = 0; i < ALERT_STATE_COUNT; i++)
        if (strcmp(text, state_names[i]) == 0) {
            *ret_state = (enum alert_state)i;
            return 0;
        }
    return -EINVAL;
}

/* An alert not yet cleared. */
struct open_alert {
    struct store_alert a;
    bool released; /* no rule watches it any more */
};

struct alerts {
    struct store *store;
    struct api_events *events;
    pthread_mutex_t lock;
    struct open_alert *open; /* under lock */
    size_t n_open, cap_open;
    char rules[ALERTS_MAX_RULES][64];
    size_t n_rules;
    struct {
        alerts_listener fn;
        void *userdata;
    } listeners[ALERTS_MAX_LISTENERS];
    size_t n_listeners;
};

static enum alert_state state_of(const struct store_alert *a)
{
    enum alert_state s = ALERT_CLEARED;
    alert_state_parse(a->state, &s);
    return s;
}

static void set_state(struct store_alert *a, enum alert_state s)
{
    str_copy(a->state, sizeof(a->state), state_names[s]);
}

json_t *alert_json(const struct store_alert *a)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "id",
                     (json_int_t)a->id, "rule", a->rule, "kind", a->kind, "stream", a->stream,
                     "track", a->track ? json_integer(a->track) : json_null(), "zone",
                     a->zone[0] ? json_string(a->zone) : json_null(), "state", a->state, "started",
                     api_time_json(a->started), "confirmed", api_time_json(a->confirmed), "cleared",
                     api_time_json(a->cleared), "acknowledged_by",
                     a->acknowledged_by[0] ? json_string(a->acknowledged_by) : json_null(),
                     "acknowledged_at", api_time_json(a->acknowledged_at), "updated",
                     api_time_json(a->updated), "message", a->message);
}

/* Publishes a change made under the lock, after it is released. */
static void announce(struct alerts *am, const struct store_alert *a, const char *change)
{
    json_t *json = alert_json(a);
    if (!json)
        return;
    json_object_set_new(json, "change", json_string(change));
    api_events_publish(am->events, "alert", json, NULL);
    for (size_t i = 0; i < am->n_listeners; i++)
        am->listeners[i].fn(am->listeners[i].userdata, a, json);
    json_decref(json);
}

static struct open_alert *find_locked(struct alerts *am, int64_t id)
{
    for (size_t i = 0; i < am->n_open; i++)
        if (am->open[i].a.id == id)
            return &am->open[i];
    return NULL;
}

static void drop_locked(struct alerts *am, struct open_alert *o)
{
    size_t i = (size_t)(o - am->open);
    memmove(&am->open[i], &am->open[i + 1], (am->n_open - i - 1) * sizeof(*o));
    am->n_open--;
}

static int save_locked(struct alerts *am, struct store_alert *a)
{
    struct errbuf err;
    errbuf_clear(&err);
    int r = store_alert_put(am->store, a, &err);
    if (r < 0)
        log_warning("alert %lld (%s, stream %s): not saved: %s", (long long)a->id, a->rule,
                    a->stream, errbuf_text(&err, r));
    return r;
}

int alerts_new(struct store *store, struct api_events *events, struct alerts **ret,
               struct errbuf *err)
{
    struct alerts *am = calloc(1, sizeof(*am));
    struct store_alert *list = NULL;
    size_t n = 0;
    if (!am)
        return -ENOMEM;
    am->store = store;
    am->events = events;
    pthread_mutex_init(&am->lock, NULL);
    int r = store_alerts_query(store, "open", "", "", -1, 100000, &list, &n, err);
    if (r < 0) {
        alerts_free(am);
        return r;
    }
    am->open = calloc(n ? n : 1, sizeof(*am->open));
    if (!am->open) {
        free(list);
        alerts_free(am);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        am->open[i] = (struct open_alert){.a = list[n - 1 - i], .released = true};
    am->n_open = n;
    am->cap_open = n ? n : 1;
    free(list);
    if (n)
        log_notice("%zu alerts still open from before the restart", n);
    *ret = am;
    return 0;
}

struct alerts *alerts_free(struct alerts *am)
{
    if (!am)
        return NULL;
    pthread_mutex_destroy(&am->lock);
    free(am->open);
    free(am);
    return NULL;
}

void alerts_add_listener(struct alerts *am, alerts_listener fn, void *userdata)
{
    pthread_mutex_lock(&am->lock);
    if (am->n_listeners < ALERTS_MAX_LISTENERS)
        am->listeners[am->n_listeners++] = (typeof(am->listeners[0])){fn, userdata};
    pthread_mutex_unlock(&am->lock);
}

void alerts_declare_rule(struct alerts *am, const char *rule)
{
    pthread_mutex_lock(&am->lock);
    bool known = false;
    for (size_t i = 0; i < am->n_rules && !known; i++)
        known = strcmp(am->rules[i], rule) == 0;
    if (!known && am->n_rules < ALERTS_MAX_RULES)
        str_copy(am->rules[am->n_rules++], sizeof(am->rules[0]), rule);
    pthread_mutex_unlock(&am->lock);
}

int alerts_raise(struct alerts *am, const char *rule, const char *kind, const char *stream,
                 uint32_t track, const char *zone, enum alert_state state, double started,
                 const char *message, int64_t *ret_id)
{
    struct store_alert a = {.track = track,
                            .started = started,
                            .confirmed = state == ALERT_ACTIVE ? time_wall_s() : -1,
                            .cleared = -1,
                            .acknowledged_at = -1,
                            .updated = time_wall_s()};
    str_copy(a.rule, sizeof(a.rule), rule);
    str_copy(a.kind, sizeof(a.kind), kind);
    str_copy(a.stream, sizeof(a.stream), stream);
    str_copy(a.zone, sizeof(a.zone), zone ? zone : "");
    str_copy(a.message, sizeof(a.message), message ? message : "");
    set_state(&a, state);

    pthread_mutex_lock(&am->lock);
    if (am->n_open == am->cap_open) {
        size_t cap = am->cap_open * 2;
        struct open_alert *grown = realloc(am->open, cap * sizeof(*grown));
        if (!grown) {
            pthread_mutex_unlock(&am->lock);
            return -ENOMEM;
        }
        am->open = grown;
        am->cap_open = cap;
    }
    int r = save_locked(am, &a);
    if (r >= 0)
        am->open[am->n_open++] = (struct open_alert){.a = a};
    pthread_mutex_unlock(&am->lock);
    if (r < 0)
        return r;
    log_notice("alert %lld: %s (%s) on stream %s%s: %s", (long long)a.id, rule, kind, stream,
               state == ALERT_PENDING ? ", pending" : "", a.message);
    announce(am, &a, "raised");
    *ret_id = a.id;
    return 0;
}

/* Moves an open alert to state `to`; what to tell is `change`. */
static int change(struct alerts *am, int64_t id, enum alert_state to, double t, const char *by,
                  const char *what)
{
    pthread_mutex_lock(&am->lock);
    struct open_alert *o = find_locked(am, id);
    if (!o) {
        pthread_mutex_unlock(&am->lock);
        return -ENOENT;
    }
    struct store_alert a = o->a;
    enum alert_state from = state_of(&a);
    if (to == ALERT_ACTIVE && from != ALERT_PENDING) {
        pthread_mutex_unlock(&am->lock);
        return 0;
    }
    if (to == ALERT_ACKNOWLEDGED) {
        str_copy(a.acknowledged_by, sizeof(a.acknowledged_by), by);
        a.acknowledged_at = t;
        /* Nobody watches it any more: acknowledged is the end of it. */
        if (o->released)
            to = ALERT_CLEARED;
    }
    if (to == ALERT_ACTIVE)
        a.confirmed = t;
    if (to == ALERT_CLEARED)
        a.cleared = t;
    set_state(&a, to);
    a.updated = t;
    int r = save_locked(am, &a);
    if (r >= 0) {
        o->a = a;
        if (to == ALERT_CLEARED)
            drop_locked(am, o);
    }
    pthread_mutex_unlock(&am->lock);
    if (r >= 0)
        announce(am, &a, what);
    return r;
}

int alerts_confirm(struct alerts *am, int64_t id, double t)
{
    return change(am, id, ALERT_ACTIVE, t, NULL, "confirmed");
}

int alerts_clear(struct alerts *am, int64_t id, double t)
{
    return change(am, id, ALERT_CLEARED, t, NULL, "cleared");
}

void alerts_release(struct alerts *am, int64_t id, double t)
{
    pthread_mutex_lock(&am->lock);
    struct open_alert *o = find_locked(am, id);
    bool clear = o && state_of(&o->a) == ALERT_ACKNOWLEDGED;
    if (o)
        o->released = true;
    pthread_mutex_unlock(&am->lock);
    if (clear)
        alerts_clear(am, id, t);
}

void alerts_adopt(struct alerts *am, int64_t id)
{
    pthread_mutex_lock(&am->lock);
    struct open_alert *o = find_locked(am, id);
    if (o)
        o->released = false;
    pthread_mutex_unlock(&am->lock);
}

int alerts_ack(struct alerts *am, int64_t id, const char *by, double t, json_t **ret_json,
               struct errbuf *err)
{
    pthread_mutex_lock(&am->lock);
    struct open_alert *o = find_locked(am, id);
    bool todo = o && !o->a.acknowledged_by[0];
    pthread_mutex_unlock(&am->lock);
    int r = todo ? change(am, id, ALERT_ACKNOWLEDGED, t, by, "acknowledged") : 0;
    if (r < 0 && r != -ENOENT)
        return errbuf_set(err, r, "alert %lld: acknowledging failed: %s", (long long)id,
                          strerror(-r));
    return alerts_get_json(am, id, ret_json, err);
}

int alerts_open_list(struct alerts *am, struct store_alert **ret, size_t *ret_n)
{
    pthread_mutex_lock(&am->lock);
    struct store_alert *list = malloc((am->n_open ? am->n_open : 1) * sizeof(*list));
    size_t n = am->n_open;
    for (size_t i = 0; list && i < n; i++)
        list[i] = am->open[i].a;
    pthread_mutex_unlock(&am->lock);
    if (!list)
        return -ENOMEM;
    *ret = list;
    *ret_n = n;
    return 0;
}

int alerts_query_json(struct alerts *am, const struct api_alert_query *q, json_t **ret,
                      struct errbuf *err)
{
    struct store_alert *list = NULL;
    size_t n = 0;
    int r = store_alerts_query(am->store, q->state, q->stream, q->rule, q->since, q->limit, &list,
                               &n, err);
    if (r < 0)
        return r;
    json_t *array = json_array(), *root = NULL;
    pthread_mutex_lock(&am->lock);
    size_t active = 0;
    for (size_t i = 0; i < am->n_open; i++)
        active += state_of(&am->open[i].a) == ALERT_ACTIVE;
    pthread_mutex_unlock(&am->lock);
    for (size_t i = 0; array && i < n; i++)
        json_array_append_new(array, alert_json(&list[i]));
    free(list);
    if (array)
        root = json_pack("{s:I, s:o}", "active", (json_int_t)active, "alerts", array);
    if (!root)
        return -ENOMEM;
    *ret = root;
    return 0;
}

int alerts_get_json(struct alerts *am, int64_t id, json_t **ret, struct errbuf *err)
{
    struct store_alert a;
    int r = store_alert_get(am->store, id, &a, err);
    if (r < 0)
        return r;
    json_t *json = alert_json(&a);
    if (!json)
        return -ENOMEM;
    *ret = json;
    return 0;
}

void alerts_metrics(struct alerts *am, struct api_text *out)
{
    api_text_printf(out, "# HELP crtd_alerts_active Alerts active (not yet acknowledged), by "
                         "rule.\n# TYPE crtd_alerts_active gauge\n");
    pthread_mutex_lock(&am->lock);
    for (size_t r = 0; r < am->n_rules; r++) {
        unsigned count[ALERT_STATE_COUNT] = {0};
        for (size_t i = 0; i < am->n_open; i++)
            if (strcmp(am->open[i].a.rule, am->rules[r]) == 0)
                count[state_of(&am->open[i].a)]++;
        char label[160];
        api_text_label_escape(label, sizeof(label), am->rules[r]);
        api_text_printf(out, "crtd_alerts_active{rule=\"%s\"} %u\n", label, count[ALERT_ACTIVE]);
    }
    api_text_printf(out, "# HELP crtd_alerts Alerts not yet cleared, by rule and state.\n"
                         "# TYPE crtd_alerts gauge\n");
    for (size_t r = 0; r < am->n_rules; r++) {
        char label[160];
        api_text_label_escape(label, sizeof(label), am->rules[r]);
        for (int s = 0; s < ALERT_CLEARED; s++) {
            unsigned count = 0;
            for (size_t i = 0; i < am->n_open; i++)
                count += strcmp(am->open[i].a.rule, am->rules[r]) == 0 &&
                         state_of(&am->open[i].a) == (enum alert_state)s;
            api_text_printf(out, "crtd_alerts{rule=\"%s\",state=\"%s\"} %u\n", label,
                            state_names[s], count);
        }
    }
    pthread_mutex_unlock(&am->lock);
}
