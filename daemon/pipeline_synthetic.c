/* pipeline_synthetic: the scripted test source behind "synthetic:" URLs.
 *
 * It plays back a script of labels, one per segment, so that tests can drive
 * the supervisor, hysteresis, history, state store, events and API through a
 * known sequence. It recognises nothing. The URL is
 *
 *   synthetic:script=Walk*4,Sitdown*6,none*3&segment_ms=100&loop=1
 *             &fail_after=N&alive=/path
 *
 *   script      labels (class names of the model, or "none" for nobody in
 *               view), each repeated *N segments (default 1)
 *   segment_ms  wall time per segment (default 200, 1..10000)
 *   loop        1 (default): start the script again at its end; 0: hold the
 *               last entry
 *   fail_after  fail with EIO after this many segments of one open (0: never)
 *   alive       a file that must exist: opening fails without it and a step
 *               fails once it is gone (a test "kills the camera" by deleting it)
 *
 * Its memory is the position in the script and a segment count, so a restore
 * visibly resumes the script where the checkpoint left it. */
#include "pipeline.h"

#include <math.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_ENTRIES        64
#define SYNTHETIC_MEMORY   "synthetic-v1"
#define FRAMES_PER_SEGMENT 8
#define MEMORY_MAGIC       0x53594e5448455431ull /* "SYNTHET1" */

struct entry {
    int label; /* -1: nobody */
    unsigned count;
};

struct synthetic {
    const struct pipeline_model *model;
    const atomic_bool *stop;
    struct entry entries[MAX_ENTRIES];
    size_t n_entries;
    unsigned segment_ms;
    bool loop;
    uint64_t fail_after;
    char alive[512];

    uint64_t position; /* segments into the script, kept in memory */
    uint64_t opened_segments;
    int64_t next_ns;
};

struct synthetic_memory {
    uint64_t magic;
    uint64_t position;
};

static int parse_script(struct synthetic *s, const char *text, size_t len, struct errbuf *err)
{
    char buf[1024];
    if (len >= sizeof(buf))
        return errbuf_set(err, -EINVAL, "synthetic: script too long");
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (s->n_entries >= MAX_ENTRIES)
            return errbuf_set(err, -EINVAL, "synthetic: more than %d script entries", MAX_ENTRIES);
        struct entry e = {.label = -1, .count = 1};
        char *star = strchr(tok, '*');
        if (star) {
            *star = '\0';
            char *end;
            unsigned long n = strtoul(star + 1, &end, 10);
            if (*end || n < 1 || n > 100000)
                return errbuf_set(err, -EINVAL, "synthetic: bad repeat count in '%s*%s'", tok,
                                  star + 1);
            e.count = (unsigned)n;
        }
        if (strcasecmp(tok, "none") != 0) {
            e.label = -2;
            for (unsigned i = 0; i < pipeline_model_n_classes(s->model); i++)
                if (strcmp(tok, pipeline_model_class(s->model, i)) == 0)
                    e.label = (int)i;
            if (e.label == -2)
                return errbuf_set(err, -EINVAL, "synthetic: '%s' is not a class of the model", tok);
        }
        s->entries[s->n_entries++] = e;
    }
    if (s->n_entries == 0)
        return errbuf_set(err, -EINVAL, "synthetic: empty script");
    return 0;
}

