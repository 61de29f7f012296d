/* libFuzzer target: pose-sequence files (.pose, data/poseseq.c) on any
 * bytes. What loads must keep the promises of pose_sequence_load: labels
 * within the class list, finite keypoints. */
#include <math.h>
#include <stdlib.h>

#include "fuzz_files.h"
#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pose_sequence seq;
    struct errbuf err = {0};
    if (pose_sequence_load(fuzz_write("clip.pose", data, size), &seq, &err) < 0)
        return 0;
    if (seq.label < -1 || seq.label >= seq.n_classes)
        abort();
    for (int i = 0; i < seq.frames; i++) {
        if (seq.labels[i] < -1 || seq.labels[i] >= seq.n_classes)
            abort();
        for (int k = 0; k < POSE_NUM_KEYPOINTS; k++)
            if (!isfinite(seq.keypoints[i][k].x) || !isfinite(seq.keypoints[i][k].y) ||
                !isfinite(seq.keypoints[i][k].score))
                abort();
    }
    pose_sequence_done(&seq);
    return 0;
}
