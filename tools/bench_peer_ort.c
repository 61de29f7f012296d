/* ONNX Runtime as a benchmark peer: export with tests/ref/onnx_export.py, run
 * with tests/ref/ort_peer.js; each prints one JSON object on stdout. */
#include "bench_peer_ort.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "pose_cli.h"

/* Runs cmd through the shell and parses the last line it prints as JSON. */
static int run_json(const char *cmd, const char *what, json_t **ret, struct errbuf *err)
{
    char line[4096], last[4096] = "";
    FILE *p = popen(cmd, "r");

    if (!p)
        return errbuf_set(err, -errno, "cannot run %s: %s", what, strerror(errno));
    while (fgets(line, sizeof(line), p))
        if (line[0] == '{')
            memcpy(last, line, sizeof(last));
    int status = pclose(p);
    if (status != 0 || !last[0])
        return errbuf_set(err, -EIO,
                          "%s failed (exit status %d; run scripts/setup for "
                          "python3-onnx and onnxruntime-node)",
                          what, status > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : status);
    json_error_t jerr;
    *ret = json_loads(last, 0, &jerr);
    if (!*ret)
        return errbuf_set(err, -EBADMSG, "%s printed no JSON: %s", what, last);
    return 0;
}

static double number(const json_t *j, const char *key)
{
    const json_t *v = json_object_get(j, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int ort_peer_export(const char *python, const char *kind, const char *model, char *onnx_path,
                    size_t size, struct errbuf *err)
{
    char script[4096], cmd[16384];
    json_t *j = NULL;
    int r = pose_cli_source_path(script, sizeof(script), "tests/ref/onnx_export.py", err);

    if (r < 0)
        return r;
    if (snprintf(onnx_path, size, "/tmp/crt-bench-ort-XXXXXX.onnx") >= (int)size)
        return errbuf_set(err, -ENAMETOOLONG, "temporary path too long");
    int fd = mkstemps(onnx_path, 5);
    if (fd < 0)
        return errbuf_set(err, -errno, "%s: %s", onnx_path, strerror(errno));
    close(fd);
    snprintf(cmd, sizeof(cmd), "'%s' '%s' %s '%s' '%s'", python, script, kind, model, onnx_path);
    r = run_json(cmd, "tests/ref/onnx_export.py", &j, err);
    json_decref(j);
    if (r < 0)
        unlink(onnx_path);
    return r;
}

static int ort_script(char *script, size_t size, char *npm, size_t npm_size, struct errbuf *err)
{
    int r = pose_cli_source_path(script, size, "tests/ref/ort_peer.js", err);
    if (r < 0)
        return r;
    r = pose_cli_source_path(npm, npm_size, "third_party/npm/node_modules/onnxruntime-node", err);
    if (r < 0)
        return errbuf_set(err, r, "onnxruntime-node not found (run scripts/setup)");
    /* the packages' directory, as tfjs_pose.js takes it */
    char *slash = strrchr(npm, '/');
    if (slash)
        *slash = '\0';
    return 0;
}

int ort_peer_pose(const char *node, const char *onnx_path, const char *input_path, int frames,
                  int in_w, int in_h, double *ret_ms, double *ret_cpu_ms, struct errbuf *err)
{
    char script[4096], npm[4096], cmd[16384];
    json_t *j = NULL;
    int r = ort_script(script, sizeof(script), npm, sizeof(npm), err);

    if (r < 0)
        return r;
    snprintf(cmd, sizeof(cmd), "'%s' '%s' bench '%s' '%s' %d '%s' --size=%dx%d", node, script, npm,
             onnx_path, frames, input_path, in_h, in_w);
    if ((r = run_json(cmd, "ONNX Runtime (tests/ref/ort_peer.js)", &j, err)) < 0)
        return r;
    *ret_ms = number(j, "ms_per_frame");
    *ret_cpu_ms = number(j, "cpu_ms_per_frame");
    json_decref(j);
    if (!isfinite(*ret_ms))
        return errbuf_set(err, -EBADMSG, "ONNX Runtime printed no ms_per_frame");
    return 0;
}

int ort_peer_segment(const char *node, const char *onnx_path, int iters, double *ret_us,
                     double *ret_us_binding, struct errbuf *err)
{
    char script[4096], npm[4096], cmd[16384];
    json_t *j = NULL;
    int r = ort_script(script, sizeof(script), npm, sizeof(npm), err);

    if (r < 0)
        return r;
    snprintf(cmd, sizeof(cmd), "'%s' '%s' segment-bench '%s' '%s' %d", node, script, npm, onnx_path,
             iters);
    if ((r = run_json(cmd, "ONNX Runtime (tests/ref/ort_peer.js)", &j, err)) < 0)
        return r;
    *ret_us = number(j, "us_per_step");
    *ret_us_binding = number(j, "us_per_call_empty");
    json_decref(j);
    if (!isfinite(*ret_us))
        return errbuf_set(err, -EBADMSG, "ONNX Runtime printed no us_per_step");
    return 0;
}
