/* resolve: from a URL crtd accepts to what FFmpeg opens: the URL itself, the
 * demuxer a device or generated source needs, the protocols the source may
 * use, and the host name, resolved where a stop can walk away from it. */
#include "stream_internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>

#include <libavutil/time.h>

int resolve_url(const char *url, enum video_source_kind kind, const char *name,
                const char **ret_open_url, struct errbuf *err)
{
    if (kind == VIDEO_SOURCE_RTSP || kind == VIDEO_SOURCE_HTTP) {
        char host[256] = "";
        av_url_split(NULL, 0, NULL, 0, host, sizeof(host), NULL, NULL, 0, url);
        if (!host[0])
            return errbuf_set(err, -EINVAL, "'%s': no host in the URL", name);
    }
    const char *open_url = url;
    if (kind == VIDEO_SOURCE_LAVFI)
        open_url = url + strlen("lavfi:");
    else if (kind == VIDEO_SOURCE_DEVICE && strncasecmp(url, "v4l2://", 7) == 0)
        open_url = url + strlen("v4l2://");
    *ret_open_url = open_url;
    return 0;
}

const char *resolve_format(enum video_source_kind kind, const char *forced)
{
    if (forced)
        return forced;
    if (kind == VIDEO_SOURCE_DEVICE)
        return "video4linux2";
    if (kind == VIDEO_SOURCE_LAVFI)
        return "lavfi";
    return NULL;
}

/* The FFmpeg protocols a source of each kind may use, itself and whatever
 * its demuxer opens on its behalf (an HLS playlist's segments, RTSP's RTP
 * sockets). Without this a URL such as "concat:a|b" or a playlist naming
 * file:/etc/... would read local files through a network camera's entry. */
const char *resolve_protocols(enum video_source_kind kind)
{
    switch (kind) {
    case VIDEO_SOURCE_RTSP:
        return "rtsp,rtsps,rtp,srtp,udp,tcp,tls";
    case VIDEO_SOURCE_HTTP:
        return "http,https,tcp,tls,crypto";
    case VIDEO_SOURCE_FILE:
        return "file";
    case VIDEO_SOURCE_DEVICE:
    case VIDEO_SOURCE_LAVFI:
        return NULL; /* their demuxers open no protocol */
    }
    return NULL;
}

/* FFmpeg resolves host names with a plain getaddrinfo(), which its interrupt
 * callback cannot cut short: a dead DNS server (or an unanswered .local name)
 * would hold a stop for the resolver's whole timeout. The name is resolved
 * first on a helper thread that the stream can walk away from; FFmpeg's own
 * lookup right after finds the answer fresh. */
struct resolve_job {
    atomic_int refs; /* the waiting stream and the helper thread */
    pthread_mutex_t lock;
    bool done;
    int gai_error;
    char host[256];
};

static void resolve_job_unref(struct resolve_job *job)
{
    if (atomic_fetch_sub(&job->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&job->lock);
    free(job);
}

static void *resolve_main(void *arg)
{
    struct resolve_job *job = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int r = getaddrinfo(job->host, NULL, &hints, &ai);
    if (ai)
        freeaddrinfo(ai);
    pthread_mutex_lock(&job->lock);
    job->gai_error = r;
    job->done = true;
    pthread_mutex_unlock(&job->lock);
    resolve_job_unref(job);
    return NULL;
}

static bool host_is_numeric(const char *host)
{
    unsigned char addr[16];
    char bare[256];
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(bare)) {
        memcpy(bare, host + 1, len - 2);
        bare[len - 2] = '\0';
        host = bare;
    }
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

int resolve_host(struct video_stream *s, struct errbuf *err)
{
    char host[256] = "";
    av_url_split(NULL, 0, NULL, 0, host, sizeof(host), NULL, NULL, 0, s->open_url);
    if (!host[0] || host_is_numeric(host))
        return 0;

    struct resolve_job *job = calloc(1, sizeof(*job));
    if (!job)
        return 0; /* let FFmpeg try */
    atomic_init(&job->refs, 2);
    pthread_mutex_init(&job->lock, NULL);
    str_copy(job->host, sizeof(job->host), host);
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int r = pthread_create(&thread, &attr, resolve_main, job);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        pthread_mutex_destroy(&job->lock);
        free(job);
        return 0;
    }

    int64_t deadline = time_mono_ns() + (int64_t)(s->opts.open_timeout_s * 1e9);
    bool done = false;
    int gai_error = 0;
    for (;;) {
        pthread_mutex_lock(&job->lock);
        done = job->done;
        gai_error = job->gai_error;
        pthread_mutex_unlock(&job->lock);
        if (done || stream_stop_requested(s) || time_mono_ns() > deadline)
            break;
        av_usleep(10000);
    }
    resolve_job_unref(job); /* the helper frees it if it is still waiting */
    if (done && gai_error == 0)
        return 0;
    if (!done && stream_stop_requested(s))
        return -ECANCELED;
    if (!done)
        return errbuf_set(err, -ETIMEDOUT, "'%s': cannot open: host '%s' not resolved within %g s",
                          s->name, host, s->opts.open_timeout_s);
    return errbuf_set(err, -EHOSTUNREACH, "'%s': cannot open: cannot resolve host '%s': %s",
                      s->name, host, gai_strerror(gai_error));
}
