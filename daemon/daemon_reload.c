/* daemon_reload: a configuration loaded again on SIGHUP, applied to the
 * running crtd — its token, log level, supervisor settings and streams —
 * and the model loaded again when its files changed. */
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon_internal.h"

struct supervisor_settings daemon_supervisor_settings(const struct config *cfg)
{
    struct supervisor_settings s = {
        .hysteresis_s = cfg->hysteresis_s,
        .checkpoint_segments = cfg->checkpoint_segments,
        .top_k = cfg->top_k,
        .restart_min_s = cfg->restart_min_s,
        .restart_max_s = cfg->restart_max_s,
        .max_streams = cfg->max_streams,
        .camera_timeout_s = cfg->camera_timeout_s,
        .max_people = cfg->max_people,
        .multipose_side = cfg->multipose_side,
        .still_pose_fps = cfg->still_pose_fps,
        .archive = cfg->archive,
        .archive_retention_days = cfg->archive_retention_days,
        .archive_max_mb = cfg->archive_max_mb,
    };
    snprintf(s.archive_dir, sizeof(s.archive_dir), "%.*s/archive", PATH_MAX - 16,
             cfg->state_directory);
    return s;
}

static void model_files_at(const char *model, const char *pose_model, enum pose_isa pose_isa,
                           struct model_files *ret)
{
    *ret = (struct model_files){0};
    str_copy(ret->model, sizeof(ret->model), model);
    str_copy(ret->pose_model, sizeof(ret->pose_model), pose_model);
    ret->pose_isa = pose_isa;
    if (model[0] && stat(model, &ret->model_stat) < 0)
        memset(&ret->model_stat, 0, sizeof(ret->model_stat));
    if (model[0] && stat(pose_model, &ret->pose_stat) < 0)
        memset(&ret->pose_stat, 0, sizeof(ret->pose_stat));
}

