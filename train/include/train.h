/* train: training the segment model in C — backward passes (backward.c and
 * each mechanism's file in train/mem/), AdamW, checkpoints (trainer.c), data
 * sets of pose sequences in memory (dataset.c), the epochs' batches and
 * TBPTT windows (batch.c), the learning-rate schedule (schedule.c),
 * evaluation (evaluate.c), and the training loop over a data set (loop.c).
 * docs/TRAINING.md. */
#ifndef CRTD_TRAIN_H
#define CRTD_TRAIN_H

#include <stdatomic.h>
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
    bool mocap;         /* only the files of one part of the real-motion protocol */
    enum mocap_split mocap_split; /* with mocap: that part (mocap_split_of_name) */
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
/* Frees one clip's data (a clip taken out of a data set). */
void dataset_clip_done(struct dataset_clip *clip);

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
/* The last segment's logits of every clip of ds, as train_evaluate takes
 * them: ret_logits[ds->n][n_classes], ret_scored[ds->n] false for a clip
 * too short to decide (when !score_short). */
int train_last_logits(float *ret_logits, bool *ret_scored, const struct crt_model *model,
                      const struct dataset *ds, bool score_short,
                      void (*progress)(void *user, int done, int total), void *user,
                      struct errbuf *err);

/* ---- calibration and the open-set decision (calibrate.c) ------------------ *
 * Clips are rows of logits[n][C] with labels[n]: a model class, other_label
 * for motion outside the repertoire (the model's Other class, or C when it
 * has none), or -1 (left out). */

/* Mean negative log-likelihood of the labels under softmax(logits / T),
 * over the clips whose label is a model class. */
double train_nll(const float *logits, const int *labels, int n, int C, double temperature);
/* The temperature in [CRT_TEMPERATURE_MIN, CRT_TEMPERATURE_MAX] of least
 * train_nll (golden-section search over log T; the NLL is unimodal in T). */
double train_fit_temperature(const float *logits, const int *labels, int n, int C);

/* What the decision (crt_decide: top class, unknown below threshold or for
 * the model's Other class) does on a set of clips. */
struct open_set_figures {
    int known, other;      /* clips of known classes, of Other */
    double known_mca;      /* mean per-class accuracy over known classes, unknown = wrong */
    double known_rejected; /* share of known clips reported unknown */
    double other_rejected; /* share of Other clips reported unknown (NaN: none) */
    double expected_error; /* calibration error (ECE, 10 bins) of the top probability */
};
void train_open_set(struct open_set_figures *ret, const float *logits, const int *labels, int n,
                    int C, int other_label, int model_other, double temperature, double threshold);
/* The threshold (0 to 0.95 by 0.01): the highest that turns at most 5% of
 * the known clips unknown (the Other class, not the threshold, is what
 * rejects the out-of-repertoire motion it learned). */
double train_choose_threshold(const float *logits, const int *labels, int n, int C, int other_label,
                              int model_other, double temperature);

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

/* Class-balanced loss weights: n / (K n_c) over the K classes present in ds
 * (1 for every class when balance is false). out has C entries. */
int train_class_weights(float *out, const struct dataset *ds, int C, bool balance);

/* Trains model on train (validating on val after each epoch) as opts says:
 * mini-batches of clips, truncated backpropagation through time, AdamW with
 * warm-up and cosine decay, gradient clipping and a class-balanced loss.
 * The best epoch's model is written to opts->out. The same seed and thread
 * count give the same model. report (may be NULL) hears the progress. */
int train_loop_run(struct crt_model *model, const struct dataset *train, const struct dataset *val,
                   const struct train_loop_options *opts,
                   void (*report)(void *user, const struct train_loop_progress *p), void *user,
                   struct train_loop_result *ret_result, struct errbuf *err);

/* ---- fine-tuning on a home's labels (finetune.c, grow.c, replay.c) -------- */

#define TRAIN_MAX_CLASSES                1024
#define TRAIN_FINETUNE_MAX_LABEL_CLASSES 64
/* The model card's key for the replay recipe: "synth:<task>" */
#define TRAIN_REPLAY_KEY "provenance.replay"

/* A model with n_new classes appended (names not already the model's):
 * every tensor copied, the classifier grown by one row per new class (small
 * seeded weights, the lowest of the old biases), so that before training
 * the old classes' logits are exactly the parent's. The card is carried
 * over. Fails with -ENOTSUP for a mechanism with other class-sized tensors. */
int train_model_grow_classes(const struct crt_model *model, const char *const *new_classes,
                             int n_new, uint64_t seed, struct crt_model **ret_model,
                             struct errbuf *err);

/* How to make more of a model's training data (replay.c). */
struct train_replay {
    struct synth_options synth; /* the generator's options; the seed is the caller's */
    char spec[64];              /* "synth:activities", as the card says it */
};

