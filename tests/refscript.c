/* refscript: running a reference script as a child process. */
#include "refscript.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

const char *refscript_env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int refscript_run(const char *script_env, const char *fallback_script, const char *command,
                  const char *out_dir)
{
    const char *python = refscript_env_or("CRTD_PYTHON", "/usr/bin/python3");
    const char *script = refscript_env_or(script_env, fallback_script);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        execl(python, python, script, command, "--out", out_dir, (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s %s %s --out %s failed (status %d)\n", python, script, command, out_dir,
                status);
        return -1;
    }
    return 0;
}
