/* tl_proc: child processes of the tests (the daemon, ffmpeg servers, the
 * reference scripts): started with their argv and extra environment, waited
 * for with a bound, killed. A child dies with the test process, so a failed
 * test leaves nothing running. */
#ifndef CRTD_TESTS_TL_PROC_H
#define CRTD_TESTS_TL_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tl_proc {
    pid_t pid;  /* 0 once reaped */
    int out_fd; /* the child's stdout with stdout_pipe, else -1 */
};

/* All zero: the child inherits stdin, stdout, stderr and the environment. */
struct tl_proc_options {
    const char *const *env; /* "K=V" entries over the inherited environment, NULL-terminated */
    const char *log_path;   /* stdout and stderr appended to this file (created 0644) */
    bool stdout_pipe;       /* stdout on a pipe for tl_proc_read_line (wins over log_path) */
    bool stdin_null;        /* stdin from /dev/null */
    /* Socket activation as systemd does it: listen_fd becomes the child's
     * fd 3, with LISTEN_FDS=1 and LISTEN_PID set to the child's pid. */
    bool socket_activation;
    int listen_fd;
};

/* Starts argv[0] (searched in PATH when it has no '/'); opt may be NULL.
 * Returns 0 with the child in *ret, or a negative errno (*ret untouched). A
 * program that cannot be executed shows as the child's exit status 127. */
int tl_proc_spawn(struct tl_proc *ret, const char *const *argv, const struct tl_proc_options *opt);

/* Waits at most timeout_s (< 0: without a bound) for the child to exit.
 * Returns 0 with its wait status in *ret_status (may be NULL) once reaped,
 * -ETIMEDOUT while it still runs, -ECHILD when there is none (reaped before). */
int tl_proc_wait(struct tl_proc *p, double timeout_s, int *ret_status);

/* Sends sig and waits at most timeout_s. Returns what tl_proc_wait does,
 * except that on -ETIMEDOUT the child has been killed (SIGKILL) and reaped. */
int tl_proc_stop(struct tl_proc *p, int sig, double timeout_s, int *ret_status);

/* Kills the child (SIGKILL: a crash, not a goodbye), reaps it and closes its
 * pipe; for a child already reaped only the pipe is closed. */
void tl_proc_kill(struct tl_proc *p);

/* Reads one line (without its '\n') of the child's stdout pipe, waiting at
 * most timeout_s. 0, -ETIMEDOUT, -EPIPE when the child closed it, -EBADF
 * without a pipe. */
int tl_proc_read_line(struct tl_proc *p, char *buf, size_t size, double timeout_s);

#endif
