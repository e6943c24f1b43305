#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "utils.h"

/* Opens path (absolute, container view) inside rootfd, with symlinks resolved as if rootfd
 * were "/" (RESOLVE_IN_ROOT): a hostile rootfs cannot point a mount at the host. */
static int
open_in_root (int rootfd, const char *path, int flags)
{
  struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
  while (*path == '/')
    path++;
  if (*path == '\0')
    path = ".";
  return syscall (SYS_openat2, rootfd, path, &how, sizeof (how));
}

/* Creates path (and its parents) inside the rootfs: a directory, or an empty file when
 * is_file. Returns an O_PATH fd of it. */
static int
mkpath_in_root (int rootfd, const char *path, bool is_file, libpaas_error_t *err)
{
  int fd = open_in_root (rootfd, path, O_PATH);
  cleanup_free char *parent = NULL;
  cleanup_close int pfd = -1;
  const char *base;

  if (fd >= 0)
    return fd;
  if (errno != ENOENT)
    return libpaas_make_error (err, errno, "open `%s` in the rootfs", path);
  parent = libpaas_xstrdup (path);
  {
    char *slash = strrchr (parent, '/');
    base = path + (slash - parent) + 1;
    if (slash == parent)
      slash[1] = '\0';
    else
      *slash = '\0';
  }
  pfd = mkpath_in_root (rootfd, parent, false, err);
  if (pfd < 0)
    return -1;
  {
    /* Reopen the parent as a real directory to create in it. */
    cleanup_close int dfd = open_in_root (rootfd, parent, O_DIRECTORY | O_RDONLY);
    if (dfd < 0)
      return libpaas_make_error (err, errno, "open `%s` in the rootfs", parent);
    if (is_file)
      {
        int f = openat (dfd, base, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (f < 0 && errno != EEXIST)
          return libpaas_make_error (err, errno, "create `%s` in the rootfs", path);
        if (f >= 0)
          close (f);
      }
    else if (mkdirat (dfd, base, 0755) < 0 && errno != EEXIST)
      return libpaas_make_error (err, errno, "mkdir `%s` in the rootfs", path);
  }
  fd = open_in_root (rootfd, path, O_PATH);
  if (fd < 0)
    return libpaas_make_error (err, errno, "open `%s` in the rootfs", path);
  return fd;
}

static void
fd_path (char *buf, size_t len, int fd)
{
  snprintf (buf, len, "/proc/self/fd/%d", fd);
}

/* In a user namespace the kernel locks nosuid/nodev/noexec/ro of a mount: a remount must
 * repeat them. */
static unsigned long
locked_flags (const char *target)
{
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs (target, &sv) < 0)
    return 0;
  if (sv.f_flag & ST_NOSUID)
    f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY)
    f |= MS_RDONLY;
  return f;
}

/* Remount flags of a bind mount take a second mount(2) call on the new mount. */
static int
bind_remount (const char *target, const char *dest, unsigned long flags, bool in_userns,
              libpaas_error_t *err)
{
  unsigned long f;
  flags &= ~(MS_REMOUNT | MS_BIND | MS_REC);
  if (flags == 0)
    return 0;
  f = MS_BIND | MS_REMOUNT | flags;
  if (in_userns)
    f |= locked_flags (target) & ~MS_RDONLY;
  if (mount (NULL, target, NULL, f, NULL) < 0)
    return libpaas_make_error (err, errno, "remount `%s`", dest);
  return 0;
}

