/* daemon_models: the generations of the serving model (docs/SERVICE.md,
 * "Fine-tuning"). Generation 0 is the model the configuration names; each
 * accepted fine-tune writes the next one to STATE/models/<n>.safetensors.
 * The state store keeps, in its meta table, the configured model they
 * descend from (model.base), the generations served in order, the last
 * serving (model.generations, a JSON array), and the next number
 * (model.next), so that a restart serves the fine-tuned model and a
 * roll-back goes to the one before. Files are never rewritten: a rolled
 * back generation stays on disk. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon_internal.h"

#define KEY_BASE        "model.base"
#define KEY_GENERATIONS "model.generations"
#define KEY_NEXT        "model.next"

void daemon_model_path(const struct daemon *d, int generation, char *dst, size_t size)
{
    snprintf(dst, size, "%.*s/models/%d.safetensors", PATH_MAX - 40, d->cfg.state_directory,
             generation);
}

/* The generations served in order ([0] when none was recorded). */
static json_t *generations_load(struct daemon *d)
{
    char text[4096];
    struct errbuf err;
    errbuf_clear(&err);
    json_t *list = NULL;
    if (store_meta_get(d->store, KEY_GENERATIONS, text, sizeof(text), &err) >= 0)
        list = json_loads(text, 0, NULL);
    if (!json_is_array(list) || json_array_size(list) == 0) {
        json_decref(list);
        list = json_pack("[i]", 0);
    }
    return list;
}

static int generations_save(struct daemon *d, json_t *list, struct errbuf *err)
{
    /* Only the last 50 are remembered: the roll-back reaches that far. */
    while (json_array_size(list) > 50)
        json_array_remove(list, 0);
    char *text = json_dumps(list, JSON_COMPACT);
    if (!text)
        return errbuf_set(err, -ENOMEM, "out of memory");
    int r = store_meta_set(d->store, KEY_GENERATIONS, text, err);
    free(text);
    return r;
}

static int generation_top(json_t *list)
{
    return (int)json_integer_value(json_array_get(list, json_array_size(list) - 1));
}

int daemon_models_resolve(struct daemon *d, struct config *cfg)
{
    char base[PATH_MAX];
    struct errbuf err;
    errbuf_clear(&err);
    int r = store_meta_get(d->store, KEY_BASE, base, sizeof(base), &err);
    json_t *list = generations_load(d);
    int generation = 0;
    if (r >= 0 && strcmp(base, cfg->model) != 0) {
        /* Another model named in the configuration wins: the fine-tunes of
         * the old one do not descend from it. Their files stay. */
        if (generation_top(list) > 0)
            log_notice("model: the configuration names %s, not %s that the fine-tuned "
                       "generations descend from; serving %s",
                       cfg->model[0] ? cfg->model : "none", base,
                       cfg->model[0] ? cfg->model : "none");
        json_decref(list);
        list = json_pack("[i]", 0);
        r = -ENOENT;
    }
    if (r < 0) {
        if (store_meta_set(d->store, KEY_BASE, cfg->model, &err) < 0 ||
            generations_save(d, list, &err) < 0)
            log_warning("model: %s", errbuf_text(&err, -EIO));
        json_decref(list);
        return 0;
    }
    /* A generation whose file is gone is passed over, with a word. */
    while (json_array_size(list) > 1) {
        char path[PATH_MAX];
        daemon_model_path(d, generation_top(list), path, sizeof(path));
        if (access(path, R_OK) == 0) {
            generation = generation_top(list);
            str_copy(cfg->model, sizeof(cfg->model), path);
            log_notice("model: serving the fine-tuned generation %d (%s), of %s", generation, path,
                       base);
            break;
        }
        log_error("model: generation %d's file %s is missing; serving the one before",
                  generation_top(list), path);
        json_array_remove(list, json_array_size(list) - 1);
        if (generations_save(d, list, &err) < 0)
            log_warning("model: %s", errbuf_text(&err, -EIO));
    }
    json_decref(list);
    return generation;
}

