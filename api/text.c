/* text: a capped text buffer and Prometheus histograms for /metrics. */
#include "api.h"

#include <string.h>

const double api_histogram_bounds[API_HISTOGRAM_BUCKETS] = {
    0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1,  0.15, 0.2,
    0.3,   0.5,  0.75, 1.0,  2.0,  5.0,   10.0, 30.0, 60.0,
};

void api_text_init(struct api_text *t, size_t cap)
{
    *t = (struct api_text){.cap = cap};
}

void api_text_done(struct api_text *t)
{
    if (!t)
        return;
    free(t->data);
    *t = (struct api_text){0};
}

void api_text_printf(struct api_text *t, const char *fmt, ...)
{
    va_list ap;
    if (t->failed)
        return;
    for (;;) {
        size_t avail = t->size - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->data ? t->data + t->len : NULL, avail, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < avail) {
            t->len += (size_t)n;
            return;
        }
        size_t want = t->len + (size_t)n + 1;
        if (want > t->cap) {
            t->failed = true;
            return;
        }
        size_t size = t->size ? t->size : 4096;
        while (size < want)
            size *= 2;
        if (size > t->cap)
            size = t->cap;
        char *data = realloc(t->data, size);
        if (!data) {
            t->failed = true;
            return;
        }
        t->data = data;
        t->size = size;
    }
}

void api_histogram_observe(struct api_histogram *h, double value)
{
    size_t i = 0;
    while (i < API_HISTOGRAM_BUCKETS && value > api_histogram_bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += value;
}

void api_histogram_write(const struct api_histogram *h, struct api_text *t, const char *name,
                         const char *labels)
{
    const char *sep = labels && labels[0] ? "," : "";
    const char *lab = labels ? labels : "";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < API_HISTOGRAM_BUCKETS; i++) {
        cumulative += h->counts[i];
        api_text_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, lab, sep,
                        api_histogram_bounds[i], (unsigned long long)cumulative);
    }
    cumulative += h->counts[API_HISTOGRAM_BUCKETS];
    api_text_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, lab, sep,
                    (unsigned long long)cumulative);
    api_text_printf(t, "%s_sum{%s} %.9g\n", name, lab, h->sum);
    api_text_printf(t, "%s_count{%s} %llu\n", name, lab, (unsigned long long)h->count);
}

void api_text_label_escape(char *dst, size_t size, const char *value)
{
    size_t o = 0;
    if (size == 0)
        return;
    for (const char *p = value; *p && o + 2 < size; p++) {
        if (*p == '\\' || *p == '"') {
            dst[o++] = '\\';
            dst[o++] = *p;
        } else if (*p == '\n') {
            dst[o++] = '\\';
            dst[o++] = 'n';
        } else {
            dst[o++] = *p;
        }
    }
    dst[o] = '\0';
}
