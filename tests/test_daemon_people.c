/* Unit tests of the daemon's people: the per-track memory container
 * (people/memory.c) and the tracks of a stream (people/people.c, as the
 * daemon's pipeline_people.c gives them to the pipeline) on a CRT
 * model with random weights made here — two people each with their own
 * memory on the stream's segment clock, a newcomer waiting for the next
 * boundary, the cap, memories restored by id with the ids continued, and
 * damaged containers refused without touching anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "crt.h"
#include "data.h"
#include "pipeline_internal.h"

static struct crt_model *model;

static int setup(void **state)
{
    struct crt_config cfg;
    struct errbuf err;
    crt_config_default(&cfg);
    cfg.n_classes = SMARTHOME_NUM_CLASSES;
    if (crt_model_new(&cfg, smarthome_classes, &model, &err) < 0)
        return -1;
    crt_model_init_random(model, 11);
    return 0;
}

static int teardown(void **state)
{
    model = crt_model_free(model);
    return 0;
}

/* A standing figure centred at cx, with its box. */
static struct pose_person figure(float cx, float score)
{
    struct pose_person p = {.score = score, .box = {cx - 0.1f, 0.2f, cx + 0.1f, 0.9f}};
    for (int k = 0; k < POSE_NUM_KEYPOINTS; k++)
        p.keypoints[k] = (struct pose_keypoint){cx + 0.08f * (float)((k % 3) - 1),
                                                0.2f + 0.7f * (float)k / POSE_NUM_KEYPOINTS, 0.9f};
    return p;
}

/* Feeds frames until a segment completes (at most a bound); the result. */
static void run_segment(struct people *pp, const struct pose_person *dets, int n, double *pts,
                        struct pipeline_result *ret)
{
    for (int i = 0; i < 1000; i++) {
        *pts += 0.1;
        if (pipeline_people_frame(pp, dets, n, *pts, ret) == 1)
            return;
    }
    fail_msg("no segment completed");
}

static const struct pipeline_person *person_of(const struct pipeline_result *r, uint32_t id)
{
    for (unsigned i = 0; i < r->n_people; i++)
        if (r->people[i].id == id)
            return &r->people[i];
    return NULL;
}

static void container_round_trip_and_damage(void **state)
{
    static const uint8_t a[] = {1, 2, 3}, b[] = {4, 5, 6, 7, 8};
    struct people_memory m = {.next_id = 9, .saved = 1000.5, .n = 2};
    m.entries[0] = (struct people_memory_entry){
        .id = 3, .first_seen = 900, .last_seen = 999, .box = {0, 0, 0.5f, 1}, .data = a, .size = 3};
    m.entries[1] = (struct people_memory_entry){.id = 7, .data = b, .size = 5};
    size_t size = people_memory_size(&m);
    assert_int_equal(size, PEOPLE_MEMORY_HEADER + 2 * PEOPLE_MEMORY_ENTRY + 8 + 4);
    uint8_t *buf = malloc(size);
    people_memory_encode(&m, buf);

    struct people_memory got;
    struct errbuf err;
    assert_int_equal(people_memory_decode(buf, size, &got, &err), 0);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.next_id, 9);
    assert_true(got.saved == 1000.5);
    assert_int_equal(got.entries[0].id, 3);
    assert_true(got.entries[0].last_seen == 999);
    assert_true(got.entries[0].box[2] == 0.5f);
    assert_memory_equal(got.entries[1].data, b, 5);

    /* Any flipped bit, a cut, another version: refused, with why. */
    for (size_t i = 0; i < size; i++) {
        buf[i] ^= 0x10;
        assert_int_equal(people_memory_decode(buf, size, &got, &err), -EBADMSG);
        buf[i] ^= 0x10;
    }
    errbuf_clear(&err);
    assert_int_equal(people_memory_decode(buf, size - 1, &got, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "checksum"));
    buf[4] = 2;
    errbuf_clear(&err);
    assert_int_equal(people_memory_decode(buf, size, &got, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "version 2"));
    assert_int_equal(people_memory_decode(buf, 10, &got, &err), -EBADMSG);
    free(buf);
}

