/* The container process's last steps, shared by create/run (init) and exec. */
#ifndef PAAS_PROCESS_H
#define PAAS_PROCESS_H

#include "config.h"
#include "error.h"
#include "seccomp-filter.h"

/* Resolves args[0] against PATH from the process env (as execvp would, but once, before
 * the container is started, so a missing binary is reported by create). */
int paas_process_find_executable (const struct paas_process *p, char **out, libpaas_error_t *err);

/* Privileged preparation: LSM exec labels, rlimits, umask, cwd, bounding set. */
int paas_process_prepare (const struct paas_process *p, libpaas_error_t *err);

enum paas_lsm
{
  PAAS_LSM_APPARMOR,
  PAAS_LSM_SELINUX
};
bool paas_lsm_enabled (enum paas_lsm lsm);
/* Refuses labels for a security module this host does not run (checked before creating). */
int paas_process_check_labels (const struct paas_process *p, libpaas_error_t *err);

/* Marks every fd from 3 + preserve_fds up close-on-exec: the caller's other descriptors
 * (a monitor's pipes, sockets) must not leak into the container. */
void paas_process_close_fds (int preserve_fds);

/* Everything the kernel may refuse, done before the process is reported ready so that a
 * refusal fails create/run/exec (runc's finalizeNamespace): seccomp (installed now without
 * no_new_privs, trial-installed with it), groups, gid, uid, capabilities, no_new_privs. */
int paas_process_drop_privileges (const struct paas_process *p,
                                  const struct paas_seccomp_prog *seccomp, libpaas_error_t *err);

/* The last steps once started: the seccomp filter when no_new_privs is set (as late as
 * possible, as runc does), then execve. Returns only on failure. */
int paas_process_exec (const struct paas_process *p, const char *exe,
                       const struct paas_seccomp_prog *seccomp, libpaas_error_t *err);

/* Writes /proc/<pid>/oom_score_adj. */
int paas_process_set_oom_score (pid_t pid, int adj, libpaas_error_t *err);

#endif
