/* The container's filesystem view, built inside its new mount namespace:
 * rootfs bind -> config mounts (resolved inside the rootfs, never through its symlinks to
 * the host) -> /dev -> pivot_root -> sysctl -> masked/readonly paths -> read-only root.
 * Without a mount namespace (host_mounts): the same on a private bind, chroot for pivot_root. */
#ifndef PAAS_MOUNTS_H
#define PAAS_MOUNTS_H

#include <stdbool.h>
#include "config.h"
#include "error.h"

struct paas_mount_ctx
{
  const struct paas_config *config;
  bool in_userns;     /* mknod is not allowed: bind host devices instead */
  bool net_sysctls_written; /* the runtime wrote the net.* sysctls (a netns joined for us) */
  int cgroup_version; /* how to honour a "cgroup" mount */
  /* No mount namespace of its own (as runc allows): the mounts land in the caller's table,
   * on a private bind of the rootfs that `paas_rootfs_detach` removes; chroot, no
   * pivot_root. */
  bool host_mounts;
  /* Called right before pivot_root, every mount made, the cwd the rootfs and the old root
   * still reachable: where the OCI hooks of the create step run (container.c). May be NULL. */
  int (*before_pivot) (void *arg, libpaas_error_t *err);
  void *before_pivot_arg;
  /* A detached sysfs the runtime mounted for `sysfs_mount` (paas_sysfs_open), moved into
   * place instead of mounting one; -1 when none. */
  int sysfs_fd;
  const struct paas_mount *sysfs_mount;
};

/* Everything up to and including pivot_root. The caller's cwd must be the bundle (relative
 * bind sources are relative to it). */
int paas_rootfs_prepare (const struct paas_mount_ctx *ctx, libpaas_error_t *err);
/* After pivot_root: sysctl, masked and read-only paths, read-only root. */
int paas_rootfs_finalize (const struct paas_mount_ctx *ctx, libpaas_error_t *err);

/* Id of the topmost mount at path in our mount table (/proc/self/mountinfo), or -1. */
int paas_mount_top_id (const char *path);
/* Detaches the topmost mount at rootfs (and everything under it) if its id is still
 * mount_id: the bind a container without a mount namespace left in the caller's table. */
int paas_rootfs_detach (const char *rootfs, int mount_id, libpaas_error_t *err);

/* The config's first sysfs mount, or NULL. */
const struct paas_mount *paas_sysfs_mount_of (const struct paas_config *c);
/* A detached sysfs mount (fsmount) with m's flags, of the caller's network namespace. Made by
 * the runtime in a network namespace it joined for a child in a new user namespace: sysfs
 * may only be mounted by the owner of the netns' user namespace, which the child is not, and
 * without it the container would see the host's /sys (every interface, the cgroup tree). */
int paas_sysfs_open (const struct paas_mount *m, libpaas_error_t *err);

/* Writes one linux.sysctl entry under /proc/sys (of the caller's network namespace for net.*). */
int paas_write_sysctl (const struct paas_kv *kv, libpaas_error_t *err);

#endif
