/* libFuzzer target: BVH motion capture (data/bvh.c) on any bytes, with the
 * unit detected from the rest pose for inputs of odd size and declared for
 * the others. What loads must keep the promises of mocap_bvh_load: joints
 * within the cap, parents before children, finite positions for every
 * frame. */
#include <math.h>
#include <stdlib.h>

#include "fuzz_files.h"
#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mocap_clip clip;
    struct errbuf err = {0};
    double scale = size % 2 ? MOCAP_SCALE_AUTO : 0.01;
    if (mocap_bvh_load(fuzz_write("clip.bvh", data, size), scale, &clip, &err) < 0)
        return 0;
    if (clip.n_joints < 1 || clip.n_joints > MOCAP_MAX_JOINTS || clip.frames < 1 ||
        !(clip.frame_time > 0) || !(clip.scale > 0))
        abort();
    for (int j = 0; j < clip.n_joints; j++)
        if (clip.parent[j] < -1 || clip.parent[j] >= j)
            abort();
    for (size_t i = 0; i < (size_t)clip.frames * (size_t)clip.n_joints; i++)
        for (int a = 0; a < 3; a++)
            if (!isfinite(clip.positions[i][a]))
                abort();
    mocap_clip_done(&clip);
    return 0;
}
