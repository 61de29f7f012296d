/* motion: the motion gate, on a frame's luma (the method is described in
 * video.h). Frigate's motion detector (downscale, running average,
 * threshold, dilate, regions) is the model of the method; the code, the
 * lighting correction and the choices of defaults are this project's.
 *
 * The luma is averaged into a grid of cells of about `height` rows; the
 * grid's buffers are allocated once, by video_motion_new(), for the largest
 * grid, and the column sums of a band of rows when a wider picture than
 * any before arrives. */
#include "video.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The grid has at most this many columns per row (a 32:9 panorama fits). */
#define MAX_ASPECT 4
/* Differences cur - background, rounded, from -255 to 255. */
#define DIFF_BINS 511
/* Cells whose difference is within this many thresholds of the median take
 * part in the lighting fit; the rest are what moved. */
#define INLIER_BAND 3.0
/* Below this background variance (levels squared) a gain is not
 * measurable: the correction is an offset only. */
#define MIN_FIT_VARIANCE 4.0
#define MIN_GAIN         0.5
#define MAX_GAIN         2.0

struct video_motion {
    struct video_motion_options opts;
    int max_w, max_h; /* what the buffers hold */
    int src_w, src_h; /* the input the grid was made for; 0 = none yet */
    int gw, gh;       /* the grid */
    int *col;         /* gw + 1 column bounds in the source */
    float *col_inv;   /* 1 / the width of each column of cells */
    int *row;         /* gh + 1 row bounds */
    uint32_t *colsum; /* a band of rows' sums, one per byte of a source row */
    size_t colsum_cap;
    float *cur;                   /* this frame, downscaled */
    float *bg;                    /* the running background */
    uint8_t *mask;                /* changed cells */
    uint8_t *tmp;                 /* dilation, horizontal pass */
    uint8_t *dil;                 /* dilated; cleared as regions are taken */
    int32_t *queue;               /* cells of the region being taken */
    uint32_t hist[DIFF_BINS + 1]; /* one spare bin: a rounding can never reach it */
    bool have_bg;
};

void video_motion_options_init(struct video_motion_options *opts)
{
    *opts = (struct video_motion_options){
        .height = 100,
        .threshold = 20,
        .min_area = 0.001,
        .background_rate = 0.05,
        .dilation = 1,
    };
}

static int options_check(const struct video_motion_options *o, struct errbuf *err)
{
    if (o->height < 4 || o->height > 1024)
        return errbuf_set(err, -EINVAL, "motion gate: height %d is not in [4, 1024]", o->height);
    if (!(o->threshold > 0 && o->threshold <= 255))
        return errbuf_set(err, -EINVAL, "motion gate: threshold %g is not in (0, 255]",
                          o->threshold);
    if (!(o->min_area >= 0 && o->min_area <= 1))
        return errbuf_set(err, -EINVAL, "motion gate: min area %g is not in [0, 1]", o->min_area);
    if (!(o->background_rate > 0 && o->background_rate <= 1))
        return errbuf_set(err, -EINVAL, "motion gate: background rate %g is not in (0, 1]",
                          o->background_rate);
    if (o->dilation < 0 || o->dilation > 16)
        return errbuf_set(err, -EINVAL, "motion gate: dilation %d is not in [0, 16]", o->dilation);
    return 0;
}

int video_motion_new(const struct video_motion_options *opts, struct video_motion **ret_motion,
                     struct errbuf *err)
{
    struct video_motion_options defaults;
    if (!opts) {
        video_motion_options_init(&defaults);
        opts = &defaults;
    }
    int r = options_check(opts, err);
    if (r < 0)
        return r;
    struct video_motion *m = calloc(1, sizeof(*m));
    if (!m)
        return errbuf_set(err, -ENOMEM, "motion gate: out of memory");
    m->opts = *opts;
    m->max_h = opts->height;
    m->max_w = MAX_ASPECT * opts->height;
    size_t cells = (size_t)m->max_w * (size_t)m->max_h;
    m->col = calloc((size_t)m->max_w + 1, sizeof(*m->col));
    m->col_inv = calloc((size_t)m->max_w, sizeof(*m->col_inv));
    m->row = calloc((size_t)m->max_h + 1, sizeof(*m->row));
    m->cur = calloc(cells, sizeof(*m->cur));
    m->bg = calloc(cells, sizeof(*m->bg));
    m->mask = calloc(cells, 1);
    m->tmp = calloc(cells, 1);
    m->dil = calloc(cells, 1);
    m->queue = calloc(cells, sizeof(*m->queue));
    if (!m->col || !m->col_inv || !m->row || !m->cur || !m->bg || !m->mask || !m->tmp || !m->dil ||
        !m->queue) {
        video_motion_free(m);
        return errbuf_set(err, -ENOMEM, "motion gate: out of memory");
    }
    *ret_motion = m;
    return 0;
}

