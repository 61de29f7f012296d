/* pipeline_people: the people of a stream (people.h: tracks, each with its
 * own features and memory on the stream's segment clock) as the pipeline's
 * result — each track's segment as a pipeline_person, and the stream's
 * summary: the most confident person in view. */
#include <string.h>

#include "data.h"
#include "pipeline_internal.h"

_Static_assert(PIPELINE_MAX_PEOPLE == PEOPLE_MAX, "one cap on people");
_Static_assert(PIPELINE_MAX_CLASSES == PEOPLE_MAX_CLASSES, "one cap on classes");
_Static_assert(PIPELINE_KEYPOINTS == POSE_NUM_KEYPOINTS, "COCO-17");

static float best_score(const struct pipeline_person *p, unsigned n_classes)
{
    return n_classes ? p->scores[p->label] : 0;
}

void pipeline_summarise(struct pipeline_result *r)
{
    r->summary = -1;
    for (unsigned i = 0; i < r->n_people; i++) {
        const struct pipeline_person *p = &r->people[i];
        if (p->in_view && (r->summary < 0 || best_score(p, r->n_classes) >
                                                 best_score(&r->people[r->summary], r->n_classes)))
            r->summary = (int)i;
    }
    r->person = r->summary >= 0;
    if (r->summary >= 0) {
        const struct pipeline_person *p = &r->people[r->summary];
        r->label = p->label;
        memcpy(r->scores, p->scores, sizeof(r->scores));
        memcpy(r->keypoints, p->keypoints, sizeof(r->keypoints));
        return;
    }
    /* Nobody: no class is preferred. */
    r->label = 0;
    for (unsigned i = 0; i < r->n_classes; i++)
        r->scores[i] = 1.0f / (float)r->n_classes;
    memset(r->keypoints, 0, sizeof(r->keypoints));
}

int pipeline_people_frame(struct people *pp, const struct pose_person *dets, int n_dets, double pts,
                          struct pipeline_result *ret)
{
    struct people_result res;
    if (people_frame(pp, dets, n_dets, pts, time_wall_s(), &res) != 1)
        return 0;
    ret->n_classes = res.n_classes;
    ret->n_people = res.n;
    ret->people_dropped = res.dropped;
    for (unsigned i = 0; i < res.n; i++) {
        const struct people_person *q = &res.people[i];
        struct pipeline_person *p = &ret->people[i];
        *p = (struct pipeline_person){.id = q->id,
                                      .in_view = 2 * q->seen_frames >= res.segment_frames,
                                      .pose_score = q->pose_score,
                                      .label = q->label,
                                      .first_seen = q->first_seen};
        memcpy(p->box, q->box, sizeof(p->box));
        for (int k = 0; k < PIPELINE_KEYPOINTS; k++) {
            p->keypoints[k][0] = q->keypoints[k].x;
            p->keypoints[k][1] = q->keypoints[k].y;
            p->keypoints[k][2] = q->keypoints[k].score;
        }
        memcpy(p->scores, q->probs, res.n_classes * sizeof(p->scores[0]));
    }
    pipeline_summarise(ret);
    return 1;
}

void pipeline_people_archive(const struct people *pp, struct pose_archive *archive, double wall)
{
    uint32_t ids[PEOPLE_MAX];
    struct pose_keypoint kp[PEOPLE_MAX][POSE_NUM_KEYPOINTS];
    if (!archive)
        return;
    unsigned n = people_frame_seen(pp, ids, kp);
    for (unsigned i = 0; i < n; i++) {
        struct pose_archive_record rec = {.wall = wall, .track = ids[i]};
        memcpy(rec.keypoints, kp[i], sizeof(rec.keypoints));
        pose_archive_append(archive, &rec);
    }
}
