/* error: negative errnos become HTTP statuses and JSON error bodies. */
#include "api.h"

static const struct {
    int code;
    unsigned status;
    const char *name;
} error_table[] = {
    {-EINVAL, 400, "invalid_argument"}, {-EBADMSG, 400, "bad_request"},
    {-EACCES, 401, "unauthorized"},     {-EPERM, 403, "forbidden"},
    {-ENOENT, 404, "not_found"},        {-EEXIST, 409, "already_exists"},
    {-E2BIG, 413, "payload_too_large"}, {-EMSGSIZE, 413, "payload_too_large"},
    {-EUSERS, 429, "too_many_clients"}, {-EBUSY, 503, "busy"},
    {-EAGAIN, 503, "unavailable"},      {-ENOSPC, 507, "insufficient_storage"},
    {-ENOSYS, 501, "not_implemented"},  {-EOPNOTSUPP, 405, "method_not_allowed"},
    {-ENODATA, 422, "unprocessable"},   {-EALREADY, 409, "conflict"},
};

unsigned api_error_status(int code)
{
    for (size_t i = 0; i < ARRAY_SIZE(error_table); i++)
        if (error_table[i].code == code)
            return error_table[i].status;
    return 500;
}

const char *api_error_code(int code)
{
    for (size_t i = 0; i < ARRAY_SIZE(error_table); i++)
        if (error_table[i].code == code)
            return error_table[i].name;
    return "internal";
}

json_t *api_error_body(int code, const char *message)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", api_error_code(code), "message",
                     message ? message : errbuf_text(NULL, code));
}
