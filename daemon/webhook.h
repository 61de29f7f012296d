/* webhook: alerts POSTed to the URLs of [webhook "NAME"] sections
 * (docs/SAFETY.md, "Webhooks") — JSON signed with HMAC-SHA256 of the body,
 * retried with backoff, then counted as dead letters. Each webhook has its
 * own thread and bounded queue: one that is down or stalls never holds a
 * camera, the rules or the API. Delivery is at least once; the alert id and
 * the change tell a receiver what it has seen already. */
#ifndef CRTD_WEBHOOK_H
#define CRTD_WEBHOOK_H

#include <jansson.h>

#include "alerts.h"
#include "api.h"
#include "config.h"

struct webhooks;

/* Starts a thread per webhook of cfg (none: *ret_webhooks is still set). */
int webhooks_new(const struct config *cfg, struct webhooks **ret_webhooks, struct errbuf *err);
/* The webhooks of a configuration read again (SIGHUP): one defined as
 * before keeps its queue and counters; a new or changed one starts; a
 * removed or changed one stops, abandoning what it had queued. On error
 * nothing changes. */
int webhooks_apply(struct webhooks *webhooks, const struct config *cfg, struct errbuf *err);
/* Stops the threads, abandoning what is queued or in flight. */
struct webhooks *webhooks_free(struct webhooks *webhooks);

/* An alerts_listener (userdata: the webhooks): queues the change for every
 * webhook whose rules name the alert's; never blocks. */
void webhooks_on_alert(void *userdata, const struct store_alert *alert, json_t *json);

/* crtd_webhook_* lines for /metrics. */
void webhooks_metrics(struct webhooks *webhooks, struct api_text *out);

/* "sha256=<hex>" of HMAC-SHA256(secret, body) into dst (72 bytes). */
void webhook_signature(char *dst, size_t size, const char *secret, const char *body, size_t len);

#endif
