/* The container process's last steps, shared by create/run (init) and exec. */
#ifndef PAAS_PROCESS_H
#define PAAS_PROCESS_H

#include "config.h"
#include "error.h"
#include "seccomp-filter.h"

/* Resolves args[0] against PATH from the process env (as execvp would, but once, before
 * the container is started, so a missing binary is reported by create). */
int paas_process_find_executable (const struct paas_process *p, char **out, libpaas_error_t *err);

/* Privileged preparation: rlimits, umask, cwd, bounding set. */
int paas_process_prepare (const struct paas_process *p, libpaas_error_t *err);

/* Marks every fd from 3 + preserve_fds up close-on-exec: the caller's other descriptors
 * (a monitor's pipes, sockets) must not leak into the container. */
void paas_process_close_fds (int preserve_fds);

/* User switch, capabilities, no_new_privs, seccomp, execve. Returns only on failure. */
int paas_process_exec (const struct paas_process *p, const char *exe,
                       const struct paas_seccomp_prog *seccomp, libpaas_error_t *err);

/* Writes /proc/<pid>/oom_score_adj. */
int paas_process_set_oom_score (pid_t pid, int adj, libpaas_error_t *err);

#endif
