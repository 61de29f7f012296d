/* synth_other: motion outside the activities' repertoire, for the class
 * "Other" of the open task (crt synth --task open): what a person may do in
 * view of a home camera that is none of the ten activities — random joint
 * trajectories, jumps, arm waving, dance-like stepping, exercise (squats,
 * toe touches, star jumps) and turning on the spot. A model that has seen
 * them can say "unknown" instead of forcing a known label on them. */
#include "synth_internal.h"

#include <string.h>

enum other_style {
    OTHER_RANDOM,   /* every joint on its own slow random trajectory */
    OTHER_JUMPS,    /* hops in place or forward */
    OTHER_WAVING,   /* one or both arms up, waving */
    OTHER_DANCE,    /* stepping side to side, hips and arms swaying, turns */
    OTHER_EXERCISE, /* squats, toe touches, star jumps */
    OTHER_SPIN,     /* turning on the spot, arms out */
    OTHER_STYLES,
};

/* A smooth random signal: two sines of random rate and phase. */
static double wave(const struct synth_other *o, int k, double t)
{
    return sin(2 * M_PI * o->rate[k] * t + o->phase[k]) +
           0.5 * sin(2 * M_PI * o->rate[k] * 2.7 * t + 1.3 * o->phase[k]);
}

void synth_other_random(struct synth_other *o, double seconds, const struct camera *cam,
                        struct rng *rng)
{
    memset(o, 0, sizeof(*o));
    o->style = rng_below(rng, OTHER_STYLES);
    o->seconds = seconds;
    o->tempo = rng_range(rng, 0.6, 2.2); /* Hz */
    o->amount = rng_range(rng, 0.5, 1.0);
    o->hand = rng_below(rng, 3); /* left, right, both */
    o->yaw = rng_range(rng, -M_PI, M_PI);
    o->turn = rng_range(rng, -1.5, 1.5); /* rad/s, spins and dances */
    for (int k = 0; k < SYNTH_OTHER_WAVES; k++) {
        o->rate[k] = rng_range(rng, 0.2, 1.6);
        o->phase[k] = rng_range(rng, 0, 2 * M_PI);
        o->level[k] = rng_range(rng, -1, 1);
    }
    double depth = rng_range(rng, 2.5, 4.5);
    synth_camera_floor_point(cam, rng_range(rng, 0.35, 0.65), depth, &o->x, &o->z);
    synth_camera_floor_point(cam, rng_range(rng, 0.3, 0.7), rng_range(rng, 2.5, 4.5), &o->end_x,
                             &o->end_z);
}

