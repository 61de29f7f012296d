/* config_video: a stream's video options — one table, read from the
 * configuration file's text and from the API's JSON, written back as JSON
 * for the state store and the stream's snapshot, applied to struct
 * video_options. The FFmpeg options and the forced demuxer go through the
 * video library's allow-lists: whoever may add a camera may not make crtd
 * open this machine's files or other URLs through them. */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

enum cv_type {
    CV_NUMBER, /* double in [min, max] */
    CV_INT,    /* int in [min, max], or 0 where zero_ok */
    CV_CHOICE, /* an enum, by the words of choices (index = value) */
    CV_TEXT,   /* a string of size bytes, with an optional check */
};

struct cv_option {
    const char *name;
    enum cv_type type;
    size_t offset;
    size_t size;
    double min, max;
    bool zero_ok;
    const char *const *choices;
    int (*check)(const char *text, struct errbuf *err);
    const char *takes; /* for messages: what the option takes */
};

static const char *const transport_words[] = {"auto", "tcp", "udp", NULL};
static const char *const hwaccel_words[] = {"none", "vaapi", NULL};
static const char *const skip_words[] = {"auto", "off", "on", NULL};
static const char *const reconnect_words[] = {"auto", "always", "never", NULL};
_Static_assert(VIDEO_TRANSPORT_AUTO == 0 && VIDEO_TRANSPORT_TCP == 1 && VIDEO_TRANSPORT_UDP == 2,
               "transport_words follows enum video_transport");
_Static_assert(VIDEO_SKIP_AUTO == 0 && VIDEO_SKIP_OFF == 1 && VIDEO_SKIP_ON == 2,
               "skip_words follows enum video_skip");
_Static_assert(VIDEO_RECONNECT_AUTO == 0 && VIDEO_RECONNECT_ALWAYS == 1 &&
                   VIDEO_RECONNECT_NEVER == 2,
               "reconnect_words follows enum video_reconnect");
_Static_assert(VIDEO_HWACCEL_NONE == 0 && VIDEO_HWACCEL_VAAPI == 1,
               "hwaccel_words follows enum video_hwaccel");

/* A VAAPI device is a DRM node: nothing else may be opened as one. */
static int hw_device_check(const char *text, struct errbuf *err)
{
    const char *digits = NULL;
    if (strncmp(text, "/dev/dri/renderD", 16) == 0)
        digits = text + 16;
    else if (strncmp(text, "/dev/dri/card", 13) == 0)
        digits = text + 13;
    bool ok = digits && digits[0] && strspn(digits, "0123456789") == strlen(digits);
    return ok ? 0 : errbuf_set(err, -EINVAL, "'%.64s' is not /dev/dri/renderD<N> or card<N>", text);
}

#define OFF(field) offsetof(struct config_video, field)
#define SZ(field)  sizeof(((struct config_video *)0)->field)

static const struct cv_option options[] = {
    {"transport", CV_CHOICE, OFF(transport), 0, 0, 0, false, transport_words, NULL,
     "auto, tcp or udp"},
    {"max_side", CV_INT, OFF(max_side), 0, 16, 16384, true, NULL, NULL,
     "0 (the source's size) or 16 to 16384 pixels"},
    {"threads", CV_INT, OFF(threads), 0, 0, 64, false, NULL, NULL,
     "0 (FFmpeg's choice) to 64 decoder threads"},
    {"hwaccel", CV_CHOICE, OFF(hwaccel), 0, 0, 0, false, hwaccel_words, NULL, "none or vaapi"},
    {"hw_device", CV_TEXT, OFF(hw_device), SZ(hw_device), 0, 0, false, NULL, hw_device_check,
     "a VAAPI node, /dev/dri/renderD<N>"},
    {"format", CV_TEXT, OFF(format), SZ(format), 0, 0, false, NULL, video_format_check_safe,
     "an FFmpeg demuxer name (mpjpeg, mpegts, h264, ...)"},
    {"ffmpeg_options", CV_TEXT, OFF(ffmpeg_options), SZ(ffmpeg_options), 0, 0, false, NULL,
     video_ffmpeg_options_check_safe, "key=value:key=value of the safe FFmpeg options"},
    {"open_timeout_s", CV_NUMBER, OFF(open_timeout_s), 0, 0.1, 600, false, NULL, NULL,
     "0.1 to 600 seconds"},
    {"read_timeout_s", CV_NUMBER, OFF(read_timeout_s), 0, 0.1, 600, false, NULL, NULL,
     "0.1 to 600 seconds"},
    {"backoff_min_s", CV_NUMBER, OFF(backoff_min_s), 0, 0.01, 3600, false, NULL, NULL,
     "0.01 to 3600 seconds"},
    {"backoff_max_s", CV_NUMBER, OFF(backoff_max_s), 0, 0.01, 86400, false, NULL, NULL,
     "0.01 to 86400 seconds"},
    {"max_lag_s", CV_NUMBER, OFF(max_lag_s), 0, 0, 3600, false, NULL, NULL,
     "0 (never drop) to 3600 seconds"},
    {"skip_nonref", CV_CHOICE, OFF(skip_nonref), 0, 0, 0, false, skip_words, NULL,
     "auto, off or on"},
    {"reconnect", CV_CHOICE, OFF(reconnect), 0, 0, 0, false, reconnect_words, NULL,
     "auto, always or never"},
    {"motion_height", CV_INT, OFF(motion_height), 0, 4, 1024, false, NULL, NULL, "4 to 1024 rows"},
    {"motion_threshold", CV_NUMBER, OFF(motion_threshold), 0, 0.5, 255, false, NULL, NULL,
     "0.5 to 255 luma levels"},
    {"motion_min_area", CV_NUMBER, OFF(motion_min_area), 0, 0, 1, false, NULL, NULL,
     "a fraction of the picture, 0 to 1"},
    {"motion_background_rate", CV_NUMBER, OFF(motion_background_rate), 0, 0.001, 1, false, NULL,
     NULL, "0.001 to 1"},
    {"motion_dilation", CV_INT, OFF(motion_dilation), 0, 0, 16, false, NULL, NULL, "0 to 16 cells"},
};
#define N_OPTIONS ARRAY_SIZE(options)
_Static_assert(N_OPTIONS <= 32, "config_video.set has a bit per option");

