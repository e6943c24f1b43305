#ifndef PAAS_NAMESPACES_H
#define PAAS_NAMESPACES_H

#include <sys/types.h>
#include "config.h"
#include "error.h"

/* Namespaces to join: fds opened by the runtime before cloning, so a bad path is reported
 * before anything exists. */
struct paas_ns_fds
{
  int fd[PAAS_NS_COUNT]; /* -1 when the namespace is new or not requested */
};

/* CLONE_NEW* flags for the namespaces the config asks to create. */
int paas_ns_new_flags (const struct paas_config *c);
int paas_ns_open_paths (const struct paas_config *c, struct paas_ns_fds *fds, libpaas_error_t *err);
void paas_ns_close (struct paas_ns_fds *fds);
/* setns() for every fd except `skip` (a mask of 1 << kind), the user namespace between the
 * others (namespaces.c says why); closes them. */
int paas_ns_join (struct paas_ns_fds *fds, unsigned skip, libpaas_error_t *err);
/* The network, ipc and uts namespaces given by path, joined by the runtime itself before it
 * clones the container into a new user namespace: they belong to an older user namespace,
 * over which the new one's root has no rights (setns would be EPERM), so the child inherits
 * them instead, as runc's nsexec joins them before unsharing the user namespace. `saved`
 * gets the runtime's own (for paas_ns_return), `joined` a mask of 1 << kind. */
int paas_ns_join_before_userns (struct paas_ns_fds *fds, int saved[PAAS_NS_COUNT], unsigned *joined,
                                libpaas_error_t *err);
/* Back to the namespaces paas_ns_join_before_userns saved; closes them. */
int paas_ns_return (int saved[PAAS_NS_COUNT], libpaas_error_t *err);
/* Writes uid_map and gid_map of pid (from the runtime, after clone). */
int paas_ns_write_id_maps (pid_t pid, const struct paas_config *c, libpaas_error_t *err);

/* Opens /proc/<pid>/ns/<name> for each namespace of a running container that differs from
 * ours (used by exec). */
int paas_ns_open_of_pid (pid_t pid, struct paas_ns_fds *fds, libpaas_error_t *err);

#endif
