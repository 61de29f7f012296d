/* tl_proc: child processes of the tests (tl_proc.h).
 *
 * fork and exec rather than posix_spawn: the child must ask for
 * PR_SET_PDEATHSIG, which no spawn attribute offers. Some tests fork while
 * their own threads run (a video reader), so between fork and exec the child
 * calls only async-signal-safe functions: the environment and every string
 * are made before the fork. */
#include "tl_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* "LISTEN_PID=" and room for any pid, filled in by the child. */
#define LISTEN_PID_SIZE 32

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static size_t key_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

/* The inherited environment with opt's entries (and the activation's) over
 * it, in one allocation of pointers; the strings stay the caller's, except
 * listen_pid, which the child fills. */
static int make_env(const struct tl_proc_options *opt, char *listen_pid, char ***ret_env)
{
    size_t n_inherited = 0, n_extra = 0;
    while (environ[n_inherited])
        n_inherited++;
    while (opt->env && opt->env[n_extra])
        n_extra++;
    char **env = calloc(n_inherited + n_extra + 3, sizeof(*env));
    if (!env)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < n_inherited; i++)
        env[n++] = environ[i];
    const char *activation[] = {"LISTEN_FDS=1", listen_pid};
    for (size_t i = 0; i < n_extra + (opt->socket_activation ? 2 : 0); i++) {
        const char *entry = i < n_extra ? opt->env[i] : activation[i - n_extra];
        size_t klen = key_len(entry), k;
        for (k = 0; k < n; k++)
            if (key_len(env[k]) == klen && strncmp(env[k], entry, klen) == 0)
                break;
        env[k] = (char *)entry;
        if (k == n)
            n++;
    }
    env[n] = NULL;
    *ret_env = env;
    return 0;
}

/* Writes the decimal pid after "LISTEN_PID=" by hand: snprintf is not
 * async-signal-safe. */
static void fill_listen_pid(char *buf, pid_t pid)
{
    char digits[24];
    size_t n = 0, off = strlen("LISTEN_PID=");
    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0 && n < sizeof(digits));
    while (n > 0 && off + 1 < LISTEN_PID_SIZE)
        buf[off++] = digits[--n];
    buf[off] = '\0';
}

/* Moves fd onto target; closes fd unless it is one the child keeps. */
static void move_fd(int fd, int target, bool keep3)
{
    dup2(fd, target);
    if (fd > 2 && !(keep3 && fd == 3))
        close(fd);
}

static _Noreturn void child_main(const char *const *argv, const struct tl_proc_options *opt,
                                 char **env, char *listen_pid, int pipe_w, pid_t parent)
{
    /* A failed test leaves nothing behind: the child dies with the test. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    if (opt->socket_activation) {
        if (opt->listen_fd != 3) {
            dup2(opt->listen_fd, 3);
            close(opt->listen_fd);
        }
        fill_listen_pid(listen_pid, getpid());
    }
    if (opt->stdin_null) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            _exit(126);
        move_fd(fd, 0, opt->socket_activation);
    }
    if (opt->log_path && !opt->stdout_pipe) {
        int fd = open(opt->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, 2);
        move_fd(fd, 1, opt->socket_activation);
    }
    if (pipe_w >= 0)
        move_fd(pipe_w, 1, opt->socket_activation);
    execvpe(argv[0], (char *const *)argv, env);
    _exit(127);
}

int tl_proc_spawn(struct tl_proc *ret, const char *const *argv, const struct tl_proc_options *opt)
{
    static const struct tl_proc_options defaults = {0};
    char listen_pid[LISTEN_PID_SIZE] = "LISTEN_PID=";
    int fds[2] = {-1, -1};
    char **env = NULL;
    int r;

    if (!opt)
        opt = &defaults;
    if ((r = make_env(opt, listen_pid, &env)) < 0)
        return r;
    if (opt->stdout_pipe && pipe2(fds, O_CLOEXEC) < 0) {
        r = -errno;
        goto out;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        r = -errno;
        goto out;
    }
    if (pid == 0)
        child_main(argv, opt, env, listen_pid, fds[1], parent);
    ret->pid = pid;
    ret->out_fd = fds[0];
    fds[0] = -1;
    r = 0;

out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    free(env);
    return r;
}

int tl_proc_wait(struct tl_proc *p, double timeout_s, int *ret_status)
{
    int status = 0;
    if (p->pid <= 0)
        return -ECHILD;
    if (timeout_s < 0) {
        pid_t got;
        while ((got = waitpid(p->pid, &status, 0)) < 0 && errno == EINTR)
            ;
        if (got < 0)
            return -errno;
    } else {
        double end = mono_s() + timeout_s;
        for (;;) {
            pid_t got = waitpid(p->pid, &status, WNOHANG);
            if (got < 0 && errno != EINTR)
                return -errno;
            if (got == p->pid)
                break;
            if (mono_s() >= end)
                return -ETIMEDOUT;
            sleep_s(0.02);
        }
    }
    p->pid = 0;
    if (ret_status)
        *ret_status = status;
    return 0;
}

int tl_proc_stop(struct tl_proc *p, int sig, double timeout_s, int *ret_status)
{
    if (p->pid <= 0)
        return -ECHILD;
    if (sig)
        kill(p->pid, sig);
    int r = tl_proc_wait(p, timeout_s, ret_status);
    if (r == -ETIMEDOUT) {
        kill(p->pid, SIGKILL);
        tl_proc_wait(p, -1, NULL);
    }
    return r;
}

void tl_proc_kill(struct tl_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        tl_proc_wait(p, -1, NULL);
    }
    if (p->out_fd >= 0)
        close(p->out_fd);
    p->pid = 0;
    p->out_fd = -1;
}

int tl_proc_read_line(struct tl_proc *p, char *buf, size_t size, double timeout_s)
{
    size_t n = 0;
    double end = mono_s() + timeout_s;
    if (p->out_fd < 0)
        return -EBADF;
    while (n + 1 < size) {
        double left = end - mono_s();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pf = {.fd = p->out_fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        char ch;
        ssize_t k = read(p->out_fd, &ch, 1);
        if (k <= 0)
            return -EPIPE;
        if (ch == '\n')
            break;
        buf[n++] = ch;
    }
    buf[n] = '\0';
    return 0;
}
