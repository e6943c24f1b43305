#include "sync.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "utils.h"

int
paas_sync_send (int fd, char tag, const char *text)
{
  char buf[4096];
  size_t l = text ? strlen (text) : 0;
  if (l > sizeof (buf) - 1)
    l = sizeof (buf) - 1;
  buf[0] = tag;
  if (l)
    memcpy (buf + 1, text, l);
  return send (fd, buf, l + 1, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Receives one message; returns its tag (0 on EOF) and copies the text into msg. */
int
paas_sync_recv (int fd, char *msg, size_t len)
{
  char buf[4096];
  ssize_t n;
  do
    n = recv (fd, buf, sizeof (buf) - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  if (msg)
    snprintf (msg, len, "%s", buf + 1);
  return (unsigned char) buf[0];
}

int
paas_exit_code (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return 255;
}

/* Waits for our child pid, forwarding the usual termination signals to it. */
int
paas_wait_forwarding (pid_t pid)
{
  static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
  sigset_t set, old;
  cleanup_close int sfd = -1, pfd = -1;
  int status = 0;

  sigemptyset (&set);
  for (size_t i = 0; i < sizeof (sigs) / sizeof (sigs[0]); i++)
    sigaddset (&set, sigs[i]);
  sigprocmask (SIG_BLOCK, &set, &old);
  sfd = signalfd (-1, &set, SFD_CLOEXEC);
  pfd = syscall (SYS_pidfd_open, pid, 0);
  while (sfd >= 0 && pfd >= 0)
    {
      struct pollfd p[2] = { { .fd = pfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
      if (poll (p, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (p[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read (sfd, &si, sizeof (si)) == sizeof (si))
            kill (pid, si.ssi_signo);
        }
      if (p[0].revents & POLLIN)
        break;
    }
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  sigprocmask (SIG_SETMASK, &old, NULL);
  return paas_exit_code (status);
}

int
paas_write_pid_file (const char *path, pid_t pid, libpaas_error_t *err)
{
  char buf[16];
  int n = snprintf (buf, sizeof (buf), "%d", (int) pid);
  if (path == NULL)
    return 0;
  return libpaas_write_file_atomic (path, buf, n, 0644, err);
}

void
paas_kill_cgroup (const char *procs_path, int sig)
{
  cleanup_free char *text = NULL;
  libpaas_error_t err = NULL;
  if (sig == SIGKILL && procs_path)
    {
      /* cgroup v2 (5.14+): one write kills every process, including ones forking now. */
      cleanup_free char *killf = libpaas_xstrdup (procs_path);
      char *slash = strrchr (killf, '/');
      struct stat st;
      strcpy (slash + 1, "cgroup.kill");
      if (stat (killf, &st) == 0 && S_ISREG (st.st_mode)
          && libpaas_write_file (killf, "1", 1, 0, &err) == 0)
        return;
      libpaas_error_release (&err);
    }
  if (procs_path == NULL || libpaas_read_file (procs_path, &text, NULL, &err) < 0)
    {
      libpaas_error_release (&err);
      return;
    }
  for (char *p = text; *p;)
    {
      char *end;
      long pid = strtol (p, &end, 10);
      if (end == p)
        break;
      if (pid > 0)
        kill (pid, sig);
      p = end;
      while (*p == '\n')
        p++;
    }
}
