/* libFuzzer target: ASF skeletons with AMC motion (data/asf_amc.c) on any
 * bytes: the ASF, a form feed, then the AMC (no form feed: an empty AMC).
 * What loads must keep the promises of mocap_asf_amc_load: joints within
 * the cap, parents before children, finite positions for every frame. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_files.h"
#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *ff = memchr(data, '\f', size);
    size_t asf_size = ff ? (size_t)(ff - data) : size;
    size_t amc_size = ff ? size - asf_size - 1 : 0;
    char asf[4096];
    struct mocap_clip clip;
    struct errbuf err = {0};

    snprintf(asf, sizeof(asf), "%s", fuzz_write("skeleton.asf", data, asf_size));
    const char *amc = fuzz_write("motion.amc", ff ? ff + 1 : data, amc_size);
    if (mocap_asf_amc_load(asf, amc, 120, MOCAP_SCALE_AUTO, &clip, &err) < 0)
        return 0;
    if (clip.n_joints < 1 || clip.n_joints > MOCAP_MAX_JOINTS || clip.frames < 1 ||
        !(clip.scale > 0))
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
