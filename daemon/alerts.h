/* alerts: the alerts the safety rules raise (docs/SAFETY.md, "Alerts") —
 * their life cycle (pending -> active -> acknowledged -> cleared), kept in
 * the state store at every change so that an active alert is still active
 * after a crash, published as "alert" events (SSE, MQTT) and handed to
 * listeners (webhooks) that must not block. */
#ifndef CRTD_ALERTS_H
#define CRTD_ALERTS_H

#include <jansson.h>

#include "api.h"
#include "store.h"

enum alert_state {
    ALERT_PENDING,      /* a fall suspected, not yet confirmed */
    ALERT_ACTIVE,       /* the rule holds: somebody should look */
    ALERT_ACKNOWLEDGED, /* somebody said they look after it; the rule still holds */
    ALERT_CLEARED,      /* over: the rule no longer holds */
    ALERT_STATE_COUNT,
};

const char *alert_state_name(enum alert_state state);
int alert_state_parse(const char *text, enum alert_state *ret_state);

#define ALERTS_MAX_LISTENERS 4
#define ALERTS_MAX_RULES     64

struct alerts;

/* Called after every change, outside the lock, by the thread that made it;
 * json is the alert with its "change" (borrowed). Must not block. */
typedef void (*alerts_listener)(void *userdata, const struct store_alert *alert, json_t *json);

/* store and events are borrowed. Loads the alerts a previous run left open. */
int alerts_new(struct store *store, struct api_events *events, struct alerts **ret_alerts,
               struct errbuf *err);
struct alerts *alerts_free(struct alerts *alerts);

void alerts_add_listener(struct alerts *alerts, alerts_listener fn, void *userdata);
/* The rules, so that /metrics lists each with 0 when it has no alert. */
void alerts_declare_rule(struct alerts *alerts, const char *rule);

/* Raises an alert (state pending or active) for a rule; *ret_id is its id. */
int alerts_raise(struct alerts *alerts, const char *rule, const char *kind, const char *stream,
                 uint32_t track, const char *zone, enum alert_state state, double started,
                 const char *message, int64_t *ret_id);
/* pending -> active. */
int alerts_confirm(struct alerts *alerts, int64_t id, double t);
/* -> cleared (the rule no longer holds). */
int alerts_clear(struct alerts *alerts, int64_t id, double t);
/* The rule no longer watches this alert (its track ended): it stays until
 * acknowledged, and an acknowledged one is cleared at once. */
void alerts_release(struct alerts *alerts, int64_t id, double t);
/* Acknowledges (idempotent: a second call changes nothing); -ENOENT for an
 * id that does not exist. *ret_json: the alert now. */
int alerts_ack(struct alerts *alerts, int64_t id, const char *by, double t, json_t **ret_json,
               struct errbuf *err);

/* A rule watches this alert again (after a restart: the rules adopt what
 * a previous run left open; until then acknowledging clears it). */
void alerts_adopt(struct alerts *alerts, int64_t id);
/* The alerts not cleared, as a malloc'd array (the rules adopt them). */
int alerts_open_list(struct alerts *alerts, struct store_alert **ret_list, size_t *ret_n);

/* The alert as the API shows it (new reference). */
json_t *alert_json(const struct store_alert *alert);
int alerts_query_json(struct alerts *alerts, const struct api_alert_query *query, json_t **ret_json,
                      struct errbuf *err);
int alerts_get_json(struct alerts *alerts, int64_t id, json_t **ret_json, struct errbuf *err);
/* crtd_alerts{rule,state} and crtd_alerts_active{rule}. */
void alerts_metrics(struct alerts *alerts, struct api_text *out);

#endif
