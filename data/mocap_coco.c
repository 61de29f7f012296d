/* mocap_coco: the COCO-17 points of a motion-capture skeleton at any time of
 * its clip — shoulders, elbows, wrists, hips, knees and ankles from the
 * joints that sit there under each naming (ASF/AMC as CMU and HDM05 write
 * it, CMU's two BVH conversions), the face from the head's position and
 * orientation (docs/MOCAP.md), positions interpolated between captured
 * frames for a new frame rate. */
#include "synth_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The COCO keypoint each body source becomes (the head's two make the face). */
static const int source_keypoint[MOCAP_HEAD_BASE] = {
    LEFT_HIP,      LEFT_HIP + 1,      LEFT_KNEE,  LEFT_KNEE + 1,  LEFT_ANKLE, LEFT_ANKLE + 1,
    LEFT_SHOULDER, LEFT_SHOULDER + 1, LEFT_ELBOW, LEFT_ELBOW + 1, LEFT_WRIST, LEFT_WRIST + 1,
};

/* A naming of skeleton joints. ASF/AMC positions are a bone's far end, so a
 * joint is named by the bone that ends there; BVH positions are a joint's
 * own origin. */
static const struct skeleton {
    const char *name;
    const char *joint[MOCAP_COCO_SOURCES];
} skeletons[] = {
    {"ASF/AMC (CMU, HDM05)",
     {"lhipjoint", "rhipjoint", "lfemur", "rfemur", "ltibia", "rtibia", "lclavicle", "rclavicle",
      "lhumerus", "rhumerus", "lradius", "rradius", "upperneck", "head"}},
    {"BVH, CMU's MotionBuilder conversion (cgspeed)",
     {"LeftUpLeg", "RightUpLeg", "LeftLeg", "RightLeg", "LeftFoot", "RightFoot", "LeftArm",
      "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand", "Head", "Head_end"}},
    {"BVH, CMU's 3ds Max conversion (cgspeed)",
     {"LeftHip", "RightHip", "LeftKnee", "RightKnee", "LeftAnkle", "RightAnkle", "LeftShoulder",
      "RightShoulder", "LeftElbow", "RightElbow", "LeftWrist", "RightWrist", "Head", "Head_end"}},
};

static struct vec3 position(const struct mocap_clip *clip, int frame, int joint)
{
    const float *p = mocap_clip_position(clip, frame, joint);
    return v3(p[0], p[1], p[2]);
}

static double distance(struct vec3 a, struct vec3 b)
{
    struct vec3 d = v3_sub(a, b);
    return sqrt(v3_dot(d, d));
}

int mocap_coco_map_find(const struct mocap_clip *clip, struct mocap_coco_map *ret_map,
                        struct errbuf *err)
{
    int best = 0, best_found = -1;
    for (size_t s = 0; s < ARRAY_SIZE(skeletons); s++) {
        struct mocap_coco_map map = {.skeleton = skeletons[s].name};
        int found = 0;
        for (int k = 0; k < MOCAP_COCO_SOURCES; k++) {
            map.joint[k] = mocap_joint_find(clip, skeletons[s].joint[k]);
            found += map.joint[k] >= 0;
        }
        if (found > best_found) {
            best = (int)s;
            best_found = found;
        }
        if (found < MOCAP_COCO_SOURCES || clip->frames < 1)
            continue;
        /* Standing height from the rigid bones of frame 0 and the trunk:
         * ankle to knee to hip, mid-hip to the crown, 5 cm under the ankle. */
        struct vec3 mid_hip = v3_scale(v3_add(position(clip, 0, map.joint[MOCAP_LEFT_HIP]),
                                              position(clip, 0, map.joint[MOCAP_RIGHT_HIP])),
                                       0.5);
        double leg = 0;
        for (int side = 0; side < 2; side++)
            leg += 0.5 * (distance(position(clip, 0, map.joint[MOCAP_LEFT_HIP + side]),
                                   position(clip, 0, map.joint[MOCAP_LEFT_KNEE + side])) +
                          distance(position(clip, 0, map.joint[MOCAP_LEFT_KNEE + side]),
                                   position(clip, 0, map.joint[MOCAP_LEFT_ANKLE + side])));
        double trunk = distance(mid_hip, position(clip, 0, map.joint[MOCAP_HEAD_BASE])) +
                       distance(position(clip, 0, map.joint[MOCAP_HEAD_BASE]),
                                position(clip, 0, map.joint[MOCAP_HEAD_TOP]));
        map.height = fmin(2.3, fmax(1.0, leg + trunk + 0.05));
        *ret_map = map;
        return 0;
    }
    if (clip->frames < 1)
        return errbuf_set(err, -EINVAL, "the clip has no frames");
    char missing[160] = "";
    for (int k = 0; k < MOCAP_COCO_SOURCES; k++)
        if (mocap_joint_find(clip, skeletons[best].joint[k]) < 0 &&
            strlen(missing) + strlen(skeletons[best].joint[k]) + 3 < sizeof(missing)) {
            strcat(missing, missing[0] ? ", " : "");
            strcat(missing, skeletons[best].joint[k]);
        }
    return errbuf_set(err, -ENOENT,
                      "no known joint naming fits the skeleton; closest: %s, lacking %s",
                      skeletons[best].name, missing);
}

