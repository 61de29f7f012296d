/* synth_home: a home that the activities task has never seen, for measuring
 * what fine-tuning on a home's own labels buys (`crt bench finetune`).
 *
 * The activities task films every clip through a new wall camera 1.7-2.6 m
 * up and 3.2-5.5 m away, 60-80 degrees wide, and a new person. A home has one
 * camera, fixed: here high in a corner of a small room (2.8-3.2 m, people
 * 1.2-2.8 m from it along the floor), looking steeply down through a wide
 * lens (95-110 degrees), and the same three people every day. Its
 * repertoire has Feed.Cat, a motion none of the ten base activities has. */
#include "synth_internal.h"

void synth_home_view(struct camera *cam, struct body *body, int home, struct rng *rng)
{
    /* The home's own numbers, apart from the clip's: camera, then people. */
    struct rng h;
    rng_seed(&h, 0x686f6d65ull * 0x9e3779b97f4a7c15ull + (uint64_t)home);
    double azimuth = rng_range(&h, -M_PI, M_PI);
    double height = rng_range(&h, 2.8, 3.2);
    double back = rng_range(&h, 0.3, 0.6); /* from the wall's corner to the lens */
    double hfov = rng_range(&h, 95, 110) * DEG;
    double reach = rng_range(&h, 1.8, 2.2); /* where the lens points, along the floor */
    struct vec3 position = v3(back * sin(azimuth), height, back * cos(azimuth));
    struct vec3 target = v3(position.x - reach * sin(azimuth), rng_range(&h, 0.4, 0.7),
                            position.z - reach * cos(azimuth));
    synth_camera_aim(cam, position, target, hfov);
    cam->floor_near = 1.2;
    cam->floor_far = 2.8;

    struct body family[3];
    for (int i = 0; i < 3; i++)
        synth_body_random(&family[i], &h);
    *body = family[rng_below(rng, 3)];
}

void synth_animate_feed(struct posture *p, const struct body *b, int hand, double t, double seconds,
                        double phase)
{
    /* Down over the first third, pour for the middle, up over the last. */
    double u = t / seconds;
    double down = smoothstep(0.1, 0.35, u) * (1 - smoothstep(0.7, 0.92, u));
    synth_posture_stand(p, b);
    p->lean = lerp(p->lean, 72 * DEG, down);
    p->pelvis -= 0.06 * b->height * down;
    for (int s = 0; s < 2; s++) {
        p->hip[s] = lerp(0, 12 * DEG, down);
        p->knee[s] = lerp(p->knee[s], 35 * DEG, down);
    }
    /* The pouring arm reaches toward the floor in front of the feet; the
     * other rests on a knee. Arm angles are from the torso. */
    double pour = 6 * DEG * sin(2 * M_PI * 1.5 * t + phase) * down;
    p->shoulder_flex[hand] = lerp(p->shoulder_flex[hand], -40 * DEG + pour, down);
    p->elbow[hand] = lerp(p->elbow[hand], 15 * DEG, down);
    p->shoulder_flex[1 - hand] = lerp(p->shoulder_flex[1 - hand], -55 * DEG, down);
    p->elbow[1 - hand] = lerp(p->elbow[1 - hand], 40 * DEG, down);
    p->head_pitch = lerp(p->head_pitch, 25 * DEG, down);
}
