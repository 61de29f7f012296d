/* Unit tests of the API's error mapping and JSON error bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"

static void errno_maps_to_status(void **state)
{
    assert_int_equal(api_error_status(-ENOENT), 404);
    assert_int_equal(api_error_status(-EINVAL), 400);
    assert_int_equal(api_error_status(-EACCES), 401);
    assert_int_equal(api_error_status(-EEXIST), 409);
    assert_int_equal(api_error_status(-EIO), 500);
    assert_string_equal(api_error_code(-ENOENT), "not_found");
    assert_string_equal(api_error_code(-EIO), "internal");
}

static void error_body_has_code_and_message(void **state)
{
    json_t *body = api_error_body(-ENOENT, "stream 'kitchen' does not exist");
    const char *code = NULL, *message = NULL;
    assert_non_null(body);
    assert_int_equal(
        json_unpack(body, "{s:{s:s, s:s}}", "error", "code", &code, "message", &message), 0);
    assert_string_equal(code, "not_found");
    assert_string_equal(message, "stream 'kitchen' does not exist");
    json_decref(body);

    body = api_error_body(-ENOENT, NULL);
    assert_int_equal(json_unpack(body, "{s:{s:s}}", "error", "message", &message), 0);
    assert_string_equal(message, strerror(ENOENT));
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errno_maps_to_status),
        cmocka_unit_test(error_body_has_code_and_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
