/* pipeline_synthetic: the scripted test source behind "synthetic:" URLs.
 *
 * It plays back a script of labels, one per segment, so that tests can drive
 * the supervisor, hysteresis, history, state store, events and API through a
 * known sequence. It recognises nothing. The URL is
 *
 *   synthetic:script=Walk*4,Sitdown*6,none*3&person=2:none*2,Readbook*8
 *             &segment_ms=100&loop=1&fail_after=N&alive=/path&max_people=6
 *
 *   script      person 1's labels (class names of the model, or "none" for
 *               not in view), each repeated *N segments (default 1), each
 *               with an optional @POSE: stand (the default: standing, swaying
 *               and waving a little), still (standing without a move) or
 *               floor (lying on the floor, still): Walk*4,Laydown@floor*20
 *   person      ID:SCRIPT, another person with that id (1..1000000) and
 *               its own script; repeatable. Each person in view is drawn
 *               as a standing figure of its own, side by side
 *   max_people  the cap (1..16, default the stream's max_people): people
 *               past it, the later ones in the URL, are dropped and counted
 *   segment_ms  wall time per segment (default 200, 1..10000)
 *   loop        1 (default): start the script again at its end; 0: hold the
 *               last entry
 *   fail_after  fail with EIO after this many segments of one open (0: never)
 *   alive       a file that must exist: opening fails without it and a step
 *               fails once it is gone (a test "kills the camera" by deleting it)
 *
 * A person out of view stays listed (not in view) until unseen for 2 s of
 * stream time, as a track of the real pipeline does. Its memory is the
 * position in the script and, per person, when it was first and last seen,
 * in the per-track container of the real pipeline: a restore visibly
 * resumes the script where the checkpoint left it, and people seen within
 * 2 s of the checkpoint keep their first_seen. */
#include "pipeline.h"
#include "data.h"
#include "pipeline_internal.h"

#include <math.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_ENTRIES        64
#define UNSEEN_S           2.0 /* the tracker's max_unseen_s */
#define SYNTHETIC_MEMORY   "synthetic-v1"
#define FRAMES_PER_SEGMENT 8
#define MEMORY_MAGIC       0x53594e5448455431ull /* "SYNTHET1" */

enum synthetic_pose {
    POSE_STAND, /* standing, swaying and waving */
    POSE_STILL, /* standing without a move */
    POSE_FLOOR, /* lying on the floor */
    POSE_COUNT,
};

static const char *const pose_names[] = {"stand", "still", "floor"};
_Static_assert(ARRAY_SIZE(pose_names) == POSE_COUNT, "one name per pose");

struct entry {
    int label; /* -1: nobody */
    unsigned count;
    enum synthetic_pose pose;
};

struct script {
    uint32_t id;
    struct entry entries[MAX_ENTRIES];
    size_t n_entries;
    /* the person as a track */
    bool live;
    double first_seen, last_seen_wall, last_seen_pts;
};

