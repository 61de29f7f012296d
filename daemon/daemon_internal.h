/* daemon_internal: what crtd's main (main.c) shares with the parts of it that
 * live in the library, where tests can reach them: the API backend
 * (daemon_backend.c) and the reload of a new configuration and model
 * (daemon_reload.c). */
#ifndef CRTD_DAEMON_INTERNAL_H
#define CRTD_DAEMON_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "alerts.h"
#include "api.h"
#include "config.h"
#include "mqtt.h"
#include "pipeline.h"
#include "rules.h"
#include "store.h"
#include "supervisor.h"
#include "webhook.h"
#include "zones.h"

/* Which model files were loaded, to tell on SIGHUP whether they changed. */
struct model_files {
    char model[PATH_MAX], pose_model[PATH_MAX];
    enum pose_isa pose_isa;
    struct stat model_stat, pose_stat; /* zeroed when missing */
};

struct daemon_finetune; /* daemon_finetune.c */

struct daemon {
    struct config cfg;
    struct store *store;
    /* The model is swapped on SIGHUP: readers outside the supervisor hold
     * model_lock for reading while they use it. */
    pthread_rwlock_t model_lock;
    struct pipeline_model *model;
    struct model_files model_files;
    char model_reload_error[512]; /* under model_lock; "" after a good load */
    atomic_ulong model_reload_failures;
    /* Which model serves (daemon_models.c): 0 the configured one, n > 0
     * STATE/models/<n>.safetensors, a fine-tune's; under model_lock. */
    int model_generation;
    /* Serialises what changes which model serves: a reload, a fine-tune's
     * swap, a roll-back (each takes it whole). */
    pthread_mutex_t model_swap_lock;
    struct daemon_finetune *finetune;
    struct api_events *events;
    struct supervisor *sup;
    struct alerts *alerts;
    struct zones *zones;
    struct rules *rules;
    struct webhooks *webhooks;
    struct mqtt *mqtt;
    struct api_server *server;
    atomic_bool ready;
};

/* The API's interface implemented on a struct daemon (its userdata), with
 * the daemon's rules: which streams the API may add and remove, and what
 * /healthz and /metrics add beside the supervisor's figures. */
extern const struct api_backend daemon_backend;

/* The class names of a model, as a JSON array (MQTT's activity sensor). */
json_t *daemon_model_classes(const struct pipeline_model *model);
/* /v1/labels (daemon_labels.c): the api_backend's label calls on a struct
 * daemon. */
int daemon_labels_list(void *userdata, const struct api_label_query *query, json_t **ret_json,
                       struct errbuf *err);
int daemon_label_create(void *userdata, const char *body, size_t size, int64_t *ret_id,
                        json_t **ret_json, struct errbuf *err);
int daemon_label_get(void *userdata, int64_t id, json_t **ret_json, struct errbuf *err);
int daemon_label_put(void *userdata, int64_t id, const char *body, size_t size, json_t **ret_json,
                     struct errbuf *err);
int daemon_label_delete(void *userdata, int64_t id, struct errbuf *err);

/* Model generations (daemon_models.c, docs/SERVICE.md "Fine-tuning"). The
 * path of generation n's file in the state directory. */
void daemon_model_path(const struct daemon *d, int generation, char *dst, size_t size);
/* Points cfg->model at the generation the store says serves, when cfg names
 * the model it descends from, and returns that generation; else the
 * configured model serves (0) and the record says so. With model_swap_lock
 * held, or before any thread runs. */
int daemon_models_resolve(struct daemon *d, struct config *cfg);
/* Moves a fine-tune's accepted model file into the next generation and
 * serves it; the one before is kept for a roll-back. *ret_generation: the
 * new one. On failure the serving model stays. */
int daemon_model_adopt(struct daemon *d, const char *file, int *ret_generation, struct errbuf *err);
/* Adds generation, generations and base to a model card. */
void daemon_model_card_add(struct daemon *d, json_t *card);
/* POST /v1/model/rollback. */
int daemon_model_rollback(void *userdata, json_t **ret_json, struct errbuf *err);
/* Loads path (with the running MoveNet) whole and serves it as generation;
 * on failure the old model keeps serving. With model_swap_lock held. */
int daemon_model_swap_in(struct daemon *d, const char *path, int generation, struct errbuf *err);

/* The fine-tune job (daemon_finetune.c): the api_backend's calls, and its
 * life with the daemon's (stop cancels a running job and waits for it). */
int daemon_finetune_new(struct daemon *d);
void daemon_finetune_free(struct daemon *d);
int daemon_finetune_start(void *userdata, const char *body, size_t size, json_t **ret_json,
                          struct errbuf *err);
int daemon_finetune_get(void *userdata, json_t **ret_json, struct errbuf *err);
int daemon_finetune_cancel(void *userdata, json_t **ret_json, struct errbuf *err);
bool daemon_finetune_running(struct daemon *d);

/* The supervisor's settings of a configuration. */
struct supervisor_settings daemon_supervisor_settings(const struct config *cfg);

/* Loads the model d->cfg names at start-up and remembers its files, so that
 * a later daemon_reload can tell whether they changed. */
int daemon_model_load(struct daemon *d, struct errbuf *err);

/* Runs on cfg, a configuration loaded again on SIGHUP, and takes it over
 * (on failure too). A model file that changed is loaded again; listen,
 * state_directory and [mqtt] keep their running values until a restart.
 * Every failure is logged; on one the running configuration stays. */
int daemon_reload(struct daemon *d, struct config *cfg);

#endif
