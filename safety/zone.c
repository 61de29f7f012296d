/* zone: named polygons of a camera's image (docs/SAFETY.md, "Zones"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "safety.h"

static const char *const kind_names[] = {
    [ZONE_BED] = "bed",   [ZONE_SEAT] = "seat", [ZONE_FLOOR] = "floor",
    [ZONE_DOOR] = "door", [ZONE_AREA] = "area", [ZONE_EXCLUDE] = "exclude",
};
_Static_assert(ARRAY_SIZE(kind_names) == ZONE_KIND_COUNT, "one name per zone kind");

const char *zone_kind_name(enum zone_kind kind)
{
    return kind >= 0 && kind < ZONE_KIND_COUNT ? kind_names[kind] : "unknown";
}

int zone_kind_parse(const char *text, enum zone_kind *ret_kind)
{
    for (int k = 0; k < ZONE_KIND_COUNT; k++)
        if (strcmp(text, kind_names[k]) == 0) {
            *ret_kind = (enum zone_kind)k;
            return 0;
        }
    return -EINVAL;
}

/* Twice the signed area of triangle (a, b, c): > 0 when it turns left. */
static double cross(const float a[2], const float b[2], const float c[2])
{
    return ((double)b[0] - a[0]) * ((double)c[1] - a[1]) -
           ((double)b[1] - a[1]) * ((double)c[0] - a[0]);
}

/* Whether segments ab and cd share a point (touching counts). */
static bool segments_meet(const float a[2], const float b[2], const float c[2], const float d[2])
{
    double d1 = cross(c, d, a), d2 = cross(c, d, b), d3 = cross(a, b, c), d4 = cross(a, b, d);
    if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
        return true;
    /* collinear cases: an end point lying on the other segment */
    const float *p[4][3] = {{c, d, a}, {c, d, b}, {a, b, c}, {a, b, d}};
    double ds[4] = {d1, d2, d3, d4};
    for (int i = 0; i < 4; i++) {
        const float *s0 = p[i][0], *s1 = p[i][1], *q = p[i][2];
        if (ds[i] == 0 && fminf(s0[0], s1[0]) <= q[0] && q[0] <= fmaxf(s0[0], s1[0]) &&
            fminf(s0[1], s1[1]) <= q[1] && q[1] <= fmaxf(s0[1], s1[1]))
            return true;
    }
    return false;
}

int zone_check(const struct zone *z, struct errbuf *err)
{
    if (z->n < 3 || z->n > ZONE_MAX_POINTS)
        return errbuf_set(err, -EINVAL, "zone '%s': %d points (a polygon needs 3 to %d)", z->name,
                          z->n, ZONE_MAX_POINTS);
    for (int i = 0; i < z->n; i++) {
        float x = z->points[i][0], y = z->points[i][1];
        if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1))
            return errbuf_set(err, -EINVAL,
                              "zone '%s': point %d (%g, %g) is outside the image (0..1)", z->name,
                              i + 1, (double)x, (double)y);
    }
    /* Edges that are not neighbours must not meet; neighbours share only
     * their common corner. */
    for (int i = 0; i < z->n; i++)
        for (int j = i + 1; j < z->n; j++) {
            bool neighbours = j == i + 1 || (i == 0 && j == z->n - 1);
            if (neighbours)
                continue;
            if (segments_meet(z->points[i], z->points[(i + 1) % z->n], z->points[j],
                              z->points[(j + 1) % z->n]))
                return errbuf_set(err, -EINVAL, "zone '%s': edges %d and %d cross", z->name, i + 1,
                                  j + 1);
        }
    double area = 0;
    for (int i = 0; i < z->n; i++) {
        const float *a = z->points[i], *b = z->points[(i + 1) % z->n];
        area += (double)a[0] * b[1] - (double)b[0] * a[1];
    }
    if (fabs(area) < 1e-6)
        return errbuf_set(err, -EINVAL, "zone '%s': the polygon has no area", z->name);
    return 0;
}

int zone_parse_points(struct zone *z, const char *text, struct errbuf *err)
{
    int n = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        if (!*p)
            break;
        if (n == ZONE_MAX_POINTS)
            return errbuf_set(err, -EINVAL, "zone '%s': more than %d points", z->name,
                              ZONE_MAX_POINTS);
        char *end;
        double x = strtod(p, &end);
        if (end == p || *end != ',')
            return errbuf_set(err, -EINVAL, "zone '%s': point %d: expected x,y at '%.20s'", z->name,
                              n + 1, p);
        p = end + 1;
        double y = strtod(p, &end);
        if (end == p || (*end && *end != ' ' && *end != '\t' && *end != ';'))
            return errbuf_set(err, -EINVAL, "zone '%s': point %d: expected x,y at '%.20s'", z->name,
                              n + 1, p);
        z->points[n][0] = (float)x;
        z->points[n][1] = (float)y;
        n++;
        p = end;
    }
    z->n = n;
    return zone_check(z, err);
}

/* Even-odd rule: a ray to the right crosses the boundary an odd number of
 * times from inside. */
bool zone_contains(const struct zone *z, float x, float y)
{
    bool inside = false;
    for (int i = 0, j = z->n - 1; i < z->n; j = i++) {
        float xi = z->points[i][0], yi = z->points[i][1];
        float xj = z->points[j][0], yj = z->points[j][1];
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            inside = !inside;
    }
    return inside;
}
