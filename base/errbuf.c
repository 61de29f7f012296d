/* errbuf: negative-errno returns that carry a human message. */
#include "base.h"

#include <string.h>

int errbuf_setv(struct errbuf *err, int code, const char *fmt, va_list ap)
{
    if (err)
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int errbuf_set(struct errbuf *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    errbuf_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void errbuf_clear(struct errbuf *err)
{
    if (err)
        err->msg[0] = '\0';
}

const char *errbuf_text(const struct errbuf *err, int code)
{
    if (err && err->msg[0])
        return err->msg;
    return strerror(code < 0 ? -code : code);
}
