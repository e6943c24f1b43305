/* The container's paas-proxy (src/proxy/main.c): started by the shim before the first
 * create, kept across restarts (the container keeps its network namespace and address), and
 * stopped when the shim is done with the container. The shim owns it because the shim is
 * the one process whose life is the container's: the CLI that ran `paas run` is long gone,
 * and a proxy that outlived its container would hold the host port and forward to an
 * address the next container may get. The proxy also asks for PR_SET_PDEATHSIG, so a
 * SIGKILLed shim takes it along. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int
shim_proxy_start (const struct shim_config *cfg, pid_t *pid, libpaas_error_t *err)
{
  const char *argv[SHIM_MAX_PUBLISH + 6];
  int n = 0;
  int sync[2];

  *pid = 0;
  if (cfg->n_publish == 0)
    return 0;
  argv[n++] = "paas-proxy";
  argv[n++] = "--id";
  argv[n++] = cfg->id;
  argv[n++] = "--ready-fd";
  argv[n++] = "3";
  for (int i = 0; i < cfg->n_publish; i++)
    argv[n++] = cfg->publish[i];
  argv[n] = NULL;

  if (pipe2 (sync, O_CLOEXEC) < 0)
    return libpaas_make_error (err, errno, "pipe");
  pid_t parent = getpid ();
  pid_t child = fork ();
  if (child < 0)
    {
      close (sync[0]);
      close (sync[1]);
      return libpaas_make_error (err, errno, "fork");
    }
  if (child == 0)
    {
      sigset_t none;
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL); /* the shim blocks the signals it reads */
      if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () != parent)
        _exit (127);
      int null = open ("/dev/null", O_RDWR);
      if (null < 0 || dup2 (null, 0) < 0 || dup2 (sync[1], 3) < 0)
        _exit (127);
      shim_close_from (4);
      execv (cfg->proxy_path, (char *const *) argv);
      dprintf (3, "error exec `%s`: %s\n", cfg->proxy_path, strerror (errno));
      _exit (127);
    }
  close (sync[1]);
  char buf[1024];
  ssize_t len = libpaas_read_all (sync[0], buf, sizeof buf - 1);
  close (sync[0]);
  buf[len > 0 ? len : 0] = '\0';
  buf[strcspn (buf, "\n")] = '\0';
  if (strcmp (buf, "ok") == 0)
    {
      *pid = child;
      return 0;
    }
  kill (child, SIGKILL);
  while (waitpid (child, NULL, 0) < 0 && errno == EINTR)
    ;
  if (strncmp (buf, "error ", 6) == 0)
    return libpaas_make_error (err, 0, "publish on loopback: %s", buf + 6);
  return libpaas_make_error (err, 0, "publish on loopback: `%s` exited without a word", cfg->proxy_path);
}

void
shim_proxy_stop (pid_t *pid)
{
  if (*pid <= 0)
    return;
  if (kill (*pid, SIGTERM) == 0)
    while (waitpid (*pid, NULL, 0) < 0 && errno == EINTR)
      ;
  *pid = 0;
}
