/* Container state under <root>/<id>/:
 *   state.json  what `state`, `kill`, `exec`, `delete` need (written atomically: temp file,
 *               fsync, rename), including the cgroup paths of the OOM contract (cgroup.h);
 *   exec.fifo   present while the container is "created": its init blocks opening it for
 *               writing until `start` opens it for reading (as runc does);
 *   cgroup      "<version> <path>", written before the cgroup is created: if the runtime
 *               dies before state.json exists, `delete` still finds and removes the cgroup.
 * Concurrent verbs on one container serialise on flock(LOCK_EX) of the directory. */
#ifndef PAAS_STATE_H
#define PAAS_STATE_H

#include <stdbool.h>
#include <sys/types.h>
#include "config.h"
#include "error.h"

struct paas_state
{
  char *id;
  pid_t pid;
  unsigned long long start_time; /* /proc/<pid>/stat field 22: detects pid reuse */
  char *bundle;
  char *rootfs;
  char *created; /* RFC 3339 */
  int cgroup_version;
  char *cgroup_path;       /* relative to the hierarchy roots */
  char *oom_events_path;   /* see the OOM contract in cgroup.h; may be NULL */
  char *procs_path;        /* a cgroup.procs listing every process of the container */
  int host_mount_id; /* > 0: the rootfs bind left in the caller's table (no mount namespace) */
  struct paas_kv *annotations;
  size_t n_annotations;
  /* The config's hooks, for `start` (startContainer, poststart) and `delete` (poststop):
   * config.json may have changed or be gone by then. */
  struct paas_hooks hooks;
};

/* Rejects ids that could escape the root or confuse the state layout. */
int paas_state_check_id (const char *id, libpaas_error_t *err);

/* mkdir <root>/<id> (failing if it exists) and lock it; *dirfd is an O_RDONLY directory fd. */
int paas_state_create_dir (const char *root, const char *id, int *dirfd, libpaas_error_t *err);
/* Opens and locks an existing container directory. */
int paas_state_lock (const char *root, const char *id, int *dirfd, libpaas_error_t *err);
int paas_state_write (const char *root, const struct paas_state *s, libpaas_error_t *err);
int paas_state_read (const char *root, const char *id, struct paas_state *s, libpaas_error_t *err);
/* The cgroup breadcrumb (see above). */
int paas_state_write_cgroup (int dirfd, int version, const char *path, libpaas_error_t *err);
/* Reads it back: *path is allocated; returns < 0 when absent. */
int paas_state_read_cgroup (const char *root, const char *id, int *version, char **path);

/* Removes <root>/<id> and everything in it. */
int paas_state_remove (const char *root, const char *id, libpaas_error_t *err);
void paas_state_release (struct paas_state *s);

/* Start time of a live, non-zombie pid, or 0 when it is gone (or a zombie). */
unsigned long long paas_state_pid_start_time (pid_t pid);
/* "created", "running" or "stopped". */
const char *paas_state_status (const char *root, const struct paas_state *s);
/* The OCI state JSON (plus "paas.oom_kill" in annotations, see cgroup.h). */
char *paas_state_to_json (const struct paas_state *s, const char *status);

/* Calls fn for every container under root (ids in directory order). */
int paas_state_foreach (const char *root, int (*fn) (const char *id, void *arg), void *arg,
                        libpaas_error_t *err);

#endif