/* The recipe on the model's card (TRAIN_REPLAY_KEY, or a provenance.data of
 * crt synth's, as the default model has); -ENOENT with why when there is
 * none, -EBADMSG when it does not match the model's classes. */
int train_replay_recipe(const struct crt_model *model, struct train_replay *ret_replay,
                        struct errbuf *err);
/* n clips of the recipe made with seed, labelled with the model's classes. */
int train_replay_make(struct dataset *ds, const struct train_replay *replay,
                      const struct crt_model *model, uint64_t seed, int n, struct errbuf *err);

struct train_finetune_options {
    const char *model;   /* the model to start from (a model file) */
    const char *labels;  /* labelled stretches: a folder of pose sequences (*.pose) */
    const char *out;     /* the new model: written atomically, only when accepted */
    const char *replay;  /* a folder of the model's training data, or NULL: made from the
                          * card's recipe (train_replay_recipe) */
    int replay_clips;    /* replay clips to train on, and as many to check on (default 400) */
    double holdout;      /* share of each class's labels held out to judge (default 0.2) */
    int min_labels;      /* labels a class needs, at least 2 (default 5) */
    int epochs;          /* passes over labels and replay (default 12) */
    int batch, window;   /* clips per batch (32), segments per TBPTT window (8) */
    int threads;         /* training workers (default 1: a background job) */
    float lr;            /* peak learning rate (default 5e-4), cosine decay */
    double tolerance;    /* replay accuracy may fall this much (default 0.01: 1 point) */
    uint32_t seed;       /* held-out split, shuffling, new rows, replay (default 1) */
    bool write_rejected; /* write out even when not accepted (the card says so) */
    const struct dataset_report *report; /* hears the label files loaded and left out
                                          * (may be NULL) */
    bool labels_only; /* train on the labels alone, no replay in the mix (benchmarks'
                       * comparison: what the replay saves); the replay check stays */
};

void train_finetune_options_default(struct train_finetune_options *opts);

enum train_finetune_stage {
    TRAIN_FINETUNE_LOAD,     /* the model, the labels and the replay */
    TRAIN_FINETUNE_BASELINE, /* the parent on the held-out labels and the replay check */
    TRAIN_FINETUNE_TRAIN,    /* after every batch */
    TRAIN_FINETUNE_CHECK,    /* the new model on the same */
    TRAIN_FINETUNE_DONE,
};

struct train_finetune_progress {
    enum train_finetune_stage stage;
    double fraction; /* of the whole job, 0 .. 1 */
    int epoch, epochs, batch, batches;
    double loss; /* the epoch's mean loss per clip so far */
    double seconds;
};

/* One class that the labels have. */
struct train_finetune_class {
    char name[64];
    int labels, held_out; /* stretches, and of them held out */
    bool added;           /* new to the model */
    double before, after; /* recall on the held-out ones */
};

struct train_finetune_result {
    int n_classes; /* the labels' classes */
    struct train_finetune_class classes[TRAIN_FINETUNE_MAX_LABEL_CLASSES];
    int classes_before, classes_after, added; /* the model's class counts */
    int train_labels, held_out, replay_train, replay_check;
    int skipped_labels; /* label files left out: unreadable, or not pose sequences */
    int label_repeat;   /* each training label's copies per epoch */
    /* Mean per-class accuracy on the held-out labels, and on the replay
     * check (clips of the model's own training distribution). */
    double held_out_before, held_out_after;
    double replay_before, replay_after;
    bool accepted; /* better on the held-out labels, replay within tolerance */
    bool written;  /* opts->out was written */
    char verdict[256];
    char parent[17]; /* the parent's fingerprint, hex */
    double seconds;
};

/* Fine-tunes opts->model on opts->labels: classes the labels name that the
 * model lacks are added (train_model_grow_classes); a seeded share of each
 * class's labels is held out; the rest, repeated up to half of each epoch,
 * train with a replay of the model's own training distribution, from the
 * model's weights, with a class-balanced loss and a low learning rate. The
 * new model is accepted when its mean per-class accuracy on the held-out
 * labels is higher than the parent's and on the replay check is no more
 * than opts->tolerance lower; only then is opts->out written (atomically),
 * its card recording the fine-tune (finetune.* metadata). Training uses at
 * most one BLAS thread and opts->threads workers. A class with fewer than
 * opts->min_labels labels fails with -EINVAL saying how many are needed.
 * cancel (may be NULL) is read between batches: -ECANCELED, nothing written.
 * progress (may be NULL) hears each stage and batch. A rejected fine-tune
 * returns 0 with accepted false. */
int train_finetune(const struct train_finetune_options *opts,
                   void (*progress)(void *user, const struct train_finetune_progress *p),
                   void *user, const atomic_bool *cancel, struct train_finetune_result *ret_result,
                   struct errbuf *err);

#endif
