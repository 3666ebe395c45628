#ifndef CSPAWN_H
#define CSPAWN_H

#include <stddef.h>
#include <sys/types.h>

/// splice(2)/tee(2) flags, checked against <fcntl.h> in cspawn.c.
enum { CMO_SPLICE_F_MOVE = 1, CMO_SPLICE_F_NONBLOCK = 2 };

/// splice(2) between two fds at their current offsets.
ssize_t cmo_splice(int fd_in, int fd_out, size_t len, unsigned int flags);

/// tee(2): duplicates up to len bytes from pipe fd_in into pipe fd_out without consuming them.
ssize_t cmo_tee(int fd_in, int fd_out, size_t len, unsigned int flags);

/// pipe2(fds, O_CLOEXEC): fds[0] the read end, fds[1] the write end; returns 0 or -1.
int cmo_pipe_cloexec(int fds[2]);

/// fcntl(F_SETPIPE_SZ); returns the new capacity or -1.
int cmo_set_pipe_size(int fd, int size);

/// Starts `path` (a bare name is looked up in this process's PATH, as posix_spawnp does) with the child's
/// stdin/stdout/stderr dup2'd from the given fds, every other fd closed, an empty signal mask, and default
/// dispositions for every handled signal and for SIGPIPE, SIGINT and SIGTERM. With `die_with_parent`, the child
/// gets SIGKILL when this process dies (PR_SET_PDEATHSIG, set between fork and exec; a parent already gone by
/// then is noticed and the child kills itself). Linux ties that signal to the *thread* that spawned: spawn
/// from a thread that outlives the child (the main thread). Returns 0 (and *pid) or an errno (the exec's too:
/// ENOENT for a missing executable).
int cmo_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
              int stdin_fd, int stdout_fd, int stderr_fd, int die_with_parent);

/// A waitpid status as a shell exit status: the exit code, or 128+n for signal n.
int cmo_exit_status(int status);

/// prctl(PR_SET_PDEATHSIG, sig): this process gets `sig` when its parent dies. Returns 0 or -1.
int cmo_parent_death_signal(int sig);

#endif
