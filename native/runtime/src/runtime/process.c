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
#include <sys/wait.h>
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

/* The LSM labels the process execs into. A label for a module the host does not run is
 * refused, as runc and crun do: a profile silently not applied is a wall that is not there. */
static int
write_exec_label (const char *modfile, const char *value, libpaas_error_t *err)
{
  /* Kernels with LSM stacking name the module; older ones only have attr/exec. */
  cleanup_free char *path = libpaas_xasprintf ("/proc/thread-self/attr/%s", modfile);
  if (access (path, F_OK) < 0)
    {
      free (path);
      path = libpaas_xstrdup ("/proc/thread-self/attr/exec");
    }
  return libpaas_write_file (path, value, strlen (value), 0, err);
}

int
paas_process_check_labels (const struct paas_process *p, libpaas_error_t *err)
{
  if (p->apparmor_profile && !paas_lsm_enabled (PAAS_LSM_APPARMOR))
    return libpaas_make_error (err, 0, "invalid `process.apparmorProfile`: AppArmor is not "
                               "enabled on this host");
  if (p->selinux_label && !paas_lsm_enabled (PAAS_LSM_SELINUX))
    return libpaas_make_error (err, 0, "invalid `process.selinuxLabel`: SELinux is not enabled "
                               "on this host");
  return 0;
}

bool
paas_lsm_enabled (enum paas_lsm lsm)
{
  if (lsm == PAAS_LSM_APPARMOR)
    {
      char c = 0;
      int fd = open ("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
      bool on = fd >= 0 && read (fd, &c, 1) == 1 && c == 'Y';
      if (fd >= 0)
        close (fd);
      return on;
    }
  return access ("/sys/fs/selinux/enforce", F_OK) == 0;
}

static int
apply_labels (const struct paas_process *p, libpaas_error_t *err)
{
  if (paas_process_check_labels (p, err) < 0)
    return -1;
  if (p->apparmor_profile)
    {
      cleanup_free char *v = libpaas_xasprintf ("exec %s", p->apparmor_profile);
      if (write_exec_label ("apparmor/exec", v, err) < 0)
        return libpaas_error_prepend (err, "apply AppArmor profile `%s`", p->apparmor_profile);
    }
  if (p->selinux_label && write_exec_label ("selinux/exec", p->selinux_label, err) < 0)
    return libpaas_error_prepend (err, "apply SELinux label `%s`", p->selinux_label);
  return 0;
}

int
paas_process_prepare (const struct paas_process *p, libpaas_error_t *err)
{
  if (apply_labels (p, err) < 0)
    return -1;
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

/* In a user namespace whose setgroups is "deny" the groups cannot change: that is only
 * acceptable when none were asked for (runc's rule). */
static bool
setgroups_denied (void)
{
  char buf[8] = "";
  int fd = open ("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read (fd, buf, sizeof (buf) - 1) : -1;
  if (fd >= 0)
    close (fd);
  return n > 0 && strncmp (buf, "deny", 4) == 0;
}

/* A trial install in a throwaway child: the kernel's verdict on the filter (e.g. ENOMEM when
 * the stacked filters would exceed its budget) while a refusal can still fail `create`. */
static int
seccomp_probe (const struct paas_seccomp_prog *seccomp, libpaas_error_t *err)
{
  int status;
  pid_t pid = fork ();
  if (pid < 0)
    return libpaas_make_error (err, errno, "fork to check the seccomp filter");
  if (pid == 0)
    {
      libpaas_error_t ignored = NULL;
      if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || paas_seccomp_install (seccomp, &ignored) < 0)
        _exit (ignored ? ignored->status : errno);
      _exit (0);
    }
  if (waitpid (pid, &status, 0) < 0)
    return libpaas_make_error (err, errno, "wait for the seccomp check");
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return libpaas_make_error (err, WIFEXITED (status) ? WEXITSTATUS (status) : EIO,
                               "install seccomp filter");
  return 0;
}

int
paas_process_drop_privileges (const struct paas_process *p,
                              const struct paas_seccomp_prog *seccomp, libpaas_error_t *err)
{
  /* Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it while we have it.
   * With it, the filter goes in right before execve (paas_process_exec); check now that the
   * kernel takes it. */
  if (seccomp && !p->no_new_privileges && paas_seccomp_install (seccomp, err) < 0)
    return -1;
  if (seccomp && p->no_new_privileges && seccomp_probe (seccomp, err) < 0)
    return -1;
  if (p->has_capabilities && p->uid != 0 && prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return libpaas_make_error (err, errno, "prctl `PR_SET_KEEPCAPS`");
  /* Failing to set the groups would leave the runtime's own (root's) in the container. */
  if (setgroups (p->n_additional_gids, p->additional_gids) < 0
      && !(errno == EPERM && p->n_additional_gids == 0 && setgroups_denied ()))
    return libpaas_make_error (err, errno, "setgroups");
  if (setresgid (p->gid, p->gid, p->gid) < 0)
    return libpaas_make_error (err, errno, "setresgid `%u`", (unsigned) p->gid);
  if (setresuid (p->uid, p->uid, p->uid) < 0)
    return libpaas_make_error (err, errno, "setresuid `%u`", (unsigned) p->uid);
  if (p->has_capabilities && paas_caps_apply (p->caps, err) < 0)
    return -1;
  if (p->no_new_privileges && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return libpaas_make_error (err, errno, "prctl `PR_SET_NO_NEW_PRIVS`");
  return 0;
}

int
paas_process_exec (const struct paas_process *p, const char *exe,
                   const struct paas_seccomp_prog *seccomp, libpaas_error_t *err)
{
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