struct synthetic {
    const struct pipeline_model *model;
    struct pose_archive *archive; /* borrowed; NULL: none */
    const atomic_bool *stop;
    struct script scripts[PIPELINE_MAX_PEOPLE];
    size_t n_scripts;
    unsigned max_people;
    uint64_t people_dropped;
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

static int parse_script(struct synthetic *syn, uint32_t id, const char *text, size_t len,
                        struct errbuf *err)
{
    char buf[1024];
    if (syn->n_scripts >= PIPELINE_MAX_PEOPLE)
        return errbuf_set(err, -EINVAL, "synthetic: more than %d people", PIPELINE_MAX_PEOPLE);
    for (size_t i = 0; i < syn->n_scripts; i++)
        if (syn->scripts[i].id == id)
            return errbuf_set(err, -EINVAL, "synthetic: person %u twice", id);
    struct script *s = &syn->scripts[syn->n_scripts];
    s->id = id;
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
        char *at = strchr(tok, '@');
        if (at && (!star || at < star)) {
            *at = '\0';
            size_t plen = star ? (size_t)(star - at - 1) : strlen(at + 1);
            int pose = -1;
            for (int i = 0; i < POSE_COUNT; i++)
                if (strlen(pose_names[i]) == plen && strncmp(at + 1, pose_names[i], plen) == 0)
                    pose = i;
            if (pose < 0)
                return errbuf_set(err, -EINVAL,
                                  "synthetic: unknown pose in '%s@%.*s' (stand, "
                                  "still, floor)",
                                  tok, (int)plen, at + 1);
            e.pose = (enum synthetic_pose)pose;
        }
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
            for (unsigned i = 0; i < pipeline_model_n_classes(syn->model); i++)
                if (strcmp(tok, pipeline_model_class(syn->model, i)) == 0)
                    e.label = (int)i;
            if (e.label == -2)
                return errbuf_set(err, -EINVAL, "synthetic: '%s' is not a class of the model", tok);
        }
        s->entries[s->n_entries++] = e;
    }
    if (s->n_entries == 0)
        return errbuf_set(err, -EINVAL, "synthetic: empty script");
    syn->n_scripts++;
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
            int r = parse_script(s, 1, v, vlen, err);
            if (r < 0)
                return r;
            have_script = true;
        } else if (klen == 6 && strncmp(p, "person", 6) == 0) {
            char *colon = strchr(value, ':');
            unsigned long id = colon ? strtoul(value, &end, 10) : 0;
            if (!colon || end != colon || id < 1 || id > 1000000)
                return errbuf_set(err, -EINVAL,
                                  "synthetic: person must be ID:SCRIPT, ID 1..1000000");
            size_t skip = (size_t)(colon + 1 - value);
            int r = parse_script(s, (uint32_t)id, v + skip, vlen - skip, err);
            if (r < 0)
                return r;
            have_script = true;
        } else if (klen == 10 && strncmp(p, "max_people", 10) == 0) {
            if (!numeric || n < 1 || n > PIPELINE_MAX_PEOPLE)
                return errbuf_set(err, -EINVAL, "synthetic: max_people must be 1..%d",
                                  PIPELINE_MAX_PEOPLE);
            s->max_people = (unsigned)n;
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

static const struct entry *entry_at(const struct script *s, bool loop, uint64_t position)
{
    uint64_t total = 0;
    for (size_t i = 0; i < s->n_entries; i++)
        total += s->entries[i].count;
    if (loop)
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

/* One person's segment: its label's score 0.7 (or, out of view, the
 * "nobody" pattern), and a standing figure (COCO-17 order, x and y in
 * [0, 1]) that sways and waves a little from segment to segment, placed side
 * by side with the others for the dashboard to draw. */
static void person_fill(const struct synthetic *s, struct pipeline_person *p,
                        const struct script *sc, const struct entry *e, size_t index, unsigned n)
{
    static const float figure[PIPELINE_KEYPOINTS][2] = {
        {0.50f, 0.20f}, {0.52f, 0.18f}, {0.48f, 0.18f}, {0.54f, 0.19f}, {0.46f, 0.19f},
        {0.58f, 0.30f}, {0.42f, 0.30f}, {0.61f, 0.42f}, {0.39f, 0.42f}, {0.62f, 0.53f},
        {0.38f, 0.53f}, {0.55f, 0.55f}, {0.45f, 0.55f}, {0.56f, 0.70f}, {0.44f, 0.70f},
        {0.56f, 0.86f}, {0.44f, 0.86f},
    };
    /* Lying across the picture, head to the left, hips at the same x. */
    static const float lying[PIPELINE_KEYPOINTS][2] = {
        {0.22f, 0.82f}, {0.21f, 0.81f}, {0.21f, 0.83f}, {0.23f, 0.80f}, {0.23f, 0.84f},
        {0.32f, 0.80f}, {0.32f, 0.86f}, {0.40f, 0.79f}, {0.40f, 0.87f}, {0.46f, 0.79f},
        {0.46f, 0.87f}, {0.50f, 0.81f}, {0.50f, 0.85f}, {0.63f, 0.81f}, {0.63f, 0.85f},
        {0.76f, 0.81f}, {0.76f, 0.85f},
    };
    const float(*shape)[2] = e->pose == POSE_FLOOR ? lying : figure;
    bool moves = e->pose == POSE_STAND;
    bool in_view = e->label >= 0;
    *p = (struct pipeline_person){.id = sc->id,
                                  .in_view = in_view,
                                  .pose_score = in_view ? 0.9f - 0.01f * (float)index : 0,
                                  .first_seen = sc->first_seen};
    int top = in_view ? e->label : (int)(s->position % n);
    int second = (top + 1) % (int)n;
    for (unsigned i = 0; i < n; i++)
        p->scores[i] = 0.1f / (float)(n - 2);
    p->scores[top] = in_view ? 0.7f : 0.2f;
    p->scores[second] = in_view ? 0.2f : 0.7f - 0.1f;
    p->label = p->scores[top] >= p->scores[second] ? top : second;
    float dx = s->n_scripts > 1
                   ? ((float)index - (float)(s->n_scripts - 1) / 2) * (0.6f / (float)s->n_scripts)
                   : 0;
    float sway = moves ? 0.03f * sinf(0.5f * (float)s->position) : 0;
    p->box[0] = p->box[1] = 1;
    for (int k = 0; k < PIPELINE_KEYPOINTS; k++) {
        float wave = k == 9 && moves ? -0.08f * (1 + sinf(0.9f * (float)s->position)) : 0;
        float x = shape[k][0] + dx + sway * shape[k][1], y = shape[k][1] + wave;
        p->keypoints[k][0] = x;
        p->keypoints[k][1] = y;
        p->keypoints[k][2] = in_view ? 0.9f : 0.05f;
        p->box[0] = fminf(p->box[0], x);
        p->box[1] = fminf(p->box[1], y);
        p->box[2] = fmaxf(p->box[2], x);
        p->box[3] = fmaxf(p->box[3], y);
    }
}

/* The segment's frames of a person in view, as the real pipeline archives
 * every sampled frame: the segment's figure, each frame a little further on
 * (the archive keeps what it is given; nothing here is recognised). */
static void archive_frames(const struct synthetic *s, const struct pipeline_person *p, double wall)
{
    if (!s->archive)
        return;
    for (int f = 0; f < FRAMES_PER_SEGMENT; f++) {
        struct pose_archive_record rec = {.wall = wall - s->segment_ms / 1000.0 *
                                                             (FRAMES_PER_SEGMENT - 1 - f) /
                                                             FRAMES_PER_SEGMENT,
                                          .track = p->id};
        for (int k = 0; k < PIPELINE_KEYPOINTS; k++)
            rec.keypoints[k] = (struct pose_keypoint){.x = p->keypoints[k][0] + 0.002f * (float)f,
                                                      .y = p->keypoints[k][1],
                                                      .score = p->keypoints[k][2]};
        pose_archive_append(s->archive, &rec);
    }
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

    unsigned n = pipeline_model_n_classes(s->model);
    struct pipeline_result r = {.n_classes = n};
    double pts = (double)(s->opened_segments + 1) * s->segment_ms / 1000.0, wall = time_wall_s();
    unsigned live = 0;
    for (size_t i = 0; i < s->n_scripts; i++)
        live += s->scripts[i].live;
    for (size_t i = 0; i < s->n_scripts; i++) {
        struct script *sc = &s->scripts[i];
        const struct entry *e = entry_at(sc, s->loop, s->position);
        bool in_view = e->label >= 0;
        if (in_view && !sc->live && live >= s->max_people) {
            s->people_dropped++; /* the cap: nobody is pushed out for a newcomer */
            continue;
        }
        if (in_view) {
            if (!sc->live) {
                sc->live = true;
                live++;
                sc->first_seen = wall;
            }
            sc->last_seen_wall = wall;
            sc->last_seen_pts = pts;
        } else if (sc->live && pts - sc->last_seen_pts > UNSEEN_S + 1e-9) {
            sc->live = false;
            live--;
        }
        if (sc->live && r.n_people < PIPELINE_MAX_PEOPLE) {
            person_fill(s, &r.people[r.n_people], sc, e, i, n);
            if (in_view)
                archive_frames(s, &r.people[r.n_people], wall);
            r.n_people++;
        }
    }
    r.people_dropped = s->people_dropped;
    pipeline_summarise(&r);
    s->position++;
    s->opened_segments++;
    r.pts = pts;
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

/* The container of people.h: entry 0 is the stream (its position
 * in the script), the others the people now listed. */
static int synthetic_memory_save(void *impl, void **ret_data, size_t *ret_size)
{
    struct synthetic *s = impl;
    struct synthetic_memory stream = {.magic = MEMORY_MAGIC, .position = s->position};
    struct people_memory m = {.saved = time_wall_s(), .next_id = 1};
    m.entries[m.n++] = (struct people_memory_entry){.data = &stream, .size = sizeof(stream)};
    for (size_t i = 0; i < s->n_scripts; i++) {
        const struct script *sc = &s->scripts[i];
        if (sc->id >= m.next_id)
            m.next_id = sc->id + 1;
        if (sc->live)
            m.entries[m.n++] = (struct people_memory_entry){
                .id = sc->id, .first_seen = sc->first_seen, .last_seen = sc->last_seen_wall};
    }
    size_t size = people_memory_size(&m);
    uint8_t *buf = malloc(size);
    if (!buf)
        return -ENOMEM;
    people_memory_encode(&m, buf);
    *ret_data = buf;
    *ret_size = size;
    return 0;
}

static int synthetic_memory_restore(void *impl, const void *data, size_t size, struct errbuf *err)
{
    struct synthetic *s = impl;
    struct synthetic_memory stream;
    struct people_memory m;
    if (size == sizeof(stream)) { /* before people: the position alone */
        memcpy(&stream, data, sizeof(stream));
        if (stream.magic != MEMORY_MAGIC)
            return errbuf_set(err, -EBADMSG, "synthetic memory: bad magic");
        s->position = stream.position;
        return 0;
    }
    int r = people_memory_decode(data, size, &m, err);
    if (r < 0)
        return r;
    if (m.n < 1 || m.entries[0].id != 0 || m.entries[0].size != sizeof(stream))
        return errbuf_set(err, -EBADMSG, "synthetic memory: no stream entry");
    memcpy(&stream, m.entries[0].data, sizeof(stream));
    if (stream.magic != MEMORY_MAGIC)
        return errbuf_set(err, -EBADMSG, "synthetic memory: bad magic");
    s->position = stream.position;
    for (unsigned i = 1; i < m.n; i++) {
        double unseen = m.saved - m.entries[i].last_seen;
        for (size_t j = 0; j < s->n_scripts && unseen <= UNSEEN_S; j++) {
            struct script *sc = &s->scripts[j];
            if (sc->id != m.entries[i].id)
                continue;
            sc->live = true;
            sc->first_seen = m.entries[i].first_seen;
            sc->last_seen_wall = m.entries[i].last_seen;
            sc->last_seen_pts = -(unseen > 0 ? unseen : 0);
        }
    }
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
                            const struct pipeline_source *source, const atomic_bool *stop,
                            const struct pipeline_ops **ret_ops, void **ret_impl,
                            struct errbuf *err)
{
    struct synthetic *s = calloc(1, sizeof(*s));
    int r;
    if (!s)
        return -ENOMEM;
    s->model = model;
    s->stop = stop;
    s->archive = source ? source->archive : NULL;
    s->segment_ms = 200;
    s->loop = true;
    r = parse_url(s, url, err);
    if (r < 0)
        goto fail;
    if (!s->max_people)
        s->max_people = source && source->max_people ? source->max_people : 6;
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