struct video_motion *video_motion_free(struct video_motion *m)
{
    if (!m)
        return NULL;
    free(m->col);
    free(m->col_inv);
    free(m->row);
    free(m->colsum);
    free(m->cur);
    free(m->bg);
    free(m->mask);
    free(m->tmp);
    free(m->dil);
    free(m->queue);
    free(m);
    return NULL;
}

void video_motion_reset(struct video_motion *m)
{
    m->have_bg = false;
}

/* The grid for a w x h input of `row_bytes` bytes a row: at most `height`
 * rows (never more than the input has), columns for the aspect, each cell at
 * least one pixel. The column sums grow for a wider input (a new size, not a
 * new frame). */
static int grid_setup(struct video_motion *m, int w, int h, size_t row_bytes)
{
    if (row_bytes > m->colsum_cap) {
        uint32_t *c = realloc(m->colsum, row_bytes * sizeof(*c));
        if (!c)
            return -ENOMEM;
        m->colsum = c;
        m->colsum_cap = row_bytes;
    }
    int gh = h < m->max_h ? h : m->max_h;
    long gw = lround((double)gh * w / h);
    if (gw > m->max_w)
        gw = m->max_w;
    if (gw > w)
        gw = w;
    if (gw < 1)
        gw = 1;
    m->gw = (int)gw;
    m->gh = gh;
    for (int i = 0; i <= m->gw; i++)
        m->col[i] = (int)((int64_t)i * w / m->gw);
    for (int i = 0; i < m->gw; i++)
        m->col_inv[i] = 1.0f / (float)(m->col[i + 1] - m->col[i]);
    for (int i = 0; i <= m->gh; i++)
        m->row[i] = (int)((int64_t)i * h / m->gh);
    m->src_w = w;
    m->src_h = h;
    m->have_bg = false;
    return 0;
}

/* Adds a row of n bytes to the column sums: in blocks of 16 that the
 * compiler turns into vector code. */
static void add_row(uint32_t *restrict sums, const uint8_t *restrict p, size_t n)
{
    size_t x = 0;
    for (; x + 16 <= n; x += 16)
        for (int k = 0; k < 16; k++)
            sums[x + k] += p[x + k];
    for (; x < n; x++)
        sums[x] += p[x];
}

/* Area average into m->cur: each band of rows summed per byte column, then
 * the columns of each cell. Inlined with constant step and rgb, so that
 * each input kind gets its own loop. */
static inline __attribute__((always_inline)) void
downscale(struct video_motion *m, const uint8_t *data, int stride, int step, bool rgb)
{
    const int gw = m->gw;
    const size_t n = rgb ? 3 * (size_t)m->src_w : (size_t)(m->src_w - 1) * step + 1;
    uint32_t *sums = m->colsum;
    for (int gy = 0; gy < m->gh; gy++) {
        memset(sums, 0, n * sizeof(*sums));
        for (int y = m->row[gy]; y < m->row[gy + 1]; y++)
            add_row(sums, data + (ptrdiff_t)y * stride, n); /* stride < 0: bottom-up */
        float band = 1.0f / ((float)(m->row[gy + 1] - m->row[gy]) * (rgb ? 4.0f : 1.0f));
        float *out = m->cur + (size_t)gy * gw;
        for (int gx = 0; gx < gw; gx++) {
            uint32_t sum = 0;
            for (int x = m->col[gx]; x < m->col[gx + 1]; x++) {
                if (rgb)
                    sum += sums[3 * x] + 2 * sums[3 * x + 1] + sums[3 * x + 2];
                else
                    sum += sums[(size_t)x * step];
            }
            out[gx] = (float)sum * band * m->col_inv[gx];
        }
    }
}

