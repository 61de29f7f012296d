/* pose_cli: model lookup for the pose commands, and the OpenBLAS kernel choice
 * made before the library runs (cli_tune_blas). */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "pose_cli.h"

/* Debian's OpenBLAS 0.3.21 does not know recent AMD cores and runs its AVX2
 * (Haswell) kernels on them, half the speed of its AVX-512 (SkylakeX) kernels
 * on the same machine. OpenBLAS reads OPENBLAS_CORETYPE once, when it loads,
 * so the choice is made here, first thing in main: when the CPU and the OS
 * support AVX-512 F/DQ/BW/VL (what the SkylakeX kernels use) and the user has
 * not chosen a core type, set it and re-execute the same program. On any other
 * x86-64 (or if exec fails) nothing changes and OpenBLAS picks as usual. */
void cli_tune_blas(char **argv)
{
#if defined(__x86_64__)
    if (getenv("OPENBLAS_CORETYPE") || getenv("CRTD_NO_BLAS_TUNE"))
        return;
    if (!cpu_has_avx512())
        return;
    if (setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) < 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on as we are */
#else
    (void)argv;
#endif
}

static enum pose_isa pose_cli_isa = POSE_ISA_BEST;

struct pose_options pose_cli_options(void)
{
    return (struct pose_options){.max_isa = pose_cli_isa};
}

int pose_cli_isa_option(const char *arg, const char *command)
{
    if (pose_isa_parse(arg, &pose_cli_isa) < 0) {
        cli_error(command, "--isa must be best, avx512, avx2, neon or portable, not '%s'", arg);
        return -1;
    }
    return 0;
}

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

/* The directory two levels above the running binary (build-dir/tools/crt). */
static bool exe_source_root(char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0)
        return false;
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return false;
        *slash = '\0';
    }
    return str_copy(buf, size, exe) == 0;
}

/* An absolute path, so that what is handed to another program (node's module
 * path, a script) still holds whatever its current directory is. */
static int found(char *buf, size_t size, const char *path)
{
    char abs[PATH_MAX];
    if (!readable(path) || !realpath(path, abs) || str_copy(buf, size, abs) < 0)
        return -ENOENT;
    return 0;
}

int pose_cli_source_path(char *buf, size_t size, const char *relative, struct errbuf *err)
{
    char path[PATH_MAX], root[PATH_MAX];

    /* The source tree the build was configured from, wherever the build
     * directory is; then the tree two levels above the binary; then here. */
#ifdef CRTD_SOURCE_ROOT
    if (snprintf(path, sizeof(path), "%s/%s", CRTD_SOURCE_ROOT, relative) < (int)sizeof(path) &&
        found(buf, size, path) == 0)
        return 0;
#endif
    if (exe_source_root(root, sizeof(root)) &&
        snprintf(path, sizeof(path), "%s/%s", root, relative) < (int)sizeof(path) &&
        found(buf, size, path) == 0)
        return 0;
    if (found(buf, size, relative) == 0)
        return 0;
    return errbuf_set(err, -ENOENT, "cannot find %s in the source tree or here", relative);
}

int pose_cli_model_path(char *buf, size_t size, const char *model, const char *models_dir,
                        struct errbuf *err)
{
    char rel[256];

    if (strcmp(model, "lightning") != 0 && strcmp(model, "thunder") != 0 &&
        strcmp(model, "multipose") != 0) {
        if (!readable(model))
            return errbuf_set(err, -errno,
                              "model '%s' is not lightning, thunder, multipose or a readable "
                              "model.json (%s)",
                              model, strerror(errno));
        return str_copy(buf, size, model) < 0 ? errbuf_set(err, -ENAMETOOLONG, "path too long") : 0;
    }
    if (!models_dir)
        models_dir = getenv("CRTD_MODELS");
    if (models_dir) {
        if (snprintf(buf, size, "%s/movenet-%s.json", models_dir, model) < (int)size &&
            readable(buf))
            return 0;
        return errbuf_set(err, -ENOENT, "%s/movenet-%s.json: not found", models_dir, model);
    }
    snprintf(rel, sizeof(rel), "third_party/models/movenet-%s.json", model);
    if (pose_cli_source_path(buf, size, rel, err) == 0)
        return 0;
#ifdef CRTD_DATADIR
    /* Installed: beside the default model (daemon/meson.build installs them). */
    char installed[PATH_MAX];
    if (snprintf(installed, sizeof(installed), "%s/models/movenet-%s.json", CRTD_DATADIR, model) <
            (int)sizeof(installed) &&
        found(buf, size, installed) == 0)
        return 0;
#endif
    return errbuf_set(err, -ENOENT,
                      "movenet-%s.json not found (run scripts/setup, or pass --models DIR)", model);
}

void pose_cli_people_default(struct pose_cli_people *o)
{
    *o = (struct pose_cli_people){.pose_name = "multipose", .side = 256, .fps = 10};
}

int pose_cli_people_option(struct pose_cli_people *o, int c, const char *arg, const char *command)
{
    char *end;
    switch (c) {
    case 'p':
        o->pose_name = arg;
        return 1;
    case 'd':
        o->models_dir = arg;
        return 1;
    case 'S':
        if (!cli_parse_long(arg, POSE_PEOPLE_MIN_SIDE, POSE_PEOPLE_MAX_SIDE, &o->side) ||
            o->side % 32) {
            cli_error(command, "--side must be a multiple of 32 from %d to %d",
                      POSE_PEOPLE_MIN_SIDE, POSE_PEOPLE_MAX_SIDE);
            return -1;
        }
        return 1;
    case 'f':
        o->fps = strtod(arg, &end);
        if (!*arg || *end || !(o->fps > 0 && o->fps <= 120)) {
            cli_error(command, "--fps must be a number above 0, at most 120");
            return -1;
        }
        return 1;
    case 'n':
        if (!cli_parse_long(arg, 1, 100000000, &o->max_frames)) {
            cli_error(command, "--max-frames must be a positive whole number");
            return -1;
        }
        return 1;
    case 'I':
        return pose_cli_isa_option(arg, command) < 0 ? -1 : 1;
    default:
        return 0;
    }
}

int pose_cli_open(const char *name, const char *models_dir, char *path, size_t size,
                  struct pose_model **ret_model, struct pose_context **ret_context,
                  struct errbuf *err)
{
    struct pose_options options = pose_cli_options();
    struct pose_model *model = NULL;
    int r = pose_cli_model_path(path, size, name, models_dir, err);
    if (r >= 0)
        r = pose_model_load_opts(path, &options, &model, err);
    if (r >= 0 && (r = pose_context_new(model, ret_context, err)) < 0)
        model = pose_model_free(model);
    if (r >= 0)
        *ret_model = model;
    return r;
}
