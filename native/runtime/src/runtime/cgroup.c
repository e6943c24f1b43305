/* Backend selection and helpers shared by cgroup-v1.c and cgroup-v2.c. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "utils.h"

int
paas_cgroup_init (struct paas_cgroup *cg, const char *cgroups_path, const char *id,
                  int version, libpaas_error_t *err)
{
  const char *fake = getenv ("PAAS_CGROUP_ROOT");
  memset (cg, 0, sizeof (*cg));
  cg->leaf_fd = -1;
  if (cgroups_path == NULL || cgroups_path[0] == '\0')
    cg->path = libpaas_xasprintf ("/paas/%s", id);
  else if (cgroups_path[0] == '/')
    cg->path = libpaas_xstrdup (cgroups_path);
  else
    cg->path = libpaas_xasprintf ("/%s", cgroups_path);
  /* Trailing slashes would make leaf names empty. */
  for (size_t l = strlen (cg->path); l > 1 && cg->path[l - 1] == '/'; l--)
    cg->path[l - 1] = '\0';
  if (strcmp (cg->path, "/") == 0)
    {
      free (cg->path);
      cg->path = NULL;
      return libpaas_make_error (err, 0, "invalid `linux.cgroupsPath`: the root cgroup cannot "
                                 "host a container");
    }

  if (fake && *fake)
    {
      /* A real cgroup2 mount is used as such (e.g. the unified hierarchy of a hybrid host);
       * any other directory is a test tree. */
      struct statfs st;
      cg->mount_root = libpaas_xstrdup (fake);
      cg->fake = statfs (fake, &st) < 0 || st.f_type != CGROUP2_SUPER_MAGIC;
      cg->ops = &paas_cgroup_v2_ops;
      return 0;
    }
  cg->mount_root = libpaas_xstrdup ("/sys/fs/cgroup");
  if (version == 0)
    {
      struct statfs st;
      if (statfs ("/sys/fs/cgroup", &st) < 0)
        return libpaas_make_error (err, errno, "statfs `/sys/fs/cgroup`");
      version = st.f_type == CGROUP2_SUPER_MAGIC ? 2 : 1;
    }
  cg->ops = version == 2 ? &paas_cgroup_v2_ops : &paas_cgroup_v1_ops;
  return 0;
}

void
paas_cgroup_release (struct paas_cgroup *cg)
{
  free (cg->mount_root);
  free (cg->path);
  if (cg->leaf_fd >= 0)
    close (cg->leaf_fd);
  cg->mount_root = cg->path = NULL;
  cg->leaf_fd = -1;
}

int
paas_cgroup_version (const struct paas_cgroup *cg)
{
  return cg->ops == &paas_cgroup_v2_ops ? 2 : 1;
}

int64_t
paas_cgroup_read_oom_kills (const char *events_path)
{
  cleanup_free char *text = NULL;
  libpaas_error_t err = NULL;
  char *p;
  if (events_path == NULL || libpaas_read_file (events_path, &text, NULL, &err) < 0)
    {
      libpaas_error_release (&err);
      return -1;
    }
  for (p = text; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp (p, "oom_kill ", 9) == 0)
      return strtoll (p + 9, NULL, 10);
  return -1;
}

uint64_t
paas_cgroup_shares_to_weight (uint64_t shares)
{
  if (shares == 0)
    return 0;
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

int
paas_cgroup_write (const struct paas_cgroup *cg, const char *dir, const char *file,
                   const char *value, libpaas_error_t *err)
{
  cleanup_free char *path = libpaas_xasprintf ("%s/%s", dir, file);
  return libpaas_write_file (path, value, strlen (value), cg->fake, err);
}

int
paas_cgroup_rmdir (const char *dir, libpaas_error_t *err)
{
  for (int i = 0; i < 200; i++)
    {
      if (rmdir (dir) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY)
        break;
      nanosleep (&(struct timespec) { 0, 5 * 1000 * 1000 }, NULL);
    }
  return libpaas_make_error (err, errno, "rmdir `%s`", dir);
}