/* The lighting correction, cur ~ gain * bg + offset: the median difference
 * first (robust to what moved, as long as it covers less than half of the
 * picture), then least squares on the cells near it. */
static void lighting_fit(struct video_motion *m, int n, float *ret_gain, float *ret_offset)
{
    memset(m->hist, 0, sizeof(m->hist));
    for (int i = 0; i < n; i++) {
        /* Rounded: cur and bg are averages of 0..255, so d is in 0..510. */
        m->hist[(int)(m->cur[i] - m->bg[i] + 255.5f)]++;
    }
    uint32_t half = (uint32_t)n / 2, seen = 0;
    int bin = 0;
    while (bin < DIFF_BINS - 1 && (seen += m->hist[bin]) <= half)
        bin++;
    double median = bin - 255;
    double band = INLIER_BAND * m->opts.threshold;

    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int count = 0;
    for (int i = 0; i < n; i++) {
        double x = m->bg[i], y = m->cur[i];
        if (fabs(y - x - median) > band)
            continue;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
        count++;
    }
    double gain = 1, offset = median;
    if (count > n / 4) {
        double mx = sx / count, my = sy / count;
        double var = sxx / count - mx * mx;
        if (var >= MIN_FIT_VARIANCE)
            gain = fmin(MAX_GAIN, fmax(MIN_GAIN, (sxy / count - mx * my) / var));
        offset = my - gain * mx;
    }
    *ret_gain = (float)gain;
    *ret_offset = (float)offset;
}

/* m->dil = m->mask widened by r cells (a square), in two passes. */
static void dilate(struct video_motion *m, int r)
{
    const int gw = m->gw, gh = m->gh;
    size_t n = (size_t)gw * (size_t)gh;
    if (r == 0) {
        memcpy(m->dil, m->mask, n);
        return;
    }
    for (int y = 0; y < gh; y++) {
        const uint8_t *in = m->mask + (size_t)y * gw;
        uint8_t *out = m->tmp + (size_t)y * gw;
        memset(out, 0, (size_t)gw);
        for (int k = -r; k <= r; k++) /* out[x] |= in[x + k] where x + k is inside */
            for (int x = k < 0 ? -k : 0; x < (k > 0 ? gw - k : gw); x++)
                out[x] |= in[x + k];
    }
    for (int y = 0; y < gh; y++) {
        int a = y - r < 0 ? 0 : y - r, b = y + r >= gh ? gh - 1 : y + r;
        uint8_t *out = m->dil + (size_t)y * gw;
        memset(out, 0, (size_t)gw);
        for (int k = a; k <= b; k++) {
            const uint8_t *in = m->tmp + (size_t)k * gw;
            for (int x = 0; x < gw; x++)
                out[x] |= in[x];
        }
    }
}

/* Keeps the VIDEO_MOTION_MAX_BOXES largest regions, largest first. */
static void box_insert(struct video_motion_result *res, int *counts, int count,
                       struct video_box box)
{
    int at = res->nboxes;
    while (at > 0 && counts[at - 1] < count)
        at--;
    if (at >= VIDEO_MOTION_MAX_BOXES)
        return;
    int last = res->nboxes < VIDEO_MOTION_MAX_BOXES ? res->nboxes : VIDEO_MOTION_MAX_BOXES - 1;
    for (int k = last; k > at; k--) {
        res->boxes[k] = res->boxes[k - 1];
        counts[k] = counts[k - 1];
    }
    res->boxes[at] = box;
    counts[at] = count;
    if (res->nboxes < VIDEO_MOTION_MAX_BOXES)
        res->nboxes++;
}

/* Joins the dilated cells into 8-connected regions (clearing m->dil), and
 * reports those with at least min_cells changed cells. Returns how many
 * changed cells they hold. */
