/* mocap_view: a motion-capture clip as a home camera and a pose estimator
 * see it — a random camera placed around the clip's floor track, high on a
 * wall and tilted down, the COCO-17 points resampled to the model's frame
 * rate, projected, and given synth's estimator defects (jitter, far-side
 * scores, wild misses, joints out of the frame, stretches with nobody). */
#include "synth_internal.h"

#include <math.h>
#include <string.h>

static struct vec3 from3(const double a[3])
{
    return v3(a[0], a[1], a[2]);
}

void mocap_view_seed(struct rng *rng, uint64_t seed, const char *clip_key, int camera)
{
    uint64_t key = fnv1a64(FNV1A64_INIT, clip_key, strlen(clip_key));
    rng_seed(rng, (seed * 0x9e3779b97f4a7c15ull ^ key) + (uint64_t)camera);
}

/* The pelvis's floor track: the centre of its bounding box and the farthest
 * it goes from there (metres). */
static void floor_track(const struct mocap_clip *clip, const struct mocap_coco_map *map,
                        double *ret_x, double *ret_z, double *ret_radius)
{
    int step = clip->frames > 400 ? clip->frames / 200 : 1;
    double lo_x = INFINITY, hi_x = -INFINITY, lo_z = INFINITY, hi_z = -INFINITY;
    for (int f = 0; f < clip->frames; f += step) {
        const float *l = mocap_clip_position(clip, f, map->joint[MOCAP_LEFT_HIP]);
        const float *r = mocap_clip_position(clip, f, map->joint[MOCAP_RIGHT_HIP]);
        double x = 0.5 * (l[0] + r[0]), z = 0.5 * (l[2] + r[2]);
        lo_x = fmin(lo_x, x), hi_x = fmax(hi_x, x);
        lo_z = fmin(lo_z, z), hi_z = fmax(hi_z, z);
    }
    *ret_x = 0.5 * (lo_x + hi_x);
    *ret_z = 0.5 * (lo_z + hi_z);
    *ret_radius = 0.5 * hypot(hi_x - lo_x, hi_z - lo_z);
}

void mocap_camera_random(struct mocap_camera *ret_cam, const struct mocap_clip *clip,
                         const struct mocap_coco_map *map, struct rng *rng)
{
    double cx, cz, radius;
    floor_track(clip, map, &cx, &cz, &radius);

    /* Every camera is at least 1.5 m (on the floor) from the whole track, so
     * the person never walks under it; up to 4.5 m more. Aimed at a point
     * near the track's centre, 0.5-1.2 m up, so the person is off centre and
     * a near camera cuts off feet or head as Smarthome's do. */
    double azimuth = rng_range(rng, -M_PI, M_PI);
    double distance = radius + rng_range(rng, MOCAP_CAMERA_MIN_GAP, MOCAP_CAMERA_MAX_GAP);
    double height = rng_range(rng, MOCAP_CAMERA_MIN_HEIGHT, MOCAP_CAMERA_MAX_HEIGHT);
    double hfov = rng_range(rng, MOCAP_CAMERA_MIN_HFOV, MOCAP_CAMERA_MAX_HFOV);
    double aim_x = cx + rng_range(rng, -0.6, 0.6), aim_z = cz + rng_range(rng, -0.6, 0.6);
    double aim_y = rng_range(rng, 0.5, 1.2);

    *ret_cam = (struct mocap_camera){
        .position = {cx + distance * sin(azimuth), height, cz + distance * cos(azimuth)},
        .target = {aim_x, aim_y, aim_z},
        .hfov = hfov,
    };
}

int mocap_view_render(struct pose_sequence *seq, const struct mocap_clip *clip,
                      const struct mocap_coco_map *map, const struct mocap_camera *cam,
                      double noise, enum synth_noise_model noise_model, struct rng *rng,
                      struct errbuf *err)
{
    int frames = mocap_resampled_frames(clip, seq->fps);
    if (seq->frames != frames)
        return errbuf_set(err, -EINVAL, "mocap view: the sequence has %d frames, the clip gives %d",
                          seq->frames, frames);
    if (!(noise >= 0 && noise <= 4))
        return errbuf_set(err, -EINVAL, "mocap view: noise %g is outside 0..4", noise);
    if (!(cam->hfov >= 10 && cam->hfov <= 170))
        return errbuf_set(err, -EINVAL, "mocap view: field of view %g degrees is outside 10..170",
                          cam->hfov);

    struct camera c;
    synth_camera_aim(&c, from3(cam->position), from3(cam->target), cam->hfov * DEG);
    struct synth_options opts;
    synth_options_default(&opts);
    opts.noise = noise;
    opts.noise_model = noise_model;
    struct estimator est;
    synth_estimator_for(&est, &opts, rng);
    int gap_start, gap_len;
    synth_gap_for(&gap_start, &gap_len, frames, &opts, rng);

    for (int f = 0; f < frames; f++) {
        struct mocap_coco_pose pose;
        struct vec3 joints[POSE_NUM_KEYPOINTS];
        mocap_coco_world(clip, map, f / seq->fps, &pose);
        for (int j = 0; j < POSE_NUM_KEYPOINTS; j++)
            joints[j] = from3(pose.points[j]);
        bool nobody = f >= gap_start && f < gap_start + gap_len;
        synth_observe_points(seq->keypoints[f], joints, from3(pose.pelvis), from3(pose.left),
                             from3(pose.front), &c, &est, nobody, rng);
    }
    return 0;
}