int daemon_model_adopt(struct daemon *d, const char *file, int *ret_generation, struct errbuf *err)
{
    char text[32], dir[PATH_MAX], path[PATH_MAX];
    int r;
    pthread_mutex_lock(&d->model_swap_lock);
    int next = 1;
    struct errbuf e;
    errbuf_clear(&e);
    if (store_meta_get(d->store, KEY_NEXT, text, sizeof(text), &e) >= 0 && atoi(text) > 0)
        next = atoi(text);
    snprintf(dir, sizeof(dir), "%.*s/models", PATH_MAX - 16, d->cfg.state_directory);
    daemon_model_path(d, next, path, sizeof(path));
    snprintf(text, sizeof(text), "%d", next + 1);
    /* The number is taken before the file is: never two files of one. */
    if ((r = store_meta_set(d->store, KEY_NEXT, text, err)) < 0)
        goto done;
    if ((r = mkdir_parents(dir, 0750)) < 0) {
        r = errbuf_set(err, r, "%s: %s", dir, strerror(-r));
        goto done;
    }
    if (rename(file, path) < 0) {
        r = errbuf_set(err, -errno, "moving the new model to %s: %s", path, strerror(errno));
        goto done;
    }
    if ((r = daemon_model_swap_in(d, path, next, err)) < 0)
        goto done;
    json_t *list = generations_load(d);
    json_array_append_new(list, json_integer(next));
    r = generations_save(d, list, err);
    json_decref(list);
    if (r < 0)
        log_error("model: generation %d serves, but the state store did not record it (%s); a "
                  "restart serves the one before",
                  next, errbuf_text(err, r));
    r = 0;
    *ret_generation = next;
    log_notice("model: the fine-tuned generation %d (%s) serves; every stream restarted on it",
               next, path);
done:
    pthread_mutex_unlock(&d->model_swap_lock);
    return r;
}

void daemon_model_card_add(struct daemon *d, json_t *card)
{
    char base[PATH_MAX];
    struct errbuf err;
    errbuf_clear(&err);
    json_t *list = generations_load(d);
    if (store_meta_get(d->store, KEY_BASE, base, sizeof(base), &err) < 0)
        base[0] = '\0';
    pthread_rwlock_rdlock(&d->model_lock);
    json_object_set_new(card, "generation", json_integer(d->model_generation));
    pthread_rwlock_unlock(&d->model_lock);
    json_object_set_new(card, "generations", list);
    json_object_set_new(card, "base", json_string(base));
}

int daemon_model_rollback(void *userdata, json_t **ret_json, struct errbuf *err)
{
    struct daemon *d = userdata;
    char path[PATH_MAX];
    int r;
    if (daemon_finetune_running(d))
        return errbuf_set(err, -EALREADY,
                          "a fine-tune is running; cancel it (DELETE /v1/model/finetune) or let "
                          "it end before rolling back");
    pthread_mutex_lock(&d->model_swap_lock);
    json_t *list = generations_load(d);
    if (json_array_size(list) < 2) {
        r = errbuf_set(err, -EALREADY,
                       "nothing to roll back to: the configured model (generation 0) serves");
        goto done;
    }
    int from = generation_top(list);
    int to = (int)json_integer_value(json_array_get(list, json_array_size(list) - 2));
    char base[PATH_MAX];
    if (to == 0 && (r = store_meta_get(d->store, KEY_BASE, base, sizeof(base), err)) < 0)
        goto done;
    if (to == 0)
        str_copy(path, sizeof(path), base);
    else
        daemon_model_path(d, to, path, sizeof(path));
    struct errbuf why;
    errbuf_clear(&why);
    if ((r = daemon_model_swap_in(d, path, to, &why)) < 0) {
        r = errbuf_set(err, r, "generation %d does not load, generation %d keeps serving: %s", to,
                       from, errbuf_text(&why, r));
        goto done;
    }
    json_array_remove(list, json_array_size(list) - 1);
    if ((r = generations_save(d, list, err)) < 0)
        log_error("model: rolled back to generation %d, but the state store did not record it "
                  "(%s)",
                  to, errbuf_text(err, r));
    log_notice("model: rolled back from generation %d to %d (%s); every stream restarted on it",
               from, to, path);
    r = 0;
done:
    json_decref(list);
    pthread_mutex_unlock(&d->model_swap_lock);
    if (r < 0)
        return r;
    pthread_rwlock_rdlock(&d->model_lock);
    r = pipeline_model_card(d->model, ret_json);
    pthread_rwlock_unlock(&d->model_lock);
    if (r >= 0)
        daemon_model_card_add(d, *ret_json);
    return r;
}
