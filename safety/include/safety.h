/* safety: what the safety rules of crtd judge from a person track's
 * keypoints — zones, named polygons of the image. The daemon's rules and
 * `crt eval --falls` run this same code. Knows nothing of video, HTTP or the
 * daemon. docs/SAFETY.md. */
#ifndef CRTD_SAFETY_H
#define CRTD_SAFETY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "keypoints.h"

/* ---- zones (zone.c) -------------------------------------------------------- */

#define ZONE_MAX_POINTS 32
#define ZONE_NAME_MAX   64

enum zone_kind {
    ZONE_BED,
    ZONE_SEAT,
    ZONE_FLOOR,
    ZONE_DOOR,
    ZONE_AREA,
    ZONE_EXCLUDE, /* a skeleton inside is ignored: a TV, a poster */
    ZONE_KIND_COUNT,
};

/* "bed", "seat", ... and back; -EINVAL for an unknown name. */
const char *zone_kind_name(enum zone_kind kind);
int zone_kind_parse(const char *text, enum zone_kind *ret_kind);

/* A named polygon in normalised image coordinates (0..1, x right, y down). */
struct zone {
    char name[ZONE_NAME_MAX];
    enum zone_kind kind;
    int n;                            /* 3..ZONE_MAX_POINTS */
    float points[ZONE_MAX_POINTS][2]; /* x, y */
};

/* Checks a polygon: 3..ZONE_MAX_POINTS finite points inside [0,1], a
 * non-zero area, no two edges crossing (zones may overlap each other). The
 * message names the zone and what is wrong. */
int zone_check(const struct zone *zone, struct errbuf *err);
/* Parses "x,y x,y x,y ..." (config files and the API) into zone->points. */
int zone_parse_points(struct zone *zone, const char *text, struct errbuf *err);
bool zone_contains(const struct zone *zone, float x, float y);

#endif
