/* train: training the segment model in C — backward passes (backward.c and
 * each mechanism's file in train/mem/), AdamW, checkpoints (trainer.c), data
 * sets of pose sequences in memory (dataset.c), the epochs' batches and
 * TBPTT windows (batch.c), the learning-rate schedule (schedule.c),
 * evaluation (evaluate.c), and the training loop over a data set (loop.c).
 * docs/TRAINING.md. */
#ifndef CRTD_TRAIN_H
#define CRTD_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base.h"
#include "crt.h"
#include "data.h"
#include "safetensors.h"

/* ---- training (crt_train.c, crt_train_*.c) -------------------------------- */

struct crt_train_options {
    int max_batch;  /* sequences per forward/backward call */
    int max_window; /* segments per call: the truncated-BPTT window */
    int threads;    /* workers; the batch is split between them */
    float beta1, beta2, adam_eps;
    float weight_decay; /* decoupled (AdamW), on matrices only */
    float clip_norm;    /* global gradient norm cap; 0 = none */
    uint64_t seed;      /* for the parts of training the model does not hold */
};

void crt_train_options_default(struct crt_train_options *opts);

/* Training state of one model: gradients and AdamW moments in the model's
 * parameter layout (one allocation each), activations for the largest
 * batch and window, allocated once. The trainer changes the model's weights:
 * the model must not be shared with running streams meanwhile. */
struct crt_trainer;

int crt_trainer_new(struct crt_model *model, const struct crt_train_options *opts,
                    struct crt_trainer **ret_trainer, struct errbuf *err);
struct crt_trainer *crt_trainer_free(struct crt_trainer *trainer);

/* Seeded initial weights for training from scratch (for NC-GRU, an
 * orthogonal U_c through its Cayley parameters). */
void crt_trainer_init_weights(struct crt_trainer *trainer, uint64_t seed);

void crt_trainer_zero_grad(struct crt_trainer *trainer);

/* Forward and backward over a window of W segments of B sequences.
 * feats[b] points at the window's first frame, [W][L][F]. targets[b*W + w]
 * is segment w's class (-1: no loss), weights[b*W + w] its loss weight.
 * mem[b] ([B][S]) is the memory before the window and receives the memory
 * after it (gradients stop there: truncated BPTT). from_start[b] says mem[b]
 * is the learned initial memory, whose gradient is then kept. Gradients
 * ACCUMULATE; returns the summed weighted loss. probs (may be NULL) receives
 * [B][W][n_classes]. The forward pass is inference's and reads the model's
 * packed copy: whoever writes the model's tensors other than through
 * crt_trainer_step calls crt_model_params_changed first. */
double crt_trainer_forward_backward(struct crt_trainer *trainer, int B, int W,
                                    const float *const *feats, const int *targets,
                                    const float *weights, const bool *from_start, float *mem,
                                    float *probs);

/* Global L2 norm of the gradients. */
double crt_trainer_grad_norm(const struct crt_trainer *trainer);

/* Scales the gradients (e.g. 1 / batch), clips them, and takes one AdamW
 * step at learning rate lr; the model's weights change. */
void crt_trainer_step(struct crt_trainer *trainer, float grad_scale, float lr);

/* The gradient of a parameter tensor by name (numel floats), or NULL. */
const float *crt_trainer_grad(const struct crt_trainer *trainer, const char *name);
uint64_t crt_trainer_steps(const struct crt_trainer *trainer);

/* Everything training needs to resume exactly: weights, moments, step,
 * extra parameters (NC-GRU's skew matrix), and the caller's own metadata. */
int crt_trainer_save(const struct crt_trainer *trainer, const char *path,
                     const char *const *meta_keys, const char *const *meta_values, int n_meta,
                     struct errbuf *err);
int crt_trainer_load(struct crt_trainer *trainer, const char *path, struct safetensors **ret_st,
                     struct errbuf *err);

/* ---- data sets of pose sequences (dataset.c) ------------------------------ */

