#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "utils.h"

static const char *
env_get (char *const *env, const char *name)
{
  size_t l = strlen (name);
  for (; env && *env; env++)
    if (strncmp (*env, name, l) == 0 && (*env)[l] == '=')
      return *env + l + 1;
  return NULL;
}

int
paas_process_find_executable (const struct paas_process *p, char **out, libpaas_error_t *err)
{
  const char *name = p->args[0];
  const char *path;
  if (strchr (name, '/'))
    {
      if (access (name, X_OK) < 0)
        return libpaas_make_error (err, errno, "exec `%s`", name);
      *out = libpaas_xstrdup (name);
      return 0;
    }
  path = env_get (p->env, "PATH");
  if (path == NULL)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (*path)
    {
      size_t l = strcspn (path, ":");
      cleanup_free char *cand = libpaas_xasprintf ("%.*s/%s", (int) l, l ? path : ".", name);
      struct stat st;
      if (access (cand, X_OK) == 0 && stat (cand, &st) == 0 && S_ISREG (st.st_mode))
        {
          *out = steal_pointer (&cand);
          return 0;
        }
      path += l;
      if (*path == ':')
        path++;
    }
  return libpaas_make_error (err, ENOENT, "exec `%s`", name);
}

int
paas_process_prepare (const struct paas_process *p, libpaas_error_t *err)
{
  for (size_t i = 0; i < p->n_rlimits; i++)
    {
      struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
      if (setrlimit (p->rlimits[i].resource, &rl) < 0)
        return libpaas_make_error (err, errno, "setrlimit `%s`", p->rlimits[i].name);
    }
  umask (p->has_umask ? p->umask : 022);
  if (chdir (p->cwd) < 0)
    return libpaas_make_error (err, errno, "chdir `%s`", p->cwd);
  if (p->has_capabilities && paas_caps_drop_bounding (p->caps[PAAS_CAP_BOUNDING], err) < 0)
    return -1;
  return 0;
}

void
paas_process_close_fds (int preserve_fds)
{
  unsigned first = 3 + (preserve_fds > 0 ? preserve_fds : 0);
  if (syscall (SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return;
  /* Kernels before 5.11: walk the descriptors we have. */
  for (int fd = first; fd < 65536; fd++)
    {
      int flags = fcntl (fd, F_GETFD);
      if (flags >= 0)
        fcntl (fd, F_SETFD, flags | FD_CLOEXEC);
      else if (errno == EBADF && fd > 1024)
        break;
    }
}

int
paas_process_exec (const struct paas_process *p, const char *exe,
                   const struct paas_seccomp_prog *seccomp, libpaas_error_t *err)
{
  /* Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it while we have it. */
  if (!p->no_new_privileges && seccomp && paas_seccomp_install (seccomp, err) < 0)
    return -1;
  if (p->has_capabilities && p->uid != 0 && prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return libpaas_make_error (err, errno, "prctl `PR_SET_KEEPCAPS`");
  if (setgroups (p->n_additional_gids, p->additional_gids) < 0 && errno != EPERM)
    return libpaas_make_error (err, errno, "setgroups");
  if (setresgid (p->gid, p->gid, p->gid) < 0)
    return libpaas_make_error (err, errno, "setresgid `%u`", (unsigned) p->gid);
  if (setresuid (p->uid, p->uid, p->uid) < 0)
    return libpaas_make_error (err, errno, "setresuid `%u`", (unsigned) p->uid);
  if (p->has_capabilities && paas_caps_apply (p->caps, err) < 0)
    return -1;
  if (p->no_new_privileges && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return libpaas_make_error (err, errno, "prctl `PR_SET_NO_NEW_PRIVS`");
  if (p->no_new_privileges && seccomp && paas_seccomp_install (seccomp, err) < 0)
    return -1;
  execve (exe, p->args, p->env);
  return libpaas_make_error (err, errno, "exec `%s`", p->args[0]);
}

int
paas_process_set_oom_score (pid_t pid, int adj, libpaas_error_t *err)
{
  char path[64], buf[16];
  snprintf (path, sizeof (path), "/proc/%d/oom_score_adj", (int) pid);
  snprintf (buf, sizeof (buf), "%d", adj);
  return libpaas_write_file (path, buf, strlen (buf), 0, err);
}