static int parse_url(struct synthetic *s, const char *url, struct errbuf *err)
{
    const char *p = url + strlen("synthetic:");
    bool have_script = false;
    while (*p) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return errbuf_set(err, -EINVAL, "synthetic: expected key=value in '%.*s'", (int)len, p);
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        const char *v = eq + 1;
        char value[600];
        if (vlen >= sizeof(value))
            return errbuf_set(err, -EINVAL, "synthetic: value too long");
        memcpy(value, v, vlen);
        value[vlen] = '\0';
        char *end = NULL;
        unsigned long long n = strtoull(value, &end, 10);
        bool numeric = vlen > 0 && *end == '\0';

        if (klen == 6 && strncmp(p, "script", 6) == 0) {
            int r = parse_script(s, v, vlen, err);
            if (r < 0)
                return r;
            have_script = true;
        } else if (klen == 10 && strncmp(p, "segment_ms", 10) == 0) {
            if (!numeric || n < 1 || n > 10000)
                return errbuf_set(err, -EINVAL, "synthetic: segment_ms must be 1..10000");
            s->segment_ms = (unsigned)n;
        } else if (klen == 4 && strncmp(p, "loop", 4) == 0) {
            if (!numeric || n > 1)
                return errbuf_set(err, -EINVAL, "synthetic: loop must be 0 or 1");
            s->loop = n == 1;
        } else if (klen == 10 && strncmp(p, "fail_after", 10) == 0) {
            if (!numeric)
                return errbuf_set(err, -EINVAL, "synthetic: fail_after must be a number");
            s->fail_after = n;
        } else if (klen == 5 && strncmp(p, "alive", 5) == 0) {
            str_copy(s->alive, sizeof(s->alive), value);
        } else {
            return errbuf_set(err, -EINVAL, "synthetic: unknown parameter '%.*s'", (int)klen, p);
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (!have_script)
        return errbuf_set(err, -EINVAL, "synthetic: no script= given");
    return 0;
}

static const struct entry *entry_at(const struct synthetic *s, uint64_t position)
{
    uint64_t total = 0;
    for (size_t i = 0; i < s->n_entries; i++)
        total += s->entries[i].count;
    if (s->loop)
        position %= total;
    else if (position >= total)
        return &s->entries[s->n_entries - 1];
    for (size_t i = 0; i < s->n_entries; i++) {
        if (position < s->entries[i].count)
            return &s->entries[i];
        position -= s->entries[i].count;
    }
    return &s->entries[s->n_entries - 1];
}

static int synthetic_step(void *impl, struct pipeline_result *ret, struct errbuf *err)
{
    struct synthetic *s = impl;

    /* Sleep until the segment's time, in short slices that watch stop. */
    for (;;) {
        if (atomic_load(s->stop))
            return -ECANCELED;
        int64_t left = s->next_ns - time_mono_ns();
        if (left <= 0)
            break;
        struct timespec ts = {0, left > 20000000 ? 20000000 : (long)left};
        nanosleep(&ts, NULL);
    }
    s->next_ns += (int64_t)s->segment_ms * 1000000;
    if (s->alive[0] && access(s->alive, F_OK) < 0)
        return errbuf_set(err, -EPIPE, "synthetic: '%s' is gone", s->alive);
    if (s->fail_after && s->opened_segments >= s->fail_after)
        return errbuf_set(err, -EIO, "synthetic: failing after %llu segments, as scripted",
                          (unsigned long long)s->fail_after);

    const struct entry *e = entry_at(s, s->position);
    unsigned n = pipeline_model_n_classes(s->model);
    struct pipeline_result r = {.n_classes = n, .person = e->label >= 0};
    int top = e->label >= 0 ? e->label : (int)(s->position % n);
    int second = (top + 1) % (int)n;
    for (unsigned i = 0; i < n; i++)
        r.scores[i] = 0.1f / (float)(n - 2);
    r.scores[top] = e->label >= 0 ? 0.7f : 0.2f;
    r.scores[second] = e->label >= 0 ? 0.2f : 0.7f - 0.1f;
    r.label = r.scores[top] >= r.scores[second] ? top : second;
    /* A standing figure (COCO-17 order, x and y in [0, 1]) that sways and
     * waves a little from segment to segment, for the dashboard to draw. */
    static const float figure[PIPELINE_KEYPOINTS][2] = {
        {0.50f, 0.20f}, {0.52f, 0.18f}, {0.48f, 0.18f}, {0.54f, 0.19f}, {0.46f, 0.19f},
        {0.58f, 0.30f}, {0.42f, 0.30f}, {0.61f, 0.42f}, {0.39f, 0.42f}, {0.62f, 0.53f},
        {0.38f, 0.53f}, {0.55f, 0.55f}, {0.45f, 0.55f}, {0.56f, 0.70f}, {0.44f, 0.70f},
        {0.56f, 0.86f}, {0.44f, 0.86f},
    };
    float sway = 0.03f * sinf(0.5f * (float)s->position);
    for (int k = 0; k < PIPELINE_KEYPOINTS; k++) {
        float wave = k == 9 ? -0.08f * (1 + sinf(0.9f * (float)s->position)) : 0;
        r.keypoints[k][0] = r.person ? figure[k][0] + sway * figure[k][1] : 0;
        r.keypoints[k][1] = r.person ? figure[k][1] + wave : 0;
        r.keypoints[k][2] = r.person ? 0.9f : 0.05f;
    }
    s->position++;
    s->opened_segments++;
    r.pts = (double)s->opened_segments * s->segment_ms / 1000.0;
    r.decoded_ns = time_mono_ns();
    r.frames = s->opened_segments * FRAMES_PER_SEGMENT;
    r.sampled = r.frames;
    *ret = r;
    return 0;
}

static const char *synthetic_memory_kind(void *impl)
{
    return SYNTHETIC_MEMORY;
}

static int synthetic_memory_save(void *impl, void **ret_data, size_t *ret_size)
{
    struct synthetic *s = impl;
    struct synthetic_memory *m = malloc(sizeof(*m));
    if (!m)
        return -ENOMEM;
    *m = (struct synthetic_memory){.magic = MEMORY_MAGIC, .position = s->position};
    *ret_data = m;
    *ret_size = sizeof(*m);
    return 0;
}

static int synthetic_memory_restore(void *impl, const void *data, size_t size, struct errbuf *err)
{
    struct synthetic *s = impl;
    struct synthetic_memory m;
    if (size != sizeof(m))
        return errbuf_set(err, -EBADMSG, "synthetic memory: %zu bytes, expected %zu", size,
                          sizeof(m));
    memcpy(&m, data, sizeof(m));
    if (m.magic != MEMORY_MAGIC)
        return errbuf_set(err, -EBADMSG, "synthetic memory: bad magic");
    s->position = m.position;
    return 0;
}

static void synthetic_free(void *impl)
{
    free(impl);
}

static const struct pipeline_ops synthetic_ops = {
    .step = synthetic_step,
    .memory_kind = synthetic_memory_kind,
    .memory_save = synthetic_memory_save,
    .memory_restore = synthetic_memory_restore,
    .free = synthetic_free,
};

int pipeline_synthetic_open(const struct pipeline_model *model, const char *url,
                            const atomic_bool *stop, const struct pipeline_ops **ret_ops,
                            void **ret_impl, struct errbuf *err)
{
    struct synthetic *s = calloc(1, sizeof(*s));
    int r;
    if (!s)
        return -ENOMEM;
    s->model = model;
    s->stop = stop;
    s->segment_ms = 200;
    s->loop = true;
    r = parse_url(s, url, err);
    if (r < 0)
        goto fail;
    if (s->alive[0] && access(s->alive, F_OK) < 0) {
        r = errbuf_set(err, -ENOENT, "synthetic: '%s' does not exist", s->alive);
        goto fail;
    }
    s->next_ns = time_mono_ns() + (int64_t)s->segment_ms * 1000000;
    *ret_ops = &synthetic_ops;
    *ret_impl = s;
    return 0;
fail:
    free(s);
    return r;
}
