#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utils.h"

/* Names under /proc/<pid>/ns/ in paas_ns_kind order. */
static const char *const proc_names[PAAS_NS_COUNT]
    = { "user", "pid", "net", "ipc", "uts", "mnt", "cgroup" };

int
paas_ns_new_flags (const struct paas_config *c)
{
  int flags = 0;
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    if (c->namespaces[k].present && c->namespaces[k].path == NULL)
      flags |= paas_ns_clone_flag (k);
  return flags;
}

int
paas_ns_open_paths (const struct paas_config *c, struct paas_ns_fds *fds, libpaas_error_t *err)
{
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    fds->fd[k] = -1;
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    {
      const char *path = c->namespaces[k].path;
      if (!c->namespaces[k].present || path == NULL)
        continue;
      fds->fd[k] = open (path, O_RDONLY | O_CLOEXEC);
      if (fds->fd[k] < 0)
        {
          int e = errno;
          paas_ns_close (fds);
          return libpaas_make_error (err, e, "open %s namespace `%s`", paas_ns_name (k), path);
        }
    }
  return 0;
}

void
paas_ns_close (struct paas_ns_fds *fds)
{
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    if (fds->fd[k] >= 0)
      {
        close (fds->fd[k]);
        fds->fd[k] = -1;
      }
}

int
paas_ns_join (struct paas_ns_fds *fds, unsigned skip, libpaas_error_t *err)
{
  /* Three passes, as runc's nsexec: the other namespaces while we still have our rights
   * (one owned by an older user namespace, such as a network namespace the engine made, can
   * only be joined from outside the container's), then the user namespace, then those that
   * needed its rights (EPERM before). */
  for (int pass = 0; pass < 3; pass++)
    for (int k = 0; k < PAAS_NS_COUNT; k++)
      {
        if (fds->fd[k] < 0 || (skip & (1u << k)) || (pass == 1) != (k == PAAS_NS_USER))
          continue;
        if (setns (fds->fd[k], paas_ns_clone_flag (k)) < 0)
          {
            if (pass == 0 && errno == EPERM)
              continue;
            return libpaas_make_error (err, errno, "join %s namespace", paas_ns_name (k));
          }
        close (fds->fd[k]);
        fds->fd[k] = -1;
      }
  return 0;
}

int
paas_ns_join_before_userns (struct paas_ns_fds *fds, int saved[PAAS_NS_COUNT], unsigned *joined,
                            libpaas_error_t *err)
{
  static const int kinds[] = { PAAS_NS_NET, PAAS_NS_IPC, PAAS_NS_UTS };
  *joined = 0;
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    saved[k] = -1;
  for (size_t i = 0; i < sizeof (kinds) / sizeof (kinds[0]); i++)
    {
      int k = kinds[i];
      char self[64];
      if (fds->fd[k] < 0)
        continue;
      snprintf (self, sizeof (self), "/proc/self/ns/%s", proc_names[k]);
      saved[k] = open (self, O_RDONLY | O_CLOEXEC);
      if (saved[k] < 0)
        return libpaas_make_error (err, errno, "open `%s`", self);
      if (setns (fds->fd[k], paas_ns_clone_flag (k)) < 0)
        return libpaas_make_error (err, errno, "join %s namespace", paas_ns_name (k));
      *joined |= 1u << k;
    }
  return 0;
}

int
paas_ns_return (int saved[PAAS_NS_COUNT], libpaas_error_t *err)
{
  int rc = 0;
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    {
      if (saved[k] < 0)
        continue;
      if (rc == 0 && setns (saved[k], paas_ns_clone_flag (k)) < 0)
        rc = libpaas_make_error (err, errno, "return to the runtime's %s namespace", paas_ns_name (k));
      close (saved[k]);
      saved[k] = -1;
    }
  return rc;
}

static int
write_map (pid_t pid, const char *file, const struct paas_id_mapping *m, size_t n,
           libpaas_error_t *err)
{
  char path[64], buf[4096];
  size_t len = 0;
  snprintf (path, sizeof (path), "/proc/%d/%s", (int) pid, file);
  for (size_t i = 0; i < n && len < sizeof (buf) - 40; i++)
    len += snprintf (buf + len, sizeof (buf) - len, "%u %u %u\n", m[i].container_id,
                     m[i].host_id, m[i].size);
  return libpaas_write_file (path, buf, len, 0, err);
}

int
paas_ns_write_id_maps (pid_t pid, const struct paas_config *c, libpaas_error_t *err)
{
  if (write_map (pid, "uid_map", c->uid_mappings, c->n_uid_mappings, err) < 0)
    return -1;
  return write_map (pid, "gid_map", c->gid_mappings, c->n_gid_mappings, err);
}

int
paas_ns_open_of_pid (pid_t pid, struct paas_ns_fds *fds, libpaas_error_t *err)
{
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    fds->fd[k] = -1;
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    {
      char theirs[64], ours[64];
      struct stat a, b;
      snprintf (theirs, sizeof (theirs), "/proc/%d/ns/%s", (int) pid, proc_names[k]);
      snprintf (ours, sizeof (ours), "/proc/self/ns/%s", proc_names[k]);
      if (stat (theirs, &a) < 0)
        {
          if (errno == ENOENT && k == PAAS_NS_CGROUP)
            continue;
          paas_ns_close (fds);
          return libpaas_make_error (err, errno, "stat `%s`", theirs);
        }
      if (stat (ours, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
        continue;
      fds->fd[k] = open (theirs, O_RDONLY | O_CLOEXEC);
      if (fds->fd[k] < 0)
        {
          int e = errno;
          paas_ns_close (fds);
          return libpaas_make_error (err, e, "open `%s`", theirs);
        }
    }
  return 0;
}
