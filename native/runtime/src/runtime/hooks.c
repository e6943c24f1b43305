#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "utils.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* How much of a failing hook's output the error quotes (its end: where the reason is). */
#define OUTPUT_TAIL 400

static void __attribute__ ((noreturn))
hook_child (const struct paas_hook *h, int in, int out, int errfd)
{
  char *argv0[] = { h->path, NULL };
  char *no_env[] = { NULL };
  sigset_t none;
  int e;
  /* Not the caller's signal state (a waiting `run` blocks some; ignored ones survive exec). */
  for (int s = 1; s < NSIG; s++)
    signal (s, SIG_DFL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* A group of its own: a timeout kills whatever the hook started too. */
  setpgid (0, 0);
  if (dup2 (in, 0) < 0 || dup2 (out, 1) < 0 || dup2 (out, 2) < 0)
    goto fail;
  /* None of the runtime's descriptors (state lock, sockets, a container's fifo) leak. */
  if (syscall (SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    for (int fd = 3; fd < 1024; fd++)
      if (fd != errfd)
        close (fd);
  execve (h->path, h->n_args ? h->args : argv0, h->env ? h->env : no_env);
fail:
  e = errno;
  if (write (errfd, &e, sizeof (e)) < 0)
    _exit (127);
  _exit (127);
}

static long long
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits for pid; with a deadline (ms, 0: none), kills its process group once it passes.
 * Returns 1 on timeout, -1 when it cannot be waited for (errno). A pidfd makes the wait exact; without one (old kernels, a seccomp
 * profile refusing pidfd_open in the container) it polls with a growing sleep. */
static int
wait_hook (pid_t pid, long long deadline, int *status)
{
  cleanup_close int pidfd = syscall (SYS_pidfd_open, pid, 0);
  long step_us = 100;
  for (;;)
    {
      pid_t r = waitpid (pid, status, WNOHANG);
      long long left = deadline ? deadline - now_ms () : -1;
      if (r == pid)
        return 0;
      if (r < 0 && errno != EINTR)
        return -1; /* its status is unknown (ECHILD: SIGCHLD ignored): not a success */
      if (deadline && left <= 0)
        {
          kill (-pid, SIGKILL);
          kill (pid, SIGKILL);
          while (waitpid (pid, status, 0) < 0 && errno == EINTR)
            ;
          return 1;
        }
      if (pidfd >= 0)
        {
          struct pollfd p = { .fd = pidfd, .events = POLLIN };
          poll (&p, 1, left < 0 || left > 1000000 ? 1000000 : (int) left);
        }
      else
        {
          long us = left >= 0 && left * 1000 < step_us ? left * 1000 : step_us;
          nanosleep (&(struct timespec) { us / 1000000, us % 1000000 * 1000 }, NULL);
          step_us = step_us < 20000 ? step_us * 2 : step_us;
        }
    }
}

/* ": <the end of the output, on one line>", or "" when it printed nothing. */
static char *
output_tail (int fd)
{
  char buf[OUTPUT_TAIL + 1];
  struct stat st;
  off_t from;
  ssize_t n;
  if (fstat (fd, &st) < 0 || st.st_size == 0)
    return libpaas_xstrdup ("");
  from = st.st_size > OUTPUT_TAIL ? st.st_size - OUTPUT_TAIL : 0;
  n = pread (fd, buf, OUTPUT_TAIL, from);
  if (n <= 0)
    return libpaas_xstrdup ("");
  buf[n] = '\0';
  for (ssize_t i = 0; i < n; i++)
    if ((unsigned char) buf[i] < 0x20 || buf[i] == 0x7f)
      buf[i] = ' ';
  while (n > 0 && buf[n - 1] == ' ')
    buf[--n] = '\0';
  return n ? libpaas_xasprintf (": %s%s", from ? "..." : "", buf + strspn (buf, " "))
           : libpaas_xstrdup ("");
}

static int
run_one (const struct paas_hook *h, const char *field, const char *state, libpaas_error_t *err)
{
  cleanup_close int in = -1, out = -1, ep_r = -1, ep_w = -1;
  cleanup_free char *tail = NULL;
  int ep[2], status = 0, e = 0;
  ssize_t n;
  pid_t pid;

  in = memfd_create ("paas-hook-state", MFD_CLOEXEC);
  out = memfd_create ("paas-hook-output", MFD_CLOEXEC);
  if (in < 0 || out < 0)
    return libpaas_make_error (err, errno, "hook `%s`: memfd_create", field);
  if (libpaas_write_all (in, state, strlen (state)) < 0 || lseek (in, 0, SEEK_SET) < 0)
    return libpaas_make_error (err, errno, "hook `%s`: write the state", field);
  /* Reports an execve failure (errno); closed by a successful one. */
  if (pipe2 (ep, O_CLOEXEC) < 0)
    return libpaas_make_error (err, errno, "hook `%s`: pipe", field);
  ep_r = ep[0];
  ep_w = ep[1];
  pid = fork ();
  if (pid < 0)
    return libpaas_make_error (err, errno, "hook `%s`: fork", field);
  if (pid == 0)
    hook_child (h, in, out, ep_w);
  close (steal_fd (&ep_w));
  do
    n = read (ep_r, &e, sizeof (e));
  while (n < 0 && errno == EINTR);
  if (n == sizeof (e))
    {
      while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
      return libpaas_make_error (err, e, "hook `%s`: exec `%s`", field, h->path);
    }
  int waited = wait_hook (pid, h->timeout ? now_ms () + h->timeout * 1000LL : 0, &status);
  if (waited < 0)
    return libpaas_make_error (err, errno, "hook `%s` (`%s`): wait", field, h->path);
  if (waited > 0)
    return libpaas_make_error (err, 0, "hook `%s` (`%s`): timed out after %d s, killed", field,
                               h->path, h->timeout);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  tail = output_tail (out);
  if (WIFSIGNALED (status))
    return libpaas_make_error (err, 0, "hook `%s` (`%s`): killed by signal %d%s", field, h->path,
                               WTERMSIG (status), tail);
  return libpaas_make_error (err, 0, "hook `%s` (`%s`): exited with status %d%s", field, h->path,
                             WEXITSTATUS (status), tail);
}

int
paas_hooks_run (const struct paas_state *st, enum paas_hook_kind kind, const char *status,
                libpaas_error_t *err)
{
  bool warn_only = kind == PAAS_HOOK_POSTSTART || kind == PAAS_HOOK_POSTSTOP;
  cleanup_free char *state = NULL;
  if (st->hooks.n[kind] == 0)
    return 0;
  state = paas_state_to_json (st, status);
  for (size_t i = 0; i < st->hooks.n[kind]; i++)
    {
      char field[64];
      libpaas_error_t e = NULL;
      snprintf (field, sizeof (field), "hooks.%s[%zu]", paas_hook_kind_name (kind), i);
      if (run_one (&st->hooks.list[kind][i], field, state, &e) == 0)
        continue;
      if (!warn_only)
        {
          if (*err == NULL)
            *err = steal_pointer (&e);
          libpaas_error_release (&e);
          return -1;
        }
      libpaas_error_print ("paas-runtime: warning", &e);
    }
  return 0;
}