static void model_files_of(const struct config *cfg, struct model_files *ret)
{
    model_files_at(cfg->model, cfg->pose_model, cfg->pose_isa, ret);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

json_t *daemon_model_classes(const struct pipeline_model *model)
{
    json_t *classes = json_array();
    unsigned n = pipeline_model_n_classes(model);
    for (unsigned i = 0; classes && i < n; i++)
        json_array_append_new(classes, json_string(pipeline_model_class(model, i)));
    return classes;
}

/* SIGHUP loads the models again when another file is named or a file
 * changed (replaced, rewritten). The new one is loaded whole before anything
 * changes: one that does not load leaves the old model serving, and the
 * error shows in the log, /v1/model and /metrics. A new model restarts every
 * stream on it; memory saved by another model is not restored (its kind
 * names that model), so streams start fresh. */
/* Serves model, loaded whole, as what files name: every stream restarts on
 * it; the old one is freed. */
static void model_serve(struct daemon *d, struct pipeline_model *model,
                        const struct model_files *files, int generation)
{
    pthread_rwlock_wrlock(&d->model_lock);
    supervisor_set_model(d->sup, model);
    struct pipeline_model *old = d->model;
    d->model = model;
    d->model_files = *files;
    d->model_generation = generation;
    d->model_reload_error[0] = '\0';
    pthread_rwlock_unlock(&d->model_lock);
    pipeline_model_free(old);
    json_t *classes = daemon_model_classes(model);
    mqtt_set_classes(d->mqtt, classes);
    json_decref(classes);
}

/* SIGHUP loads the models again when another file is named or a file
 * changed (replaced, rewritten). The new one is loaded whole before anything
 * changes: one that does not load leaves the old model serving, and the
 * error shows in the log, /v1/model and /metrics. A new model restarts every
 * stream on it; memory saved by another model is not restored (its kind
 * names that model), so streams start fresh. */
static void reload_model(struct daemon *d, const struct config *cfg, int generation)
{
    struct model_files now;
    model_files_of(cfg, &now);
    const struct model_files *was = &d->model_files;
    if (strcmp(now.model, was->model) == 0 && strcmp(now.pose_model, was->pose_model) == 0 &&
        now.pose_isa == was->pose_isa && same_file(&now.model_stat, &was->model_stat) &&
        same_file(&now.pose_stat, &was->pose_stat))
        return;

    struct pipeline_model *model = NULL;
    struct errbuf err;
    errbuf_clear(&err);
    int r = pipeline_model_load(cfg->model[0] ? cfg->model : NULL, cfg->pose_model, cfg->pose_isa,
                                &model, &err);
    if (r < 0) {
        atomic_fetch_add(&d->model_reload_failures, 1);
        pthread_rwlock_wrlock(&d->model_lock);
        snprintf(d->model_reload_error, sizeof(d->model_reload_error), "%s", errbuf_text(&err, r));
        pthread_rwlock_unlock(&d->model_lock);
        log_error("reload: %s; the model loaded before keeps serving", errbuf_text(&err, r));
        return;
    }
    model_serve(d, model, &now, generation);
    log_notice("reload: model %s loaded; every stream restarted on it",
               cfg->model[0] ? cfg->model : "none");
}

int daemon_model_swap_in(struct daemon *d, const char *path, int generation, struct errbuf *err)
{
    struct model_files now;
    model_files_at(path, d->cfg.pose_model, d->cfg.pose_isa, &now);
    struct pipeline_model *model = NULL;
    int r = pipeline_model_load(path, d->cfg.pose_model, d->cfg.pose_isa, &model, err);
    if (r < 0)
        return r;
    model_serve(d, model, &now, generation);
    str_copy(d->cfg.model, sizeof(d->cfg.model), path);
    return 0;
}

int daemon_model_load(struct daemon *d, struct errbuf *err)
{
    d->model_generation = daemon_models_resolve(d, &d->cfg);
    model_files_of(&d->cfg, &d->model_files);
    return pipeline_model_load(d->cfg.model[0] ? d->cfg.model : NULL, d->cfg.pose_model,
                               d->cfg.pose_isa, &d->model, err);
}

int daemon_reload(struct daemon *d, struct config *cfg)
{
    struct errbuf err;
    char *token = NULL;
    int r;

    errbuf_clear(&err);
    if (cfg->token_file[0] && (r = config_read_token(cfg->token_file, &token, &err)) < 0) {
        log_error("reload: %s; keeping the running configuration", errbuf_text(&err, r));
        config_done(cfg);
        return r;
    }
    if (strcmp(cfg->listen, d->cfg.listen) != 0 ||
        strcmp(cfg->state_directory, d->cfg.state_directory) != 0 ||
        memcmp(&cfg->mqtt, &d->cfg.mqtt, sizeof(cfg->mqtt)) != 0)
        log_warning("reload: listen, state_directory and [mqtt] change only with a restart");
    /* The state store stays where it was opened, and the pose archives with
     * it (--state-dir too outlives a reload). */
    str_copy(cfg->state_directory, sizeof(cfg->state_directory), d->cfg.state_directory);
    pthread_mutex_lock(&d->model_swap_lock);
    reload_model(d, cfg, daemon_models_resolve(d, cfg));
    api_server_set_token(d->server, token);
    free(token);
    if ((r = api_server_set_cors(d->server, cfg->cors_origins, &err)) < 0)
        log_error("reload: %s; keeping the origins before", errbuf_text(&err, r));
    log_set_max_level(cfg->log_level);
    struct supervisor_settings s = daemon_supervisor_settings(cfg);
    supervisor_set_settings(d->sup, &s);
    supervisor_apply(d->sup, cfg);
    struct errbuf zerr;
    errbuf_clear(&zerr);
    if ((r = zones_apply(d->zones, cfg, &zerr)) < 0)
        log_error("reload: zones: %s", errbuf_text(&zerr, r));
    errbuf_clear(&zerr);
    if ((r = rules_apply(d->rules, cfg, time_wall_s(), &zerr)) < 0)
        log_error("reload: rules: %s; the rules before keep running", errbuf_text(&zerr, r));
    errbuf_clear(&zerr);
    if ((r = webhooks_apply(d->webhooks, cfg, &zerr)) < 0)
        log_error("reload: webhooks: %s; the webhooks before keep running", errbuf_text(&zerr, r));
    config_done(&d->cfg);
    d->cfg = *cfg;
    pthread_mutex_unlock(&d->model_swap_lock);
    log_info("configuration reloaded (%zu configured streams)", d->cfg.n_streams);
    return 0;
}
