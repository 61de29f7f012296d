/* api: the HTTP/JSON API of crtd on libmicrohttpd and Jansson. It knows the
 * daemon only through the narrow interface declared here. */
#ifndef CRTD_API_H
#define CRTD_API_H

#include <jansson.h>

#include "base.h"

/* ---- errors (error.c) ----------------------------------------------------- */

/* The HTTP status that answers a negative errno from the layers below. */
unsigned api_error_status(int code);

/* A short machine-readable code for the error, e.g. "not_found". */
const char *api_error_code(int code);

/* {"error": {"code": ..., "message": ...}}; a new reference, NULL on ENOMEM. */
json_t *api_error_body(int code, const char *message);

#endif
