/* listen: the address crtd's HTTP server listens on, as the configuration
 * and --listen give it ("127.0.0.1:8470", "[::1]:8470", "localhost:0"). */
#include "api.h"

#include <netdb.h>
#include <string.h>

int api_listen_parse(const char *listen, struct sockaddr_storage *ret_addr, socklen_t *ret_len,
                     struct errbuf *err)
{
    char host[256];
    const char *port;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST};
    struct addrinfo *res = NULL;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':' || (size_t)(close - listen) >= sizeof(host))
            return errbuf_set(err, -EINVAL, "listen address '%s': expected [IPv6]:PORT", listen);
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof(host) || colon == listen)
            return errbuf_set(err, -EINVAL, "listen address '%s': expected ADDRESS:PORT", listen);
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || p > 65535)
        return errbuf_set(err, -EINVAL, "listen address '%s': bad port", listen);
    if (strcmp(host, "localhost") == 0)
        str_copy(host, sizeof(host), "127.0.0.1");
    int r = getaddrinfo(host, port, &hints, &res);
    if (r != 0 || !res)
        return errbuf_set(err, -EINVAL, "listen address '%s': '%s' is not a numeric address",
                          listen, host);
    memcpy(ret_addr, res->ai_addr, res->ai_addrlen);
    *ret_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}
