/* Invoking the OCI runtime CLI (paas-runtime, runc or crun: same verbs and options).
 * Commands run synchronously: the shim forks, the child resets what the shim changed for
 * itself (blocked signals, ignored SIGPIPE) so the runtime, and through it the container,
 * starts with a clean slate, and the shim waits for that one pid. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGV (8 + SHIM_MAX_RUNTIME_ARGS + 16)

static void __attribute__ ((noreturn))
exec_child (char *const *argv, int fd_in, int fd_out, int fd_err)
{
  sigset_t none;
  int fds[3] = { fd_in, fd_out, fd_err };

  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  signal (SIGPIPE, SIG_DFL);
  for (int i = 0; i < 3; i++)
    {
      int fd = fds[i];
      if (fd == SHIM_FD_NULL)
        fd = open ("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
      if (fd < 0)
        _exit (126);
      /* Sources are >= 3 (0-2 of the shim are always open) or already in place. */
      if (fd != i && dup2 (fd, i) < 0)
        _exit (126);
    }
  shim_close_from (3);
  execvp (argv[0], argv);
  dprintf (STDERR_FILENO, "exec `%s`: %s\n", argv[0], strerror (errno));
  _exit (127);
}

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* Waits for the runtime command, reading its captured output meanwhile, for at most
 * rt->timeout_s: a hung runtime must not hang the shim (and with it the engine waiting for
 * "started"). A pidfd is used so that no SIGCHLD is consumed here: those belong to the
 * monitor's signalfd, which reaps the container. */
static int
wait_child (const struct shim_runtime *rt, const char *verb, pid_t pid, int cap_fd,
            char *capture, size_t capture_len, int *status, libpaas_error_t *err)
{
  int64_t deadline = rt->timeout_s ? shim_now_ms () + (int64_t) rt->timeout_s * 1000 : -1;
  size_t have = 0;
  bool exited = false;
  cleanup_close int pidfd = (int) syscall (SYS_pidfd_open, pid, 0);

  if (pidfd < 0)
    deadline = -1; /* kernel < 5.3: block in waitpid below */
  while (!exited && (cap_fd >= 0 || pidfd >= 0))
    {
      struct pollfd pfd[2];
      int n = 0, i_cap = -1, i_pid = -1;
      if (cap_fd >= 0)
        {
          i_cap = n;
          pfd[n++] = (struct pollfd){ .fd = cap_fd, .events = POLLIN };
        }
      if (pidfd >= 0)
        {
          i_pid = n;
          pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        }
      int timeout = -1;
      if (deadline >= 0)
        {
          int64_t left = deadline - shim_now_ms ();
          timeout = left > 0 ? (int) left : 0;
        }
      int r = poll (pfd, n, timeout);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        break;
      if (r == 0)
        {
          kill (pid, SIGKILL);
          while (waitpid (pid, status, 0) < 0 && errno == EINTR)
            ;
          return libpaas_make_error (err, 0, "`%s %s` timed out after %us", rt->path, verb,
                                     rt->timeout_s);
        }
      if (i_cap >= 0 && pfd[i_cap].revents)
        {
          char sink[512];
          char *dst = sink;
          size_t room = sizeof sink;
          if (capture && have + 1 < capture_len)
            {
              dst = capture + have;
              room = capture_len - 1 - have;
            }
          ssize_t got = read (cap_fd, dst, room);
          if (got <= 0 && !(got < 0 && errno == EINTR))
            cap_fd = -1; /* EOF; the caller closes it */
          else if (got > 0 && dst != sink)
            have += got;
        }
      if (i_pid >= 0 && pfd[i_pid].revents)
        exited = true;
    }
  if (cap_fd >= 0 && shim_set_nonblock (cap_fd) == 0)
    {
      /* Exited: take what it wrote, without waiting for heirs that may hold the pipe. */
      while (capture && have + 1 < capture_len)
        {
          ssize_t got = read (cap_fd, capture + have, capture_len - 1 - have);
          if (got <= 0)
            break;
          have += got;
        }
    }
  if (capture && capture_len)
    capture[have] = '\0';
  while (waitpid (pid, status, 0) < 0)
    if (errno != EINTR)
      return libpaas_make_error (err, errno, "wait for `%s %s`", rt->path, verb);
  return 0;
}

int
shim_runtime_run (const struct shim_runtime *rt, const char *verb, const char *const *args,
                  int fd_in, int fd_out, int fd_err, char *capture, size_t capture_len,
                  libpaas_error_t *err)
{
  const char *argv[MAX_ARGV];
  int argc = 0;
  int cap[2] = { -1, -1 };
  int status, rc;
  pid_t pid;

  argv[argc++] = rt->path;
  if (rt->root)
    {
      argv[argc++] = "--root";
      argv[argc++] = rt->root;
    }
  for (int i = 0; i < rt->n_extra; i++)
    argv[argc++] = rt->extra[i];
  argv[argc++] = verb;
  for (int i = 0; args[i] && argc < MAX_ARGV - 1; i++)
    argv[argc++] = args[i];
  argv[argc] = NULL;

  if (capture && capture_len)
    capture[0] = '\0';
  if (fd_out == SHIM_FD_CAPTURE || fd_err == SHIM_FD_CAPTURE)
    {
      if (pipe2 (cap, O_CLOEXEC) < 0)
        return libpaas_make_error (err, errno, "pipe for `%s %s`", rt->path, verb);
      if (fd_out == SHIM_FD_CAPTURE)
        fd_out = cap[1];
      if (fd_err == SHIM_FD_CAPTURE)
        fd_err = cap[1];
    }

  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close_fd (&cap[0]);
      close_fd (&cap[1]);
      return libpaas_make_error (err, e, "fork `%s %s`", rt->path, verb);
    }
  if (pid == 0)
    exec_child ((char *const *) argv, fd_in, fd_out, fd_err);

  if (cap[0] >= 0)
    close_fd (&cap[1]);
  rc = wait_child (rt, verb, pid, cap[0], capture, capture_len, &status, err);
  close_fd (&cap[0]);
  if (rc < 0)
    return rc;
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}