static int regions(struct video_motion *m, int min_cells, struct video_motion_result *res)
{
    const int gw = m->gw, gh = m->gh, n = gw * gh;
    int counts[VIDEO_MOTION_MAX_BOXES];
    int total = 0;

    for (int start = 0; start < n; start++) {
        if (!m->dil[start])
            continue;
        int head = 0, tail = 0;
        int count = 0, x0 = gw, y0 = gh, x1 = -1, y1 = -1;
        m->queue[tail++] = start;
        m->dil[start] = 0;
        while (head < tail) {
            int j = m->queue[head++];
            int x = j % gw, y = j / gw;
            if (m->mask[j]) {
                count++;
                x0 = x < x0 ? x : x0;
                x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0;
                y1 = y > y1 ? y : y1;
            }
            for (int dy = -1; dy <= 1; dy++) {
                int yy = y + dy;
                if (yy < 0 || yy >= gh)
                    continue;
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx;
                    if (xx < 0 || xx >= gw)
                        continue;
                    int k = yy * gw + xx;
                    if (m->dil[k]) {
                        m->dil[k] = 0;
                        m->queue[tail++] = k;
                    }
                }
            }
        }
        if (count < min_cells)
            continue;
        total += count;
        struct video_box box = {
            .x0 = (float)x0 / gw,
            .y0 = (float)y0 / gh,
            .x1 = (float)(x1 + 1) / gw,
            .y1 = (float)(y1 + 1) / gh,
        };
        box_insert(res, counts, count, box);
    }
    return total;
}

/* Compares m->cur with the background and updates it. */
static void detect(struct video_motion *m, struct video_motion_result *res)
{
    const int n = m->gw * m->gh;
    *res = (struct video_motion_result){.computed = true, .gain = 1};
    if (!m->have_bg) {
        memcpy(m->bg, m->cur, (size_t)n * sizeof(*m->bg));
        m->have_bg = true;
        res->reset = true;
        return;
    }
    float gain, offset;
    lighting_fit(m, n, &gain, &offset);
    res->gain = gain;
    res->offset = offset;
    /* The changed cells, and the background updated in the same pass. */
    const float thr = (float)m->opts.threshold, rate = (float)m->opts.background_rate;
    int any = 0;
    for (int i = 0; i < n; i++) {
        float b = m->bg[i], c = m->cur[i];
        float p = gain * b + offset;
        p = p < 0 ? 0 : p > 255 ? 255 : p; /* the camera clips too */
        uint8_t changed = fabsf(c - p) > thr;
        m->mask[i] = changed;
        any |= changed;
        m->bg[i] = b + rate * (c - b);
    }
    if (!any)
        return; /* the common case: nothing to join into regions */
    dilate(m, m->opts.dilation);
    int min_cells = (int)ceil(m->opts.min_area * n);
    if (min_cells < 1)
        min_cells = 1;
    int changed = regions(m, min_cells, res);
    res->moved = changed > 0;
    res->fraction = (float)changed / (float)n;
}

static int check_input(struct video_motion *m, const uint8_t *data, int width, int height,
                       int stride, int min_stride)
{
    if (!data || width < 1 || height < 1 || stride == INT32_MIN || abs(stride) < min_stride)
        return -EINVAL;
    if (width != m->src_w || height != m->src_h || (size_t)min_stride > m->colsum_cap)
        return grid_setup(m, width, height, (size_t)min_stride);
    return 0;
}

int video_motion_push_luma(struct video_motion *m, const uint8_t *luma, int width, int height,
                           int stride, int step, struct video_motion_result *ret_result)
{
    if (step < 1 || width > (INT32_MAX - 1) / step)
        return -EINVAL;
    int r = check_input(m, luma, width, height, stride, (width - 1) * step + 1);
    if (r < 0)
        return r;
    if (step == 1)
        downscale(m, luma, stride, 1, false);
    else if (step == 2)
        downscale(m, luma, stride, 2, false);
    else
        downscale(m, luma, stride, step, false);
    detect(m, ret_result);
    return 0;
}

int video_motion_push_rgb24(struct video_motion *m, const uint8_t *rgb, int width, int height,
                            int stride, struct video_motion_result *ret_result)
{
    if (width > INT32_MAX / 3)
        return -EINVAL;
    int r = check_input(m, rgb, width, height, stride, 3 * width);
    if (r < 0)
        return r;
    downscale(m, rgb, stride, 3, true);
    detect(m, ret_result);
    return 0;
}
