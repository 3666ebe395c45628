#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(CMO_SPLICE_F_MOVE == SPLICE_F_MOVE, "SPLICE_F_MOVE");
_Static_assert(CMO_SPLICE_F_NONBLOCK == SPLICE_F_NONBLOCK, "SPLICE_F_NONBLOCK");

ssize_t cmo_splice(int fd_in, int fd_out, size_t len, unsigned int flags) {
    return splice(fd_in, NULL, fd_out, NULL, len, flags);
}

ssize_t cmo_tee(int fd_in, int fd_out, size_t len, unsigned int flags) {
    return tee(fd_in, fd_out, len, flags);
}

int cmo_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int cmo_set_pipe_size(int fd, int size) {
    return fcntl(fd, F_SETPIPE_SZ, size);
}

/* The child's side of cmo_spawn, between fork and exec: only async-signal-safe calls. Never returns; on a
   failure it writes the errno to `report` (close-on-exec, so the parent reads EOF when exec succeeds). */
static void spawn_child(char *const candidates[], char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                        int stderr_fd, pid_t parent, int report, int max_fd) {
    int err = 0;
    if (parent > 0) {
        /* Dies with the process that spawned it: a `cmo-plan run` killed with -9 takes its stages along. Checked
           after prctl: had the parent died before it, this process was re-parented and nothing would ever
           signal it. */
        if (prctl(PR_SET_PDEATHSIG, (unsigned long)SIGKILL, 0, 0, 0) != 0) err = errno;
        if (err == 0 && getppid() != parent) {
            raise(SIGKILL);
            _exit(128 + SIGKILL);
        }
    }
    /* Every handled signal back to its default (a parent's handler must not run here), and SIGPIPE, SIGINT and
       SIGTERM too (the parent ignores them; exec keeps an ignored signal ignored). Then an empty mask. */
    for (int sig = 1; err == 0 && sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) != 0) continue;
        if (sa.sa_handler == SIG_DFL) continue;
        if (sa.sa_handler == SIG_IGN && sig != SIGPIPE && sig != SIGINT && sig != SIGTERM) continue;
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = 0;
        sigemptyset(&sa.sa_mask);
        (void)sigaction(sig, &sa, NULL);
    }
    int fds[3] = {stdin_fd, stdout_fd, stderr_fd};
    /* An fd that is also a target (stdout_fd == 0, say) must not be overwritten before it is copied. */
    for (int i = 0; err == 0 && i < 3; i++) {
        if (fds[i] >= 0 && fds[i] < 3 && fds[i] != i) {
            int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (moved < 0) err = errno;
            for (int j = 2; j > i && moved >= 0; j--) if (fds[j] == fds[i]) fds[j] = moved;
            fds[i] = moved;
        }
    }
    for (int i = 0; err == 0 && i < 3; i++) {
        if (fds[i] == i) {
            int flags = fcntl(i, F_GETFD);
            if (flags < 0 || fcntl(i, F_SETFD, flags & ~FD_CLOEXEC) < 0) err = errno;
        } else if (dup2(fds[i], i) < 0) {
            err = errno;
        }
    }
    /* Belt and braces for fds other code in this process opened without O_CLOEXEC; `report` stays open. */
    if (err == 0) {
#if __GLIBC_PREREQ(2, 34)
        if (report > 3) (void)close_range(3, (unsigned)report - 1, 0);
        if (close_range((unsigned)report + 1, ~0U, 0) != 0) {
            for (int fd = report + 1; fd < max_fd; fd++) (void)close(fd);
        }
#else
        for (int fd = 3; fd < max_fd; fd++) if (fd != report) (void)close(fd);
#endif
    }
    sigset_t none;
    sigemptyset(&none);
    if (err == 0 && sigprocmask(SIG_SETMASK, &none, NULL) != 0) err = errno;
    if (err == 0) {
        /* As execvp does: the first candidate that runs; EACCES if one existed but was not executable. */
        int seen_eacces = 0;
        err = ENOENT;
        for (int i = 0; candidates[i] != NULL; i++) {
            execve(candidates[i], argv, envp);
            if (errno == EACCES) seen_eacces = 1;
            else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT) {
                err = errno;
                seen_eacces = 0;
                break;
            }
        }
        if (seen_eacces) err = EACCES;
    }
    ssize_t n;
    do n = write(report, &err, sizeof err); while (n < 0 && errno == EINTR);
    _exit(127);
}

int cmo_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
              int stdin_fd, int stdout_fd, int stderr_fd, int die_with_parent) {
    /* The executable's candidate paths, made before fork (the child must not allocate): `path` itself when it
       has a slash, else each entry of this process's PATH, as posix_spawnp would search. */
    char **candidates;
    size_t count = 0;
    if (strchr(path, '/') != NULL) {
        candidates = calloc(2, sizeof *candidates);
        if (candidates == NULL) return ENOMEM;
        candidates[0] = strdup(path);
        if (candidates[0] == NULL) { free(candidates); return ENOMEM; }
        count = 1;
    } else {
        const char *search = getenv("PATH");
        if (search == NULL) search = "/bin:/usr/bin";
        size_t entries = 1;
        for (const char *c = search; *c; c++) if (*c == ':') entries++;
        candidates = calloc(entries + 1, sizeof *candidates);
        if (candidates == NULL) return ENOMEM;
        const char *start = search;
        while (1) {
            const char *colon = strchr(start, ':');
            size_t len = colon ? (size_t)(colon - start) : strlen(start);
            const char *dir = len == 0 ? "." : start;
            if (len == 0) len = 1;
            char *candidate = malloc(len + 1 + strlen(path) + 1);
            if (candidate == NULL) break;
            memcpy(candidate, dir, len);
            candidate[len] = '/';
            strcpy(candidate + len + 1, path);
            candidates[count++] = candidate;
            if (colon == NULL) break;
            start = colon + 1;
        }
    }
    int rc = 0;
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) rc = errno;
    long open_max = sysconf(_SC_OPEN_MAX);
    int max_fd = open_max > 0 && open_max < 65536 ? (int)open_max : 65536;
    if (rc == 0) {
        /* Every signal blocked across fork, so no handler of this process runs in the child before it resets them. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pid_t parent = die_with_parent ? getpid() : 0;
#if __GLIBC_PREREQ(2, 34)
        pid_t child = _Fork();  /* no atfork handlers: the child only makes system calls */
#else
        pid_t child = fork();
#endif
        if (child == 0) spawn_child(candidates, argv, envp, stdin_fd, stdout_fd, stderr_fd, parent, report[1], max_fd);
        if (child < 0) rc = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        close(report[1]);
        if (child > 0) {
            int err = 0;
            ssize_t n;
            do n = read(report[0], &err, sizeof err); while (n < 0 && errno == EINTR);
            if (n == (ssize_t)sizeof err) {
                /* exec failed: reap the child and report why. */
                int status;
                while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
                rc = err != 0 ? err : ENOEXEC;
            } else {
                *pid = child;
            }
        }
        close(report[0]);
    }
    for (size_t i = 0; i < count; i++) free(candidates[i]);
    free(candidates);
    return rc;
}

int cmo_exit_status(int status) {
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int cmo_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0);
}
