/* zones: each stream's named polygons (docs/SAFETY.md, "Zones") — those of
 * the configuration ([stream] zone.NAME = KIND x,y x,y ...) and those put
 * through the API (kept in the state store) — and which zones a person is
 * in. Camera threads take a copy per segment; the API changes them. */
#ifndef CRTD_ZONES_H
#define CRTD_ZONES_H

#include <jansson.h>

#include "config.h"
#include "pipeline.h"
#include "safety.h"
#include "store.h"

#define ZONES_MAX 16 /* per stream */

struct zones;

/* The configured zones of cfg and the API's from store (borrowed). */
int zones_new(const struct config *cfg, struct store *store, struct zones **ret_zones,
              struct errbuf *err);
struct zones *zones_free(struct zones *zones);

/* Replaces the configured zones by cfg's (SIGHUP); the API's stay. */
int zones_apply(struct zones *zones, const struct config *cfg, struct errbuf *err);

/* Copies a stream's zones into out (at most ZONES_MAX); returns how many. */
int zones_copy(struct zones *zones, const char *stream, struct zone *out);

/* The API: GET the list, GET one, PUT one from JSON {"kind", "points"},
 * DELETE one; configured zones are changed in the configuration (-EPERM). */
int zones_list_json(struct zones *zones, const char *stream, json_t **ret_json);
int zones_get_json(struct zones *zones, const char *stream, const char *name, json_t **ret_json,
                   struct errbuf *err);
int zones_put_json(struct zones *zones, const char *stream, const char *name, const char *body,
                   size_t size, bool *ret_created, json_t **ret_json, struct errbuf *err);
int zones_delete(struct zones *zones, const char *stream, const char *name, struct errbuf *err);
/* Forgets a removed stream's API zones (the store deletes them with it). */
void zones_forget_stream(struct zones *zones, const char *stream);

/* Where a person is, for zones: the middle of the hips when both are seen,
 * else the middle of the keypoints seen, else of the box. */
void zones_anchor(const struct pipeline_person *p, float ret_xy[2]);
/* Bit i set: the person is in zones[i]. */
uint32_t zones_of_person(const struct zone *zones, int n, const struct pipeline_person *p);

#endif