static int
mount_one (const struct paas_mount_ctx *ctx, int rootfd, const struct paas_mount *m,
           libpaas_error_t *err)
{
  cleanup_close int fd = -1;
  char target[64];
  bool is_file = false, sysfs_bind = false;
  const char *type = m->type;

  if (m->bind)
    {
      struct stat st;
      if (stat (m->source, &st) < 0)
        return libpaas_make_error (err, errno, "stat `%s`", m->source);
      is_file = !S_ISDIR (st.st_mode);
    }
  fd = mkpath_in_root (rootfd, m->destination, is_file, err);
  if (fd < 0)
    return -1;
  fd_path (target, sizeof (target), fd);

  if (m == ctx->sysfs_mount && ctx->sysfs_fd >= 0)
    {
      if (move_mount (ctx->sysfs_fd, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
          < 0)
        return libpaas_make_error (err, errno, "move the runtime's sysfs to `%s`", m->destination);
    }
  else if (m->bind)
    {
      if (mount (m->source, target, NULL, MS_BIND | (m->recursive ? MS_REC : 0), NULL) < 0)
        return libpaas_make_error (err, errno, "bind mount `%s` to `%s`", m->source,
                                   m->destination);
    }
  else if (strcmp (type, "cgroup") == 0 || strcmp (type, "cgroup2") == 0)
    {
      /* v1: a read-only empty tmpfs (the container gets no view of the host hierarchies);
       * v2: a cgroup2 mount, which a cgroup namespace roots at the container's cgroup. */
      int r = -1;
      if (ctx->cgroup_version == 2)
        r = mount ("cgroup2", target, "cgroup2", m->flags, NULL);
      if (r < 0 && mount ("tmpfs", target, "tmpfs", m->flags | MS_RDONLY, "mode=755") < 0)
        return libpaas_make_error (err, errno, "mount `%s` to `%s`", type, m->destination);
    }
  else if (mount (m->source, target, type, m->flags, m->data) < 0)
    {
      int e = errno;
      /* sysfs cannot be mounted without a network namespace of our own: bind the host's. */
      if (strcmp (type, "sysfs") == 0 && (e == EPERM || e == EBUSY))
        {
          if (mount ("/sys", target, NULL, MS_BIND | MS_REC, NULL) < 0)
            return libpaas_make_error (err, errno, "bind mount `/sys` to `%s`", m->destination);
          sysfs_bind = true;
        }
      else
        return libpaas_make_error (err, e, "mount `%s` to `%s`", type, m->destination);
    }
  if (!(m->bind || sysfs_bind) && m->propagation == 0)
    return 0;
  /* fd still names the directory under the new mount: reopen to act on the mount itself. */
  close (fd);
  fd = open_in_root (rootfd, m->destination, O_PATH);
  if (fd < 0)
    return libpaas_make_error (err, errno, "open `%s` in the rootfs", m->destination);
  fd_path (target, sizeof (target), fd);
  if (m->bind && bind_remount (target, m->destination, m->flags, ctx->in_userns, err) < 0)
    return -1;
  /* The host's /sys and everything under it (cgroup hierarchies, debugfs...): a remount
   * would only make the top read-only. */
  if (sysfs_bind)
    {
      struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID
                                             | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
      if (mount_setattr (fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof (attr)) < 0)
        return libpaas_make_error (err, errno, "make `%s` read-only", m->destination);
    }
  if (m->propagation && mount (NULL, target, NULL, m->propagation, NULL) < 0)
    return libpaas_make_error (err, errno, "set propagation of `%s`", m->destination);
  return 0;
}

static const struct
{
  const char *name;
  unsigned major, minor;
} default_devices[] = {
  { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
  { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static int
make_device (int rootfd, const char *path, char type, unsigned major, unsigned minor,
             mode_t mode, uid_t uid, gid_t gid, bool in_userns, libpaas_error_t *err)
{
  cleanup_free char *parent = libpaas_xstrdup (path);
  cleanup_close int pfd = -1, dfd = -1;
  const char *base;
  char *slash = strrchr (parent, '/');
  mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;

  base = path + (slash - parent) + 1;
  *slash = '\0';
  pfd = mkpath_in_root (rootfd, parent[0] ? parent : "/", false, err);
  if (pfd < 0)
    return -1;
  dfd = open_in_root (rootfd, parent[0] ? parent : "/", O_DIRECTORY | O_RDONLY);
  if (dfd < 0)
    return libpaas_make_error (err, errno, "open `%s` in the rootfs", parent);
  if (in_userns)
    {
      /* mknod is refused in a user namespace: bind the host's node onto an empty file. */
      char host[PATH_MAX], target[64];
      cleanup_close int fd = -1;
      int f = openat (dfd, base, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (f < 0 && errno != EEXIST)
        return libpaas_make_error (err, errno, "create `%s` in the rootfs", path);
      if (f >= 0)
        close (f);
      fd = openat (dfd, base, O_PATH | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0)
        return libpaas_make_error (err, errno, "open `%s` in the rootfs", path);
      snprintf (host, sizeof (host), "%s", path);
      fd_path (target, sizeof (target), fd);
      if (mount (host, target, NULL, MS_BIND, NULL) < 0)
        return libpaas_make_error (err, errno, "bind mount `%s`", path);
      return 0;
    }
  if (mknodat (dfd, base, kind | (mode & 07777), makedev (major, minor)) < 0 && errno != EEXIST)
    return libpaas_make_error (err, errno, "mknod `%s`", path);
  if ((uid || gid) && fchownat (dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return libpaas_make_error (err, errno, "chown `%s`", path);
  return 0;
}

static bool
has_mount (const struct paas_config *c, const char *dest, const char **type)
{
  for (size_t i = 0; i < c->n_mounts; i++)
    if (strcmp (c->mounts[i].destination, dest) == 0)
      {
        if (type)
          *type = c->mounts[i].bind ? "bind" : c->mounts[i].type;
        return true;
      }
  return false;
}

static int
setup_dev (const struct paas_mount_ctx *ctx, int rootfd, libpaas_error_t *err)
{
  static const char *const links[][2]
      = { { "/proc/self/fd", "fd" },     { "/proc/self/fd/0", "stdin" },
          { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
          { "pts/ptmx", "ptmx" } };
  const struct paas_config *c = ctx->config;
  const char *type = NULL;
  cleanup_close int devfd = -1;

  if (has_mount (c, "/dev", &type) && strcmp (type, "tmpfs") != 0)
    return 0; /* the config brings its own /dev (e.g. a bind of the host's) */
  if (!has_mount (c, "/dev/pts", NULL))
    {
      struct paas_mount pts = { .destination = "/dev/pts", .type = "devpts", .source = "devpts",
                                .flags = MS_NOSUID | MS_NOEXEC,
                                .data = "newinstance,ptmxmode=0666,mode=0620" };
      if (mount_one (ctx, rootfd, &pts, err) < 0)
        return -1;
    }
  if (!has_mount (c, "/dev/shm", NULL))
    {
      struct paas_mount shm = { .destination = "/dev/shm", .type = "tmpfs", .source = "shm",
                                .flags = MS_NOSUID | MS_NOEXEC | MS_NODEV,
                                .data = "mode=1777,size=65536k" };
      if (mount_one (ctx, rootfd, &shm, err) < 0)
        return -1;
    }
  devfd = open_in_root (rootfd, "/dev", O_DIRECTORY | O_RDONLY);
  if (devfd < 0)
    return libpaas_make_error (err, errno, "open `/dev` in the rootfs");
  for (size_t i = 0; i < sizeof (default_devices) / sizeof (default_devices[0]); i++)
    {
      char path[32];
      snprintf (path, sizeof (path), "/dev/%s", default_devices[i].name);
      /* The common case in one call; make_device handles user namespaces and errors. */
      if (!ctx->in_userns
          && mknodat (devfd, default_devices[i].name, S_IFCHR | 0666,
                      makedev (default_devices[i].major, default_devices[i].minor)) == 0)
        continue;
      if (make_device (rootfd, path, 'c', default_devices[i].major, default_devices[i].minor,
                       0666, 0, 0, ctx->in_userns, err) < 0)
        return -1;
    }
  for (size_t i = 0; i < sizeof (links) / sizeof (links[0]); i++)
    if (symlinkat (links[i][0], devfd, links[i][1]) < 0 && errno != EEXIST)
      return libpaas_make_error (err, errno, "symlink `/dev/%s`", links[i][1]);
  return 0;
}

int
paas_rootfs_prepare (const struct paas_mount_ctx *ctx, libpaas_error_t *err)
{
  const struct paas_config *c = ctx->config;
  unsigned long prop = c->rootfs_propagation;
  cleanup_close int rootfd = -1;

  /* Nothing we do below may propagate back to the host, and pivot_root refuses a new root
   * or parent that is shared: every mount becomes private, or a slave when the config asks
   * for slave (the host's mounts keep reaching it). A shared or unbindable root is applied
   * to the new root after pivot_root, as crun and runc >= 1.3 do. Without a mount namespace
   * that would change the host's own mounts (runc makes its `/` a slave): only our bind of
   * the rootfs is made private. */
  if (!ctx->host_mounts
      && mount (NULL, "/", NULL, MS_REC | (prop & MS_SLAVE ? MS_SLAVE : MS_PRIVATE), NULL) < 0)
    return libpaas_make_error (err, errno, "make `/` %s", prop & MS_SLAVE ? "a slave" : "private");
  if (mount (c->root_path, c->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
    return libpaas_make_error (err, errno, "bind mount `%s`", c->root_path);
  if (ctx->host_mounts && mount (NULL, c->root_path, NULL, MS_PRIVATE | MS_REC, NULL) < 0)
    return libpaas_make_error (err, errno, "make `%s` private", c->root_path);
  rootfd = open (c->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return libpaas_make_error (err, errno, "open `%s`", c->root_path);

  if (!has_mount (c, "/dev", NULL))
    {
      struct paas_mount dev = { .destination = "/dev", .type = "tmpfs", .source = "tmpfs",
                                .flags = MS_NOSUID | MS_STRICTATIME,
                                .data = "mode=755,size=65536k" };
      if (mount_one (ctx, rootfd, &dev, err) < 0)
        return -1;
    }
  for (size_t i = 0; i < c->n_mounts; i++)
    if (mount_one (ctx, rootfd, &c->mounts[i], err) < 0)
      return -1;
  if (setup_dev (ctx, rootfd, err) < 0)
    return -1;
  for (size_t i = 0; i < c->n_devices; i++)
    {
      const struct paas_device *d = &c->devices[i];
      if (make_device (rootfd, d->path, d->type, d->major, d->minor,
                       d->has_mode ? d->mode : 0666, d->uid, d->gid, ctx->in_userns, err) < 0)
        return -1;
    }

  /* pivot_root(".", "."): the old root ends up stacked on the new one and is detached
   * right away; no directory for it is needed inside the rootfs. */
  if (chdir (c->root_path) < 0)
    return libpaas_make_error (err, errno, "chdir `%s`", c->root_path);
  if (ctx->before_pivot && ctx->before_pivot (ctx->before_pivot_arg, err) < 0)
    return -1;
  if (ctx->host_mounts)
    {
      /* The caller's mount table is not ours to pivot (runc chroots too). */
      if (chroot (".") < 0)
        return libpaas_make_error (err, errno, "chroot `%s`", c->root_path);
      if (chdir ("/") < 0)
        return libpaas_make_error (err, errno, "chdir `/`");
      goto propagation;
    }
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return libpaas_make_error (err, errno, "pivot_root `%s`", c->root_path);
  if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return libpaas_make_error (err, errno, "make the old root a slave");
  if (umount2 (".", MNT_DETACH) < 0)
    return libpaas_make_error (err, errno, "detach the old root");
  if (chdir ("/") < 0)
    return libpaas_make_error (err, errno, "chdir `/`");
propagation:
  /* A new peer group of the container's own (the spec: not shared with the host). */
  if ((prop & (MS_SHARED | MS_UNBINDABLE)) && mount (NULL, "/", NULL, prop, NULL) < 0)
    return libpaas_make_error (err, errno, "apply `linux.rootfsPropagation` to `/`");
  return 0;
}

const struct paas_mount *
paas_sysfs_mount_of (const struct paas_config *c)
{
  for (size_t i = 0; i < c->n_mounts; i++)
    if (!c->mounts[i].bind && c->mounts[i].type && strcmp (c->mounts[i].type, "sysfs") == 0)
      return &c->mounts[i];
  return NULL;
}

int
paas_sysfs_open (const struct paas_mount *m, libpaas_error_t *err)
{
  cleanup_close int ctx = fsopen ("sysfs", FSOPEN_CLOEXEC);
  unsigned attrs = 0;
  int fd;
  if (ctx < 0)
    return libpaas_make_error (err, errno, "fsopen sysfs for `%s`", m->destination);
  if (fsconfig (ctx, FSCONFIG_SET_STRING, "source", m->source ? m->source : "sysfs", 0) < 0
      || fsconfig (ctx, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return libpaas_make_error (err, errno, "create a sysfs for `%s`", m->destination);
  if (m->flags & MS_RDONLY)
    attrs |= MOUNT_ATTR_RDONLY;
  if (m->flags & MS_NOSUID)
    attrs |= MOUNT_ATTR_NOSUID;
  if (m->flags & MS_NODEV)
    attrs |= MOUNT_ATTR_NODEV;
  if (m->flags & MS_NOEXEC)
    attrs |= MOUNT_ATTR_NOEXEC;
  fd = fsmount (ctx, FSMOUNT_CLOEXEC, attrs);
  if (fd < 0)
    return libpaas_make_error (err, errno, "mount a sysfs for `%s`", m->destination);
  return fd;
}

int
paas_write_sysctl (const struct paas_kv *kv, libpaas_error_t *err)
{
  cleanup_free char *path = libpaas_xasprintf ("/proc/sys/%s", kv->key);
  for (char *p = path + 10; *p; p++)
    if (*p == '.')
      *p = '/';
  if (libpaas_write_file (path, kv->value, strlen (kv->value), 0, err) < 0)
    return libpaas_error_prepend (err, "set sysctl `%s`", kv->key);
  return 0;
}

int
paas_rootfs_finalize (const struct paas_mount_ctx *ctx, libpaas_error_t *err)
{
  const struct paas_config *c = ctx->config;

  for (size_t i = 0; i < c->n_sysctl; i++)
    if (!(ctx->net_sysctls_written && strncmp (c->sysctl[i].key, "net.", 4) == 0)
        && paas_write_sysctl (&c->sysctl[i], err) < 0)
      return -1;
  for (size_t i = 0; i < c->n_masked_paths; i++)
    {
      const char *p = c->masked_paths[i];
      struct stat st;
      int r;
      if (stat (p, &st) < 0)
        {
          if (errno == ENOENT)
            continue;
          return libpaas_make_error (err, errno, "stat `%s`", p);
        }
      if (S_ISDIR (st.st_mode))
        r = mount ("tmpfs", p, "tmpfs", MS_RDONLY, NULL);
      else
        r = mount ("/dev/null", p, NULL, MS_BIND, NULL);
      if (r < 0)
        return libpaas_make_error (err, errno, "mask `%s`", p);
    }
  for (size_t i = 0; i < c->n_readonly_paths; i++)
    {
      const char *p = c->readonly_paths[i];
      if (mount (p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
        {
          if (errno == ENOENT)
            continue;
          return libpaas_make_error (err, errno, "bind mount `%s`", p);
        }
      if (mount (NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked_flags (p), NULL)
          < 0)
        return libpaas_make_error (err, errno, "remount `%s` read-only", p);
    }
  if (c->root_readonly
      && mount (NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags ("/"), NULL) < 0)
    return libpaas_make_error (err, errno, "remount `/` read-only");
  return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape_octal (char *s)
{
  char *out = s;
  for (; *s; s++)
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0'
        && s[3] <= '7')
      {
        *out++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
        s += 3;
      }
    else
      *out++ = *s;
  *out = '\0';
}

int
paas_mount_top_id (const char *path)
{
  cleanup_free char *real = realpath (path, NULL);
  cleanup_free char *text = NULL;
  libpaas_error_t err = NULL;
  char *line, *save = NULL;
  int top = -1;
  if (real == NULL || libpaas_read_file ("/proc/self/mountinfo", &text, NULL, &err) < 0)
    {
      libpaas_error_release (&err);
      return -1;
    }
  /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": a mount stacked on another comes later. */
  for (line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      int id;
      char mp[4097]; /* PATH_MAX + 1, the width below */
      if (sscanf (line, "%d %*d %*s %*s %4096s", &id, mp) != 2)
        continue;
      unescape_octal (mp);
      if (strcmp (mp, real) == 0)
        top = id;
    }
  return top;
}

int
paas_rootfs_detach (const char *rootfs, int mount_id, libpaas_error_t *err)
{
  if (mount_id <= 0 || paas_mount_top_id (rootfs) != mount_id)
    return 0;
  if (umount2 (rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return libpaas_make_error (err, errno, "unmount `%s`", rootfs);
  return 0;
}
