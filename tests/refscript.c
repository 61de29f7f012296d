/* refscript: running a reference script as a child process. */
#include "refscript.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tl_proc.h"

const char *refscript_env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int refscript_run(const char *script_env, const char *fallback_script, const char *command,
                  const char *out_dir)
{
    return refscript_run_args(script_env, fallback_script, command, out_dir, NULL, 0);
}

int refscript_run_args(const char *script_env, const char *fallback_script, const char *command,
                       const char *out_dir, const char *const *args, int n_args)
{
    const char *python = refscript_env_or("CRTD_PYTHON", "/usr/bin/python3");
    const char *script = refscript_env_or(script_env, fallback_script);
    const char **argv = calloc((size_t)n_args + 6, sizeof(*argv));
    if (!argv)
        return -1;
    const char *head[] = {python, script, command, "--out", out_dir};
    memcpy(argv, head, sizeof(head));
    if (n_args > 0)
        memcpy(argv + 5, args, (size_t)n_args * sizeof(*argv));
    struct tl_proc p;
    int status = -1;
    /* No bound on the wait: PyTorch on shared cores takes what it takes, and
     * meson's timeout of the test is the bound. */
    int r = tl_proc_spawn(&p, argv, NULL);
    if (r == 0)
        r = tl_proc_wait(&p, -1, &status);
    free(argv);
    if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s %s %s --out %s failed (status %d)\n", python, script, command, out_dir,
                status);
        return -1;
    }
    return 0;
}