static void two_people_on_the_stream_clock(void **state)
{
    struct people *pp;
    struct errbuf err;
    struct pipeline_result r;
    double pts = 0;
    assert_int_equal(people_new(model, 6, &pp, &err), 0);
    struct pose_person both[2] = {figure(0.25f, 0.9f), figure(0.75f, 0.8f)};

    /* One person: confirmed, then pushing from the next boundary. */
    run_segment(pp, both, 1, &pts, &r);
    run_segment(pp, both, 1, &pts, &r);
    assert_int_equal(r.n_people, 1);
    uint32_t first = r.people[0].id;
    assert_true(r.people[0].in_view);
    assert_int_equal(r.summary, 0);
    assert_true(r.person);
    /* A newcomer mid-segment waits for the boundary: one segment without it. */
    int frames = 0;
    while (pipeline_people_frame(pp, both, 1, pts += 0.1, &r) == 0)
        frames++;
    for (int i = 0; i < 5; i++)
        assert_int_equal(pipeline_people_frame(pp, both, 2, pts += 0.1, &r), 0);
    run_segment(pp, both, 2, &pts, &r);
    assert_int_equal(r.n_people, 1);
    run_segment(pp, both, 2, &pts, &r);
    assert_int_equal(r.n_people, 2);
    const struct pipeline_person *a = person_of(&r, first);
    assert_non_null(a);
    const struct pipeline_person *b = &r.people[a == &r.people[0] ? 1 : 0];
    assert_true(b->id != first);
    assert_true(b->box[0] > a->box[0]);
    /* Each has its own scores (its own memory and features). */
    float sum = 0, diff = 0;
    for (unsigned c = 0; c < r.n_classes; c++) {
        sum += b->scores[c];
        diff += fabsf(a->scores[c] - b->scores[c]);
    }
    assert_true(fabsf(sum - 1) < 1e-3f);
    assert_true(diff > 0);
    /* The summary is the more confident of the two. */
    const struct pipeline_person *s = &r.people[r.summary];
    assert_true(s->scores[s->label] >= a->scores[a->label] - 1e-6f);
    assert_true(s->scores[s->label] >= b->scores[b->label] - 1e-6f);
    assert_int_equal(r.label, s->label);
    people_free(pp);
}

static void the_cap_drops_the_weakest(void **state)
{
    struct people *pp;
    struct errbuf err;
    struct pipeline_result r;
    double pts = 0;
    assert_int_equal(people_new(model, 1, &pp, &err), 0);
    struct pose_person both[2] = {figure(0.25f, 0.9f), figure(0.75f, 0.5f)};
    run_segment(pp, both, 2, &pts, &r);
    run_segment(pp, both, 2, &pts, &r);
    assert_int_equal(r.n_people, 1);
    assert_true(r.people[0].box[0] < 0.5f);
    assert_true(r.people_dropped > 0);
    people_free(pp);
}

static void memories_come_back_by_id(void **state)
{
    struct people *pp;
    struct errbuf err;
    struct pipeline_result r;
    double pts = 0;
    struct pose_person both[2] = {figure(0.25f, 0.9f), figure(0.75f, 0.8f)};
    assert_int_equal(people_new(model, 6, &pp, &err), 0);
    for (int i = 0; i < 3; i++)
        run_segment(pp, both, 2, &pts, &r);
    assert_int_equal(r.n_people, 2);
    struct pipeline_result before = r;
    void *data;
    size_t size;
    assert_int_equal(people_memory_save(pp, time_wall_s(), &data, &size), 0);
    people_free(pp);

    /* A damaged container is refused and changes nothing: fresh ids. */
    assert_int_equal(people_new(model, 6, &pp, &err), 0);
    ((uint8_t *)data)[size / 2] ^= 1;
    errbuf_clear(&err);
    assert_int_equal(people_memory_restore(pp, time_wall_s(), data, size, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "people memory"));
    ((uint8_t *)data)[size / 2] ^= 1;
    pts = 0;
    run_segment(pp, both, 2, &pts, &r);
    run_segment(pp, both, 2, &pts, &r);
    assert_int_equal(r.n_people, 2);
    assert_true(r.people[0].id <= 2 && r.people[1].id <= 2);
    people_free(pp);

    /* Restored: the same ids, the same first_seen. */
    assert_int_equal(people_new(model, 6, &pp, &err), 0);
    assert_int_equal(people_memory_restore(pp, time_wall_s(), data, size, &err), 0);
    pts = 0;
    run_segment(pp, both, 2, &pts, &r);
    run_segment(pp, both, 2, &pts, &r);
    assert_int_equal(r.n_people, 2);
    for (unsigned i = 0; i < 2; i++) {
        const struct pipeline_person *was = person_of(&before, r.people[i].id);
        assert_non_null(was);
        assert_true(was->first_seen == r.people[i].first_seen);
    }
    people_free(pp);

    /* One of them last seen longer ago than max_unseen_s before the save:
     * not restored; the newcomer's id is above every id given before. */
    struct people_memory m;
    assert_int_equal(people_memory_decode(data, size, &m, &err), 0);
    uint32_t old_id = m.entries[1].id, max_id = m.entries[0].id > old_id ? m.entries[0].id : old_id;
    m.entries[1].last_seen = m.saved - 10;
    uint8_t *edited = malloc(people_memory_size(&m));
    people_memory_encode(&m, edited);
    assert_int_equal(people_new(model, 6, &pp, &err), 0);
    assert_int_equal(people_memory_restore(pp, time_wall_s(), edited, people_memory_size(&m), &err),
                     0);
    pts = 0;
    run_segment(pp, both, 2, &pts, &r);
    run_segment(pp, both, 2, &pts, &r);
    assert_int_equal(r.n_people, 2);
    assert_non_null(person_of(&r, m.entries[0].id));
    assert_null(person_of(&r, old_id));
    for (unsigned i = 0; i < 2; i++)
        if (r.people[i].id != m.entries[0].id)
            assert_true(r.people[i].id > max_id);
    people_free(pp);
    free(edited);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(container_round_trip_and_damage),
        cmocka_unit_test(two_people_on_the_stream_clock),
        cmocka_unit_test(the_cap_drops_the_weakest),
        cmocka_unit_test(memories_come_back_by_id),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
