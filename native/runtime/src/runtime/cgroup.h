/* Cgroup managers: a small vtable with a cgroupfs v1 and a v2 backend.
 *
 * Detection (paas_cgroup_detect): statfs(/sys/fs/cgroup) == CGROUP2_SUPER_MAGIC => v2;
 * a tmpfs there => v1 controllers under /sys/fs/cgroup/<controller> (this covers "hybrid"
 * hosts, whose cgroup2 mount at /sys/fs/cgroup/unified we leave alone). The environment
 * variable PAAS_CGROUP_ROOT=<dir> forces the v2 backend onto <dir>: a cgroup2 mount there
 * is used as is (tests run the v2 backend on a hybrid host's unified hierarchy), any other
 * directory is a plain tree where missing control files are created (the unit test checks
 * what the v2 writer writes).
 *
 * OOM contract for monitors (paas-shim, the engine): the container's cgroup stays in place
 * until `paas-runtime delete`, whatever way the container ended. A monitor learns that the
 * container was OOM-killed either by
 *   - `paas-runtime state ID`: annotation "paas.oom_kill" = number of OOM kills recorded for
 *     the container's memory cgroup ("0" when none; absent when no memory controller), or
 *   - reading the file named by "memoryEventsPath" in <root>/<id>/state.json directly:
 *     on v1 <memory cgroup>/memory.oom_control, on v2 <cgroup>/memory.events; the line
 *     "oom_kill N" with N > 0 means the kernel OOM killer killed a process of the container.
 * Read it after the container's init has exited and before calling delete. */
#ifndef PAAS_CGROUP_H
#define PAAS_CGROUP_H

#include <stdint.h>
#include <sys/types.h>
#include "config.h"
#include "error.h"

struct paas_cgroup;

struct paas_cgroup_ops
{
  const char *name; /* "v1" or "v2" */
  /* Creates the cgroup (mkdir -p, enabling controllers as needed) and writes the limits. */
  int (*create) (struct paas_cgroup *cg, const struct paas_resources *res, libpaas_error_t *err);
  /* Moves pid into the cgroup (unless it was cloned into it already). */
  int (*enter) (struct paas_cgroup *cg, pid_t pid, libpaas_error_t *err);
  /* Removes the cgroup directories (only the leaf: parents may be shared). */
  int (*destroy) (struct paas_cgroup *cg, libpaas_error_t *err);
  /* Path of the file holding "oom_kill N", or NULL without a memory controller. */
  char *(*oom_events_path) (struct paas_cgroup *cg);
  /* Path of a cgroup.procs listing every process of the container. */
  char *(*procs_path) (struct paas_cgroup *cg);
};

struct paas_cgroup
{
  const struct paas_cgroup_ops *ops;
  char *mount_root; /* /sys/fs/cgroup, or $PAAS_CGROUP_ROOT */
  char *path;       /* "/paas/<id>": relative to each hierarchy's root */
  bool fake;        /* PAAS_CGROUP_ROOT: a plain directory tree, create control files */
  int leaf_fd;      /* v2: O_PATH|O_DIRECTORY fd of the leaf, for CLONE_INTO_CGROUP; or -1 */
  unsigned v1_mask; /* v1: hierarchies found on this host (bit per known controller), cached */
};

extern const struct paas_cgroup_ops paas_cgroup_v1_ops;
extern const struct paas_cgroup_ops paas_cgroup_v2_ops;

/* Fills cg for `path` (from linux.cgroupsPath, or NULL for the default /paas/<id>).
 * version: 0 to detect, else 1 or 2 (as recorded in state.json). No file is touched. */
int paas_cgroup_init (struct paas_cgroup *cg, const char *cgroups_path, const char *id,
                      int version, libpaas_error_t *err);
void paas_cgroup_release (struct paas_cgroup *cg);
int paas_cgroup_version (const struct paas_cgroup *cg);

/* Number of OOM kills recorded, or -1 when unknown. */
int64_t paas_cgroup_read_oom_kills (const char *events_path);

/* Converts v1 cpu.shares [2, 262144] to v2 cpu.weight [1, 10000] (the linear mapping crun
 * and runc use). */
uint64_t paas_cgroup_shares_to_weight (uint64_t shares);

/* Shared by the backends: writes `value` to dir/file; creates it when cg->fake. */
int paas_cgroup_write (const struct paas_cgroup *cg, const char *dir, const char *file,
                       const char *value, libpaas_error_t *err);
/* rmdir retrying briefly on EBUSY (the kernel frees a cgroup asynchronously after its last
 * task is reaped); ENOENT is success. */
int paas_cgroup_rmdir (const char *dir, libpaas_error_t *err);

#endif
