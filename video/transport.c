/* transport: which lower transport RTSP uses, TCP interleaved or RTP over
 * UDP. Most cameras take either, and TCP goes through NAT and firewalls and
 * loses nothing, so it comes first; some servers answer a TCP SETUP with
 * 461 Unsupported Transport, others accept it and then send nothing. Under
 * VIDEO_TRANSPORT_AUTO either makes the stream try UDP at once, and what
 * worked is remembered by URL (password masked) for the life of the
 * process, so that a stream the daemon opens again starts with it. */
#include "stream_internal.h"

#include <string.h>

static const char *const transport_names[] = {
    [VIDEO_TRANSPORT_AUTO] = "auto",
    [VIDEO_TRANSPORT_TCP] = "tcp",
    [VIDEO_TRANSPORT_UDP] = "udp",
};
_Static_assert(ARRAY_SIZE(transport_names) == VIDEO_TRANSPORT_COUNT, "one name per transport");

const char *video_transport_name(enum video_transport transport)
{
    return (unsigned)transport < VIDEO_TRANSPORT_COUNT ? transport_names[transport] : "unknown";
}

int video_transport_parse(const char *text, enum video_transport *ret_transport)
{
    for (unsigned i = 0; i < VIDEO_TRANSPORT_COUNT; i++)
        if (text && strcmp(text, transport_names[i]) == 0) {
            *ret_transport = (enum video_transport)i;
            return 0;
        }
    return -EINVAL;
}

/* ---- what worked, by URL, for the life of the process ----------------------- */

/* Enough for every camera of a box; past it the least recently used URL is
 * forgotten (it then starts with TCP again). */
#define REMEMBERED_MAX 256

struct remembered {
    char name[512]; /* the masked URL, as struct video_stream's name */
    enum video_transport transport;
    uint64_t used; /* a clock of uses, for replacing the oldest */
};

static pthread_mutex_t remembered_lock = PTHREAD_MUTEX_INITIALIZER;
static struct remembered remembered[REMEMBERED_MAX];
static uint64_t remembered_clock;

static enum video_transport remembered_get(const char *name)
{
    enum video_transport t = VIDEO_TRANSPORT_AUTO;
    pthread_mutex_lock(&remembered_lock);
    for (size_t i = 0; i < REMEMBERED_MAX; i++)
        if (remembered[i].used && strcmp(remembered[i].name, name) == 0) {
            t = remembered[i].transport;
            remembered[i].used = ++remembered_clock;
            break;
        }
    pthread_mutex_unlock(&remembered_lock);
    return t;
}

static void remembered_put(const char *name, enum video_transport t)
{
    pthread_mutex_lock(&remembered_lock);
    struct remembered *slot = &remembered[0];
    for (size_t i = 0; i < REMEMBERED_MAX; i++) {
        if (remembered[i].used && strcmp(remembered[i].name, name) == 0) {
            slot = &remembered[i];
            break;
        }
        if (remembered[i].used < slot->used)
            slot = &remembered[i];
    }
    str_copy(slot->name, sizeof(slot->name), name);
    slot->transport = t;
    slot->used = ++remembered_clock;
    pthread_mutex_unlock(&remembered_lock);
}

/* ---- the stream's choice -------------------------------------------------------- */

void transport_init(struct video_stream *s)
{
    s->transport_known = false;
    if (s->opts.transport != VIDEO_TRANSPORT_AUTO) {
        s->transport_now = s->opts.transport;
        return;
    }
    /* Remembered or not, a transport is known to work only once this
     * stream has had a frame over it: until then a silence moves it. */
    enum video_transport t =
        s->kind == VIDEO_SOURCE_RTSP ? remembered_get(s->name) : VIDEO_TRANSPORT_AUTO;
    s->transport_now = t != VIDEO_TRANSPORT_AUTO ? t : VIDEO_TRANSPORT_TCP;
}

const char *transport_ffmpeg_name(const struct video_stream *s)
{
    return s->transport_now == VIDEO_TRANSPORT_UDP ? "udp" : "tcp";
}

bool transport_fallback(struct video_stream *s, int r, bool first, struct errbuf *err)
{
    if (s->kind != VIDEO_SOURCE_RTSP)
        return false;
    /* FFmpeg gives EPROTONOSUPPORT when every transport it was allowed got
     * 461 Unsupported Transport. */
    bool refused = r == AVERROR(EPROTONOSUPPORT);
    bool silent = r == -ETIMEDOUT;
    const char *now = transport_ffmpeg_name(s);
    if (s->opts.transport != VIDEO_TRANSPORT_AUTO) {
        if (silent && !s->transport_known) {
            char was[sizeof(err->msg)];
            str_copy(was, sizeof(was), errbuf_text(err, r));
            errbuf_set(err, r, "%s over %s (transport auto would try %s)", was,
                       s->opts.transport == VIDEO_TRANSPORT_UDP ? "UDP" : "TCP",
                       s->opts.transport == VIDEO_TRANSPORT_UDP ? "TCP" : "UDP");
        }
        if (refused)
            errbuf_set(err, r,
                       "'%s': the server refuses RTSP over %s (461 Unsupported Transport); set "
                       "transport to %s or auto",
                       s->name, s->opts.transport == VIDEO_TRANSPORT_UDP ? "UDP" : "TCP",
                       s->opts.transport == VIDEO_TRANSPORT_UDP ? "tcp" : "udp");
        return false;
    }
    /* A transport that worked before and now times out is a camera that is
     * away, not a transport that is wrong. */
    if (!first || !(refused || (silent && !s->transport_known))) {
        if (!first && refused)
            errbuf_set(err, r, "'%s': the server refuses RTSP over both TCP and UDP", s->name);
        return false;
    }
    s->transport_now =
        s->transport_now == VIDEO_TRANSPORT_UDP ? VIDEO_TRANSPORT_TCP : VIDEO_TRANSPORT_UDP;
    s->transport_known = false;
    log_debug("%s: %s over %s; trying %s", s->name, refused ? "refused" : "no packet", now,
              transport_ffmpeg_name(s));
    stream_count(s, &s->stats.transport_fallbacks);
    return true;
}

void transport_confirm(struct video_stream *s)
{
    if (s->kind != VIDEO_SOURCE_RTSP)
        return;
    pthread_mutex_lock(&s->lock);
    s->stats.transport = s->transport_now;
    pthread_mutex_unlock(&s->lock);
    s->transport_known = true;
    if (s->opts.transport == VIDEO_TRANSPORT_AUTO)
        remembered_put(s->name, s->transport_now);
}