/* A folder of pose sequences in memory, as `crt eval`, `crt train` and
 * `crt compare` use it: features computed once, labels mapped to the
 * model's classes, and each clip's Smarthome name when it has one. */
struct dataset_clip {
    char *path;
    int frames;
    float *features;   /* [frames][FEATURES_V1_DIM] */
    int *frame_labels; /* [frames], model class or -1 */
    int label;         /* model class of the clip, or -1 */
    bool has_name;     /* the file name parses as a Smarthome clip */
    struct smarthome_clip_name name;
};

struct dataset {
    int n;
    struct dataset_clip *clips;
    int skipped; /* files reported and left out */
    int unknown; /* clips passed over for a class the model lacks (filter->known_classes) */
};

/* Which clips of a folder to take. */
struct dataset_filter {
    bool smarthome;                   /* file names must parse; label from the name */
    enum smarthome_protocol protocol; /* with smarthome: the split to take */
    enum smarthome_split split;
    bool known_classes; /* with smarthome: pass over (and count) clips of classes the model
                           lacks instead of reporting each as skipped */
    int first, count;   /* a range of the sorted file list; count 0 = all */
};

/* What loading tells its caller; any callback may be NULL. */
struct dataset_report {
    /* A file left out, and why (path is NULL when why names the file). */
    void (*skipped)(void *user, const char *path, const char *why);
    /* Files read so far, at most twice a second. */
    void (*progress)(void *user, const char *dir, int done, int total);
    /* The end: clips kept and files skipped. */
    void (*loaded)(void *user, const char *dir, int clips, int skipped, double seconds);
    void *user;
};

/* Loads every *.pose file of dir (sorted by name) that the filter takes,
 * mapping class names to the model's. A file that does not load, does not
 * parse, or has a class the model lacks is reported (report->skipped) and
 * left out, never fatal. report may be NULL. */
int dataset_load(struct dataset *ds, const char *dir, const struct dataset_filter *filter,
                 const char *const *model_classes, int n_model_classes,
                 const struct dataset_report *report, struct errbuf *err);
void dataset_done(struct dataset *ds);

/* Moves the clips whose file name a seeded hash picks (about fraction of
 * them) from train into ret_val, keeping the order of both. */
int dataset_split_validation(struct dataset *train, struct dataset *ret_val, double fraction,
                             uint32_t seed);

/* The classes of a new model for dir: those of its first *.pose file in
 * name order (strdup'd; the caller frees each and the list). */
int dataset_classes_of_dir(const char *dir, char ***ret_classes, int *ret_n, struct errbuf *err);

/* Features of one frame sequence, as the daemon computes them frame by frame. */
void dataset_features(float *out, const struct pose_keypoint (*keypoints)[POSE_NUM_KEYPOINTS],
                      int frames);

/* ---- evaluation (evaluate.c) ---------------------------------------------- */

/* Runs every clip of ds through the model, in batches of 64 clips, and adds
 * each labelled clip's last-segment prediction to cm (n_classes wide).
 * A clip shorter than one segment is padded by repeating its last frame
 * when score_short is true (`crt eval`), and left unscored otherwise (the
 * validation pass of training). progress (may be NULL) hears the clips done
 * after each batch. */
int train_evaluate(struct confusion *cm, const struct crt_model *model, const struct dataset *ds,
                   bool score_short, void (*progress)(void *user, int done, int total), void *user,
                   struct errbuf *err);

/* ---- the learning-rate schedule (schedule.c) ------------------------------ */

struct train_schedule {
    float lr;           /* the peak */
    float min_lr_ratio; /* the final rate as a share of the peak */
    int warmup;         /* steps of linear warm-up (at least 1) */
    long total_steps;   /* steps of the whole run */
};

/* Linear warm-up to the peak, then cosine decay to min_lr_ratio * lr. */
float train_schedule_lr(const struct train_schedule *s, long step);

/* ---- batches and TBPTT windows (batch.c) ---------------------------------- */

/* Segments of a clip for a model of segment_len L (at least 1). */
int train_clip_segments(const struct dataset_clip *clip, int L);