int mocap_resampled_frames(const struct mocap_clip *clip, double fps)
{
    if (clip->frames < 1 || !(fps > 0) || !(clip->frame_time > 0))
        return 0;
    double n = floor(clip->frames * clip->frame_time * fps + 1e-6);
    return n < 1 ? 1 : n > MOCAP_MAX_FRAMES ? MOCAP_MAX_FRAMES : (int)n;
}

/* A joint at a time in seconds, linear between the captured frames around it. */
static struct vec3 position_at(const struct mocap_clip *clip, int joint, double seconds)
{
    double at = seconds / clip->frame_time;
    if (!(at > 0))
        return position(clip, 0, joint);
    if (at >= clip->frames - 1)
        return position(clip, clip->frames - 1, joint);
    int f = (int)at;
    double u = at - f;
    struct vec3 a = position(clip, f, joint), b = position(clip, f + 1, joint);
    return v3_add(a, v3_scale(v3_sub(b, a), u));
}

/* a made unit, or fallback when a is (nearly) zero. */
static struct vec3 unit_or(struct vec3 a, struct vec3 fallback)
{
    return v3_dot(a, a) > 1e-12 ? v3_normalize(a) : fallback;
}

/* a with its part along the unit axis removed, made unit (or fallback). */
static struct vec3 orthogonal(struct vec3 a, struct vec3 axis, struct vec3 fallback)
{
    return unit_or(v3_sub(a, v3_scale(axis, v3_dot(a, axis))), fallback);
}

static void put3(double out[3], struct vec3 a)
{
    out[0] = a.x;
    out[1] = a.y;
    out[2] = a.z;
}

void mocap_coco_world(const struct mocap_clip *clip, const struct mocap_coco_map *map,
                      double seconds, struct mocap_coco_pose *ret_pose)
{
    struct vec3 src[MOCAP_COCO_SOURCES], out[POSE_NUM_KEYPOINTS];
    for (int k = 0; k < MOCAP_COCO_SOURCES; k++)
        src[k] = position_at(clip, map->joint[k], seconds);
    for (int k = 0; k < MOCAP_HEAD_BASE; k++)
        out[source_keypoint[k]] = src[k];

    /* The head's frame: up along the neck-to-crown line; left along the
     * shoulder line, made square to up; forward = left x up (Y up, right
     * handed, as CMU and HDM05 are). The head's own turn about the neck is
     * not in the joint positions, so the face looks where the shoulders do,
     * nodding and tilting with the head. The centre is the head base (the
     * skull on the neck, at the ears' height; CMU's head bone from there to
     * the crown is 9-10 cm), and the face offsets are synth's, in
     * fractions of the height: eyes 8 cm and nose 12 cm under the crown. */
    struct vec3 world_up = v3(0, 1, 0);
    struct vec3 up = unit_or(v3_sub(src[MOCAP_HEAD_TOP], src[MOCAP_HEAD_BASE]), world_up);
    struct vec3 left =
        orthogonal(v3_sub(src[MOCAP_LEFT_SHOULDER], src[MOCAP_RIGHT_SHOULDER]), up,
                   orthogonal(v3_sub(src[MOCAP_LEFT_HIP], src[MOCAP_RIGHT_HIP]), up, v3(1, 0, 0)));
    struct vec3 fwd = v3_cross(left, up);
    synth_face(out, src[MOCAP_HEAD_BASE], fwd, left, map->height);

    /* The body's centre and horizontal facing, for the estimator's scores. */
    struct vec3 pelvis = v3_scale(v3_add(src[MOCAP_LEFT_HIP], src[MOCAP_RIGHT_HIP]), 0.5);
    struct vec3 hips = v3_sub(src[MOCAP_LEFT_HIP], src[MOCAP_RIGHT_HIP]);
    struct vec3 shoulders = v3_sub(src[MOCAP_LEFT_SHOULDER], src[MOCAP_RIGHT_SHOULDER]);
    struct vec3 body_left = orthogonal(v3_add(hips, shoulders), world_up, v3(1, 0, 0));
    struct vec3 body_front = v3_cross(body_left, world_up);

    for (int j = 0; j < POSE_NUM_KEYPOINTS; j++)
        put3(ret_pose->points[j], out[j]);
    put3(ret_pose->pelvis, pelvis);
    put3(ret_pose->left, body_left);
    put3(ret_pose->front, body_front);
}