void synth_other_pose(struct posture *p, const struct body *b, const struct synth_other *o,
                      double t)
{
    double a = o->amount, ph = 2 * M_PI * o->tempo * t;
    synth_posture_stand(p, b);
    p->x = o->x;
    p->z = o->z;
    p->yaw = o->yaw;

    switch (o->style) {
    case OTHER_RANDOM:
        for (int s = 0; s < 2; s++) {
            p->shoulder_flex[s] = (60 + 70 * a * wave(o, 0 + s, t)) * DEG;
            p->shoulder_abduct[s] = (50 + 50 * a * wave(o, 2 + s, t)) * DEG;
            p->elbow[s] = (60 + 50 * wave(o, 4 + s, t)) * DEG;
            p->hip[s] = (20 + 25 * a * wave(o, 6 + s, t)) * DEG;
            p->knee[s] = (25 + 25 * a * (1 + wave(o, 6 + s, t))) * DEG;
        }
        p->lean = (15 + 25 * a * wave(o, 8, t)) * DEG;
        p->body_roll = 10 * a * wave(o, 9, t) * DEG;
        p->head_yaw = 30 * wave(o, 10, t) * DEG;
        p->pelvis -= 0.08 * b->height * a * (1 + wave(o, 11, t)) / 2;
        p->yaw += 0.8 * wave(o, 10, t);
        break;
    case OTHER_JUMPS: {
        /* Crouch, push off, fly, land: one hop per cycle. */
        double c = fmod(o->tempo * 0.6 * t, 1.0);
        double air = c > 0.35 && c < 0.75 ? sin(M_PI * (c - 0.35) / 0.4) : 0;
        double crouch = c < 0.35   ? sin(M_PI * c / 0.35)
                        : c > 0.75 ? sin(M_PI * (c - 0.75) / 0.25)
                                   : 0;
        p->pelvis += (0.12 + 0.22 * a) * air - 0.12 * b->height * crouch;
        for (int s = 0; s < 2; s++) {
            p->hip[s] = 45 * DEG * crouch + 10 * DEG * air;
            p->knee[s] = 80 * DEG * crouch + 20 * DEG * air;
            p->shoulder_flex[s] = lerp(-30 * DEG, 150 * DEG, air);
            p->elbow[s] = 20 * DEG;
        }
        p->lean = 25 * DEG * crouch;
        if (o->hand == 2) { /* forward hops across the room */
            double u = t / o->seconds;
            p->x = lerp(o->x, o->end_x, u);
            p->z = lerp(o->z, o->end_z, u);
            p->yaw = atan2(o->end_x - o->x, o->end_z - o->z);
        }
        break;
    }
    case OTHER_WAVING:
        for (int s = 0; s < 2; s++) {
            if (o->hand != 2 && o->hand != s)
                continue;
            p->shoulder_abduct[s] = (130 + 35 * a * sin(ph + s * M_PI)) * DEG;
            p->shoulder_flex[s] = 20 * DEG;
            p->elbow[s] = (25 + 30 * sin(ph + 0.5 + s * M_PI)) * DEG;
        }
        p->body_roll = 5 * a * sin(ph) * DEG;
        p->head_pitch = -10 * DEG;
        break;
    case OTHER_DANCE: {
        double step = sin(ph / 2);
        struct vec3 side = rotate_y(v3(1, 0, 0), o->yaw);
        p->x = o->x + 0.35 * a * step * side.x;
        p->z = o->z + 0.35 * a * step * side.z;
        p->yaw = o->yaw + o->turn * 0.5 * t;
        p->pelvis -= 0.05 * b->height * fabs(sin(ph));
        p->body_roll = 12 * a * sin(ph / 2) * DEG;
        for (int s = 0; s < 2; s++) {
            double sgn = s ? -1 : 1;
            p->hip[s] = (15 + 20 * sgn * sin(ph)) * DEG;
            p->knee[s] = (20 + 20 * fabs(sin(ph + s * M_PI / 2))) * DEG;
            p->shoulder_abduct[s] = (70 + 50 * a * sin(ph + s * M_PI)) * DEG;
            p->shoulder_flex[s] = (40 + 40 * wave(o, s, t)) * DEG;
            p->elbow[s] = (70 + 40 * sin(ph + 1 + s)) * DEG;
        }
        p->head_yaw = 20 * sin(ph / 2) * DEG;
        break;
    }
    case OTHER_EXERCISE: {
        double c = 0.5 - 0.5 * cos(ph * 0.6); /* 0 up, 1 down */
        if (o->hand == 0) {                   /* squats, arms forward */
            p->pelvis -= 0.28 * b->height * c;
            for (int s = 0; s < 2; s++) {
                p->hip[s] = 100 * DEG * c;
                p->knee[s] = 120 * DEG * c;
                p->shoulder_flex[s] = 90 * DEG * c;
                p->elbow[s] = 5 * DEG;
            }
            p->lean = 30 * DEG * c;
        } else if (o->hand == 1) { /* toe touches */
            p->lean = 95 * DEG * c;
            for (int s = 0; s < 2; s++) {
                p->shoulder_flex[s] = 30 * DEG * c;
                p->elbow[s] = 5 * DEG;
            }
        } else { /* star jumps */
            double air = sin(M_PI * c);
            p->pelvis += 0.10 * air;
            for (int s = 0; s < 2; s++) {
                p->shoulder_abduct[s] = 160 * DEG * c;
                p->elbow[s] = 10 * DEG;
            }
            p->body_roll = 0;
            p->hip[0] = p->hip[1] = 5 * DEG * air;
        }
        break;
    }
    default: /* OTHER_SPIN */
        p->yaw = o->yaw + (o->turn >= 0 ? 1 : -1) * (1.5 + fabs(o->turn)) * t;
        for (int s = 0; s < 2; s++) {
            p->shoulder_abduct[s] = (85 + 10 * sin(ph)) * DEG;
            p->elbow[s] = 10 * DEG;
        }
        p->head_pitch = -5 * DEG;
        break;
    }
}