const char *config_video_name(size_t i)
{
    return i < N_OPTIONS ? options[i].name : NULL;
}

void config_video_init(struct config_video *v)
{
    struct video_options o;
    video_options_init(&o);
    memset(v, 0, sizeof(*v));
    v->transport = o.transport;
    v->max_side = o.max_side;
    v->threads = o.threads;
    v->hwaccel = o.hwaccel;
    v->backoff_min_s = o.backoff_min_s;
    v->backoff_max_s = o.backoff_max_s;
    v->max_lag_s = o.max_lag_s;
    v->skip_nonref = o.skip_nonref;
    v->reconnect = o.reconnect;
    v->motion_height = o.motion_options.height;
    v->motion_dilation = o.motion_options.dilation;
    v->motion_threshold = o.motion_options.threshold;
    v->motion_min_area = o.motion_options.min_area;
    v->motion_background_rate = o.motion_options.background_rate;
}

static const struct cv_option *find(const char *key, size_t *ret_index)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].name, key) == 0) {
            *ret_index = i;
            return &options[i];
        }
    return NULL;
}

static void *field(struct config_video *v, const struct cv_option *o)
{
    return (char *)v + o->offset;
}

static const void *field_const(const struct config_video *v, const struct cv_option *o)
{
    return (const char *)v + o->offset;
}

static bool number_ok(const struct cv_option *o, double d)
{
    if (!isfinite(d))
        return false;
    if (o->type == CV_INT && d != floor(d))
        return false;
    return (d >= o->min && d <= o->max) || (o->zero_ok && d == 0);
}

/* Sets a number; false when out of range. */
static bool set_number(struct config_video *v, const struct cv_option *o, double d)
{
    if (!number_ok(o, d))
        return false;
    if (o->type == CV_INT)
        *(int *)field(v, o) = (int)d;
    else
        *(double *)field(v, o) = d;
    return true;
}

static bool set_choice(struct config_video *v, const struct cv_option *o, const char *word)
{
    for (int k = 0; o->choices[k]; k++)
        if (strcmp(o->choices[k], word) == 0) {
            *(int *)field(v, o) = k;
            return true;
        }
    return false;
}

/* A text option, with its check; the message names the key as the file
 * does ("format: ...") or the field as the API does ("'format' ..."). */
static int set_text(struct config_video *v, const struct cv_option *o, const char *text, bool json,
                    struct errbuf *err)
{
    char name[80];
    snprintf(name, sizeof(name), json ? "'%s'" : "%s:", o->name);
    struct errbuf e;
    errbuf_clear(&e);
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return errbuf_set(err, -EINVAL, "%s %s", name, "contains a control character");
    if (strlen(text) >= o->size)
        return errbuf_set(err, -EINVAL, "%s %s", name, "is too long");
    int r = text[0] && o->check ? o->check(text, &e) : 0;
    if (r < 0)
        return errbuf_set(err, r, "%s %s", name, errbuf_text(&e, r));
    str_copy(field(v, o), o->size, text);
    return 0;
}

int config_video_set(struct config_video *v, const char *key, const char *value, struct errbuf *err)
{
    size_t i;
    const struct cv_option *o = find(key, &i);
    if (!o)
        return -ENOENT;
    bool ok = true;
    if (o->type == CV_TEXT) {
        int r = set_text(v, o, value, false, err);
        if (r < 0)
            return r;
    } else if (o->type == CV_CHOICE) {
        ok = set_choice(v, o, value);
    } else {
        char *end;
        double d = strtod(value, &end);
        ok = end != value && *end == '\0' && set_number(v, o, d);
    }
    if (!ok)
        return errbuf_set(err, -EINVAL, "bad value '%.200s' for %s: %s", value, o->name, o->takes);
    v->set |= 1u << i;
    return 0;
}

