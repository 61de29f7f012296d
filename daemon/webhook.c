/* webhook: one thread and one queue per webhook, libcurl to send. */
#include "webhook.h"

#include <curl/curl.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#ifndef CRTD_VERSION
#define CRTD_VERSION "0"
#endif

struct delivery {
    char *body;
    int64_t alert;
    char change[16];
    unsigned attempts;
    double next_at; /* monotonic seconds */
};

struct webhook {
    struct config_webhook cfg;
    char url_masked[API_URL_MAX];
    pthread_t thread;
    bool started;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct delivery *queue; /* a ring of cfg.queue, under lock */
    size_t head, count;
    uint64_t delivered, failed_attempts, dead_letters, queued; /* under lock */
    bool up;                                                   /* the last attempt worked */
    char last_error[256];
};

struct webhooks {
    pthread_rwlock_t lock; /* the set; a webhook's own state is under its lock */
    struct webhook **hooks;
    size_t n;
};

static double mono_s(void)
{
    return (double)time_mono_ns() / 1e9;
}

void webhook_signature(char *dst, size_t size, const char *secret, const char *body, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &n);
    size_t off = (size_t)snprintf(dst, size, "sha256=");
    for (unsigned i = 0; i < n && off + 2 < size; i++)
        off += (size_t)snprintf(dst + off, size - off, "%02x", mac[i]);
}

static size_t discard(char *data, size_t size, size_t n, void *user)
{
    return size * n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct webhook *w = user;
    return atomic_load(&w->stop) ? 1 : 0; /* non-zero aborts the transfer */
}

/* One POST; 0 for a 2xx answer, else a negative errno and why in err. */
static int post(struct webhook *w, CURL *curl, const struct delivery *d, char *err, size_t size)
{
    char sig[96], id[64], header[160];
    struct curl_slist *headers = NULL;
    size_t len = strlen(d->body);
    long status = 0;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "User-Agent: crtd/" CRTD_VERSION);
    snprintf(id, sizeof(id), "X-Crtd-Alert-Id: %lld", (long long)d->alert);
    headers = curl_slist_append(headers, id);
    snprintf(header, sizeof(header), "X-Crtd-Alert-Change: %s", d->change);
    headers = curl_slist_append(headers, header);
    if (w->cfg.secret[0]) {
        webhook_signature(sig, sizeof(sig), w->cfg.secret, d->body, len);
        snprintf(header, sizeof(header), "X-Crtd-Signature: %s", sig);
        headers = curl_slist_append(headers, header);
    }
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, w->cfg.url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(w->cfg.timeout_s * 1000));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(w->cfg.timeout_s * 1000));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, w);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        snprintf(err, size, "%s", curl_easy_strerror(rc));
        return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        snprintf(err, size, "HTTP status %ld", status);
        return -EPROTO;
    }
    return 0;
}

static void *webhook_main(void *arg)
{
    struct webhook *w = arg;
    CURL *curl = curl_easy_init();
    if (!curl) {
        log_error("webhook %s: libcurl does not start", w->cfg.name);
        return NULL;
    }
    pthread_mutex_lock(&w->lock);
    while (!atomic_load(&w->stop)) {
        if (w->count == 0) {
            pthread_cond_wait(&w->wake, &w->lock);
            continue;
        }
        /* The oldest first, so that a receiver sees changes in order. */
        struct delivery *d = &w->queue[w->head];
        double wait = d->next_at - mono_s();
        if (wait > 0) {
            struct timespec deadline = timespec_deadline(CLOCK_MONOTONIC, wait);
            pthread_cond_timedwait(&w->wake, &w->lock, &deadline);
            continue;
        }
        struct delivery job = *d;
        pthread_mutex_unlock(&w->lock);
        char err[256] = "";
        int r = post(w, curl, &job, err, sizeof(err));
        pthread_mutex_lock(&w->lock);
        if (atomic_load(&w->stop))
            break;
        d = &w->queue[w->head];
        d->attempts++;
        bool done = r >= 0 || d->attempts >= w->cfg.max_attempts;
        if (r >= 0) {
            w->delivered++;
            if (!w->up)
                log_notice("webhook %s (%s): delivering again", w->cfg.name, w->url_masked);
            w->up = true;
        } else {
            w->failed_attempts++;
            if (w->up || d->attempts == 1)
                log_warning("webhook %s (%s): alert %lld: %s (attempt %u of %u)", w->cfg.name,
                            w->url_masked, (long long)d->alert, err, d->attempts,
                            w->cfg.max_attempts);
            w->up = false;
            str_copy(w->last_error, sizeof(w->last_error), err);
            if (done) {
                w->dead_letters++;
                log_error("webhook %s: alert %lld (%s) not delivered after %u attempts: a dead "
                          "letter",
                          w->cfg.name, (long long)d->alert, d->change, d->attempts);
            } else {
                double backoff = w->cfg.retry_min_s * pow(2, d->attempts - 1);
                d->next_at = mono_s() + fmin(backoff, w->cfg.retry_max_s);
            }
        }
        if (done) {
            free(d->body);
            w->head = (w->head + 1) % w->cfg.queue;
            w->count--;
        }
    }
    pthread_mutex_unlock(&w->lock);
    curl_easy_cleanup(curl);
    return NULL;
}