/* The order of an epoch's clips: a seeded shuffle, clips of similar length
 * grouped into the same batch (a batch runs as long as its longest clip),
 * then whole batches shuffled. order has ds->n entries. */
void train_batch_plan(int *order, const struct dataset *ds, int L, int batch, uint64_t seed);

/* One batch's buffers for a trainer of max_batch clips and window segments. */
struct train_batch {
    struct crt_model *model;
    struct crt_trainer *trainer;
    int max_batch, window;
    const float *class_weight; /* [n_classes] loss weight of each class */
    float *feats;              /* clips padded to the longest, grown as needed */
    size_t feats_floats;
    int *targets;
    float *weights, *mem, *probs;
    bool *from_start;
};

int train_batch_init(struct train_batch *tb, struct crt_model *model, struct crt_trainer *trainer,
                     int max_batch, int window, const float *class_weight);
void train_batch_done(struct train_batch *tb);

/* Trains on the B clips clip_ids of ds: every TBPTT window of `window`
 * segments is one forward/backward and one AdamW step at the schedule's
 * rate. Every segment learns its clip's label (the frame label at its
 * end), weighted up toward the end of the clip. Returns the summed loss
 * and the clips whose last segment was right. */
int train_batch_run(struct train_batch *tb, const struct dataset *ds, const int *clip_ids, int B,
                    const struct train_schedule *schedule, double *ret_loss, int *ret_right);

/* ---- the training loop (loop.c) ------------------------------------------- */

struct train_loop_options {
    int epochs, batch, window, threads;
    float lr, min_lr_ratio, weight_decay, clip_norm;
    int warmup;
    bool balance;           /* class-balanced loss weights */
    int seed;               /* weights, shuffling (and the tool's validation split) */
    bool init_weights;      /* a new model: seeded initial weights first */
    const char *resume;     /* continue exactly from this checkpoint */
    const char *checkpoint; /* after each epoch: a model file and FILE.train */
    int pause_after;        /* stop after this many epochs of this run (0: never) */
    const char *out;        /* where the best epoch's model goes */
    enum safetensors_dtype dtype;
    const char *recipe, *provenance; /* the written model's provenance.* metadata */
};

void train_loop_options_default(struct train_loop_options *opts);

enum train_loop_event {
    TRAIN_LOOP_START, /* sizes known: parameters, clips, batches */
    TRAIN_LOOP_BATCH, /* after every batch */
    TRAIN_LOOP_EPOCH, /* after each epoch's validation pass (and any save) */
};

struct train_loop_progress {
    enum train_loop_event event;
    int epoch, epochs; /* 0-based epoch, of epochs */
    int batch, batches;
    int train_clips, val_clips, threads;
    size_t parameters;
    double loss;           /* the epoch's mean loss per clip so far */
    double train_accuracy; /* the epoch's last-segment accuracy so far */
    double clips_per_second;
    long clips_left; /* of the whole run */
    bool last_batch;
    double val_mca, val_accuracy; /* TRAIN_LOOP_EPOCH */
    bool improved;                /* best so far: saved */
};

struct train_loop_result {
    int first_epoch; /* 0, or the epoch after the checkpoint's */
    int last_epoch;  /* the epoch this run stopped before */
    bool paused;     /* last_epoch < epochs: resume from the checkpoint */
    int best_epoch;  /* 0-based */
    double best_mca, last_val_mca;
    double seconds;
};

/* Trains model on train (validating on val after each epoch) as opts says:
 * mini-batches of clips, truncated backpropagation through time, AdamW with
 * warm-up and cosine decay, gradient clipping and a class-balanced loss.
 * The best epoch's model is written to opts->out. The same seed and thread
 * count give the same model. report (may be NULL) hears the progress. */
int train_loop_run(struct crt_model *model, const struct dataset *train, const struct dataset *val,
                   const struct train_loop_options *opts,
                   void (*report)(void *user, const struct train_loop_progress *p), void *user,
                   struct train_loop_result *ret_result, struct errbuf *err);

#endif