int config_video_set_json(struct config_video *v, const char *key, const json_t *value,
                          struct errbuf *err)
{
    size_t i;
    const struct cv_option *o = find(key, &i);
    if (!o)
        return -ENOENT;
    bool ok;
    if (o->type == CV_TEXT) {
        if (!json_is_string(value))
            return errbuf_set(err, -EINVAL, "'%s' must be a string: %s", o->name, o->takes);
        int r = set_text(v, o, json_string_value(value), true, err);
        if (r < 0)
            return r;
        ok = true;
    } else if (o->type == CV_CHOICE) {
        ok = json_is_string(value) && set_choice(v, o, json_string_value(value));
    } else {
        ok = json_is_number(value) && set_number(v, o, json_number_value(value));
    }
    if (!ok)
        return errbuf_set(err, -EINVAL, "'%s' must be %s", o->name, o->takes);
    v->set |= 1u << i;
    return 0;
}

int config_video_set_object(struct config_video *v, const json_t *obj, struct errbuf *err)
{
    const char *key;
    const json_t *value;
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return errbuf_set(err, -EINVAL, "the video options are not a JSON object");
    json_object_foreach((json_t *)obj, key, value)
    {
        int r = config_video_set_json(v, key, value, err);
        if (r == -ENOENT)
            return errbuf_set(err, -EINVAL, "unknown video option '%.64s'", key);
        if (r < 0)
            return r;
    }
    return config_video_check(v, err);
}

int config_video_check(const struct config_video *v, struct errbuf *err)
{
    if (v->backoff_max_s < v->backoff_min_s)
        return errbuf_set(err, -EINVAL, "backoff_max_s (%g) is below backoff_min_s (%g)",
                          v->backoff_max_s, v->backoff_min_s);
    return 0;
}

bool config_video_equal(const struct config_video *a, const struct config_video *b)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct cv_option *o = &options[i];
        const void *x = field_const(a, o), *y = field_const(b, o);
        bool same = o->type == CV_TEXT     ? strcmp(x, y) == 0
                    : o->type == CV_NUMBER ? *(const double *)x == *(const double *)y
                                           : *(const int *)x == *(const int *)y;
        if (!same)
            return false;
    }
    return true;
}

json_t *config_video_json(const struct config_video *v, bool given_only, double camera_timeout_s)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < N_OPTIONS; i++) {
        const struct cv_option *o = &options[i];
        if (given_only && !(v->set & (1u << i)))
            continue;
        const void *x = field_const(v, o);
        json_t *value;
        if (o->type == CV_TEXT) {
            value = given_only || ((const char *)x)[0] ? json_string(x) : json_null();
        } else if (o->type == CV_CHOICE) {
            value = json_string(o->choices[*(const int *)x]);
        } else if (o->type == CV_INT) {
            value = json_integer(*(const int *)x);
        } else {
            double d = *(const double *)x;
            bool timeout = o->offset == OFF(open_timeout_s) || o->offset == OFF(read_timeout_s);
            if (!given_only && timeout && d == 0)
                d = camera_timeout_s; /* not given: [daemon]'s */
            value = json_real(d);
        }
        json_object_set_new(obj, o->name, value);
    }
    return obj;
}

void config_video_apply(const struct config_video *v, double camera_timeout_s,
                        struct video_options *ret_opts)
{
    struct video_options *o = ret_opts;
    video_options_init(o);
    o->transport = v->transport;
    o->max_side = v->max_side;
    o->threads = v->threads;
    o->hwaccel = v->hwaccel;
    o->hw_device = v->hw_device[0] ? v->hw_device : NULL;
    o->format = v->format[0] ? v->format : NULL;
    o->ffmpeg_options = v->ffmpeg_options[0] ? v->ffmpeg_options : NULL;
    double fallback = camera_timeout_s > 0 ? camera_timeout_s : o->open_timeout_s;
    o->open_timeout_s = v->open_timeout_s > 0 ? v->open_timeout_s : fallback;
    o->read_timeout_s = v->read_timeout_s > 0 ? v->read_timeout_s : fallback;
    o->backoff_min_s = v->backoff_min_s;
    o->backoff_max_s = v->backoff_max_s;
    o->max_lag_s = v->max_lag_s;
    o->skip_nonref = v->skip_nonref;
    o->reconnect = v->reconnect;
    o->motion_options.height = v->motion_height;
    o->motion_options.dilation = v->motion_dilation;
    o->motion_options.threshold = v->motion_threshold;
    o->motion_options.min_area = v->motion_min_area;
    o->motion_options.background_rate = v->motion_background_rate;
}