/* One webhook and its thread; NULL with why in err. */
static struct webhook *webhook_start(const struct config_webhook *cfg, struct errbuf *err)
{
    struct webhook *w = calloc(1, sizeof(*w));
    if (!w) {
        errbuf_set(err, -ENOMEM, "webhook %s: out of memory", cfg->name);
        return NULL;
    }
    w->cfg = *cfg;
    w->up = true;
    url_mask_password(w->url_masked, sizeof(w->url_masked), w->cfg.url);
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    w->queue = calloc(w->cfg.queue, sizeof(*w->queue));
    int r = w->queue ? pthread_create(&w->thread, NULL, webhook_main, w) : ENOMEM;
    if (r != 0) {
        errbuf_set(err, -r, "webhook %s: %s", cfg->name, strerror(r));
        free(w->queue);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    w->started = true;
    log_info("webhook %s: alerts%s go to %s", w->cfg.name, w->cfg.n_rules ? " of its rules" : "",
             w->url_masked);
    return w;
}

/* Stops the thread, abandoning what is queued or in flight. */
static void webhook_stop(struct webhook *w)
{
    atomic_store(&w->stop, true);
    pthread_mutex_lock(&w->lock);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (w->started)
        pthread_join(w->thread, NULL);
    for (size_t k = 0; w->queue && k < w->count; k++)
        free(w->queue[(w->head + k) % w->cfg.queue].body);
    if (w->count)
        log_warning("webhook %s: %zu deliveries abandoned at the stop", w->cfg.name, w->count);
    free(w->queue);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* Field by field: the configuration's structs are not all zeroed alike. */
static bool same_webhook(const struct config_webhook *a, const struct config_webhook *b)
{
    if (strcmp(a->name, b->name) != 0 || strcmp(a->url, b->url) != 0 ||
        strcmp(a->secret, b->secret) != 0 || a->n_rules != b->n_rules ||
        a->timeout_s != b->timeout_s || a->max_attempts != b->max_attempts ||
        a->retry_min_s != b->retry_min_s || a->retry_max_s != b->retry_max_s ||
        a->queue != b->queue)
        return false;
    for (unsigned i = 0; i < a->n_rules; i++)
        if (strcmp(a->rules[i], b->rules[i]) != 0)
            return false;
    return true;
}

int webhooks_new(const struct config *cfg, struct webhooks **ret, struct errbuf *err)
{
    struct webhooks *ws = calloc(1, sizeof(*ws));
    if (!ws)
        return -ENOMEM;
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        free(ws);
        return errbuf_set(err, -EIO, "webhooks: libcurl: %s", curl_easy_strerror(rc));
    }
    pthread_rwlock_init(&ws->lock, NULL);
    int r = webhooks_apply(ws, cfg, err);
    if (r < 0) {
        webhooks_free(ws);
        return r;
    }
    *ret = ws;
    return 0;
}

int webhooks_apply(struct webhooks *ws, const struct config *cfg, struct errbuf *err)
{
    struct webhook **next = calloc(cfg->n_webhooks ? cfg->n_webhooks : 1, sizeof(*next));
    if (!next)
        return errbuf_set(err, -ENOMEM, "webhooks: out of memory");
    /* Kept: a webhook defined as before, with its queue and counters. */
    pthread_rwlock_rdlock(&ws->lock);
    bool *kept = calloc(ws->n ? ws->n : 1, sizeof(*kept));
    for (size_t i = 0; kept && i < cfg->n_webhooks; i++)
        for (size_t j = 0; j < ws->n && !next[i]; j++)
            if (!kept[j] && same_webhook(&ws->hooks[j]->cfg, &cfg->webhooks[i])) {
                next[i] = ws->hooks[j];
                kept[j] = true;
            }
    pthread_rwlock_unlock(&ws->lock);
    if (!kept) {
        free(next);
        return errbuf_set(err, -ENOMEM, "webhooks: out of memory");
    }
    size_t n_fresh = 0;
    size_t *fresh = calloc(cfg->n_webhooks ? cfg->n_webhooks : 1, sizeof(*fresh));
    for (size_t i = 0; fresh && i < cfg->n_webhooks; i++) {
        if (next[i])
            continue;
        if (!(next[i] = webhook_start(&cfg->webhooks[i], err))) {
            for (size_t k = 0; k < n_fresh; k++) /* only the ones started here */
                webhook_stop(next[fresh[k]]);
            free(fresh);
            free(kept);
            free(next);
            return -EIO;
        }
        fresh[n_fresh++] = i;
    }
    if (!fresh) {
        free(kept);
        free(next);
        return errbuf_set(err, -ENOMEM, "webhooks: out of memory");
    }
    free(fresh);
    pthread_rwlock_wrlock(&ws->lock);
    struct webhook **old = ws->hooks;
    size_t n_old = ws->n;
    ws->hooks = next;
    ws->n = cfg->n_webhooks;
    pthread_rwlock_unlock(&ws->lock);
    for (size_t j = 0; j < n_old; j++)
        if (!kept[j]) {
            log_info("webhook %s: removed or changed by the configuration", old[j]->cfg.name);
            webhook_stop(old[j]);
        }
    free(kept);
    free(old);
    return 0;
}

struct webhooks *webhooks_free(struct webhooks *ws)
{
    if (!ws)
        return NULL;
    for (size_t i = 0; i < ws->n; i++)
        webhook_stop(ws->hooks[i]);
    curl_global_cleanup();
    pthread_rwlock_destroy(&ws->lock);
    free(ws->hooks);
    free(ws);
    return NULL;
}

static bool wants(const struct webhook *w, const char *rule)
{
    if (w->cfg.n_rules == 0)
        return true;
    for (unsigned i = 0; i < w->cfg.n_rules; i++)
        if (strcmp(w->cfg.rules[i], rule) == 0)
            return true;
    return false;
}

void webhooks_on_alert(void *userdata, const struct store_alert *a, json_t *json)
{
    struct webhooks *ws = userdata;
    char *body = NULL;
    pthread_rwlock_rdlock(&ws->lock);
    for (size_t i = 0; i < ws->n; i++) {
        struct webhook *w = ws->hooks[i];
        if (!wants(w, a->rule))
            continue;
        if (!body && !(body = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(6))))
            break;
        char *copy = strdup(body);
        pthread_mutex_lock(&w->lock);
        if (!copy || w->count == w->cfg.queue) {
            w->dead_letters++;
            log_error("webhook %s: queue full (%u): alert %lld (%s) dropped as a dead letter",
                      w->cfg.name, w->cfg.queue, (long long)a->id,
                      json_string_value(json_object_get(json, "change")));
            free(copy);
        } else {
            struct delivery *d = &w->queue[(w->head + w->count) % w->cfg.queue];
            *d = (struct delivery){.body = copy, .alert = a->id, .next_at = 0};
            str_copy(d->change, sizeof(d->change),
                     json_string_value(json_object_get(json, "change")));
            w->count++;
            w->queued++;
            pthread_cond_signal(&w->wake);
        }
        pthread_mutex_unlock(&w->lock);
    }
    pthread_rwlock_unlock(&ws->lock);
    free(body);
}

