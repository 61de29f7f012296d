/* refproc: a reference script's JSON answer. */
#include "refproc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define REFPROC_MAX_OUTPUT (1 << 20)

json_t *refproc_run_json(char *const *argv, char *why, size_t why_size)
{
    int fds[2];
    if (access(argv[0], X_OK) < 0) {
        snprintf(why, why_size, "%s: %s", argv[0], strerror(errno));
        return NULL;
    }
    if (pipe(fds) < 0) {
        snprintf(why, why_size, "pipe: %s", strerror(errno));
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char *buf = malloc(REFPROC_MAX_OUTPUT + 1);
    size_t used = 0;
    ssize_t n = 0;
    while (buf && used < REFPROC_MAX_OUTPUT &&
           (n = read(fds[0], buf + used, REFPROC_MAX_OUTPUT - used)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        used += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!buf) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    buf[used] = '\0';
    json_t *out = NULL;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, why_size, "%s failed (exit status %d)", argv[0],
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else {
        json_error_t jerr;
        /* The answer is the last line: scripts may print progress first. */
        char *last = buf + used;
        while (last > buf && (last[-1] == '\n' || last[-1] == ' '))
            *--last = '\0';
        char *line = strrchr(buf, '\n');
        out = json_loads(line ? line + 1 : buf, 0, &jerr);
        if (!json_is_object(out)) {
            snprintf(why, why_size, "%s printed no JSON object: %.100s", argv[0], jerr.text);
            json_decref(out);
            out = NULL;
        }
    }
    free(buf);
    return out;
}
