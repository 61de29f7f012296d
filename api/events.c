/* events: a bounded log of recent events for Server-Sent Events clients. */
#include "api.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

struct event_slot {
    uint64_t id;
    char *message; /* "id: ..\nevent: ..\ndata: ..\n\n" */
};

struct api_events {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct event_slot *slots;
    size_t capacity, count, head; /* head: index of the oldest */
    uint64_t next_id;
    bool shutdown;
};

int api_events_new(size_t capacity, uint64_t first_id, struct api_events **ret_events)
{
    struct api_events *ev;
    pthread_condattr_t attr;

    if (capacity == 0 || first_id == 0)
        return -EINVAL;
    ev = calloc(1, sizeof(*ev));
    if (!ev)
        return -ENOMEM;
    ev->slots = calloc(capacity, sizeof(*ev->slots));
    if (!ev->slots) {
        free(ev);
        return -ENOMEM;
    }
    ev->capacity = capacity;
    ev->next_id = first_id;
    pthread_mutex_init(&ev->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ev->cond, &attr);
    pthread_condattr_destroy(&attr);
    *ret_events = ev;
    return 0;
}

struct api_events *api_events_free(struct api_events *ev)
{
    if (!ev)
        return NULL;
    for (size_t i = 0; i < ev->capacity; i++)
        free(ev->slots[i].message);
    free(ev->slots);
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
    return NULL;
}

int api_events_publish(struct api_events *ev, const char *type, json_t *data, uint64_t *ret_id)
{
    char *json = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (!json)
        return -ENOMEM;

    pthread_mutex_lock(&ev->lock);
    uint64_t id = ev->next_id;
    size_t need = strlen(json) + strlen(type) + 64;
    char *message = malloc(need);
    if (!message) {
        pthread_mutex_unlock(&ev->lock);
        free(json);
        return -ENOMEM;
    }
    snprintf(message, need, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)id, type,
             json);
    free(json);

    size_t slot;
    if (ev->count < ev->capacity) {
        slot = (ev->head + ev->count) % ev->capacity;
        ev->count++;
    } else {
        slot = ev->head;
        ev->head = (ev->head + 1) % ev->capacity;
        free(ev->slots[slot].message);
    }
    ev->slots[slot] = (struct event_slot){.id = id, .message = message};
    ev->next_id++;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
    if (ret_id)
        *ret_id = id;
    return 0;
}

uint64_t api_events_last_id(struct api_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    uint64_t id = ev->next_id - 1;
    pthread_mutex_unlock(&ev->lock);
    return id;
}

/* The slot of the first kept event with an id above after_id, or -1. */
static ssize_t find_after(struct api_events *ev, uint64_t after_id)
{
    if (ev->count == 0)
        return -1;
    uint64_t oldest = ev->slots[ev->head].id;
    uint64_t newest = oldest + ev->count - 1;
    if (after_id >= newest)
        return -1;
    if (after_id < oldest)
        return (ssize_t)ev->head;
    return (ssize_t)((ev->head + (after_id - oldest + 1)) % ev->capacity);
}

int api_events_next(struct api_events *ev, uint64_t after_id, int timeout_ms, char **ret_message,
                    uint64_t *ret_id)
{
    struct timespec deadline = timespec_deadline(CLOCK_MONOTONIC, timeout_ms / 1000.0);
    int r = 0;

    pthread_mutex_lock(&ev->lock);
    for (;;) {
        if (ev->shutdown) {
            r = -ESHUTDOWN;
            break;
        }
        ssize_t slot = find_after(ev, after_id);
        if (slot >= 0) {
            char *copy = strdup(ev->slots[slot].message);
            if (!copy) {
                r = -ENOMEM;
                break;
            }
            *ret_message = copy;
            *ret_id = ev->slots[slot].id;
            break;
        }
        if (pthread_cond_timedwait(&ev->cond, &ev->lock, &deadline) == ETIMEDOUT) {
            /* one last look, then give up */
            if (!ev->shutdown && find_after(ev, after_id) >= 0)
                continue;
            r = -EAGAIN;
            break;
        }
    }
    pthread_mutex_unlock(&ev->lock);
    return r;
}

void api_events_shutdown(struct api_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->shutdown = true;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
}