void webhooks_metrics(struct webhooks *ws, struct api_text *out)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"crtd_webhook_delivered_total", "counter", "Alert changes a webhook answered with 2xx."},
        {"crtd_webhook_failed_attempts_total", "counter", "Attempts that failed (retried)."},
        {"crtd_webhook_dead_letters_total", "counter",
         "Alert changes given up on: every attempt failed, or the queue was full."},
        {"crtd_webhook_queued", "gauge", "Alert changes waiting to be delivered."},
        {"crtd_webhook_up", "gauge", "1 when the webhook's last attempt worked."},
    };
    if (!ws)
        return;
    pthread_rwlock_rdlock(&ws->lock);
    for (size_t f = 0; ws->n && f < ARRAY_SIZE(families); f++) {
        api_text_printf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                        families[f].name, families[f].type);
        for (size_t i = 0; i < ws->n; i++) {
            struct webhook *w = ws->hooks[i];
            char label[160];
            api_text_label_escape(label, sizeof(label), w->cfg.name);
            pthread_mutex_lock(&w->lock);
            uint64_t v[] = {w->delivered, w->failed_attempts, w->dead_letters, w->count, w->up};
            pthread_mutex_unlock(&w->lock);
            api_text_printf(out, "%s{webhook=\"%s\"} %llu\n", families[f].name, label,
                            (unsigned long long)v[f]);
        }
    }
    pthread_rwlock_unlock(&ws->lock);
}
