/* cgroup v1 (and hybrid hosts): one directory per controller hierarchy. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-v2-devices.h"
#include "utils.h"

/* Hierarchies a container joins. Names that are symlinks to a co-mounted hierarchy
 * ("cpu" -> "cpu,cpuacct") are skipped so each hierarchy is handled once. */
static const char *const controllers[]
    = { "cpu", "cpuacct", "cpu,cpuacct", "cpuset", "memory", "pids", "devices", "freezer",
        "blkio", "net_cls,net_prio", "perf_event", "hugetlb", "systemd" };
#define N_CONTROLLERS (sizeof (controllers) / sizeof (controllers[0]))

/* Bitmask of the controllers mounted as real directories on this host. */
static unsigned
present_controllers (struct paas_cgroup *cg)
{
  unsigned mask = 0;
  if (cg->v1_mask)
    return cg->v1_mask;
  for (size_t i = 0; i < N_CONTROLLERS; i++)
    {
      cleanup_free char *p = libpaas_xasprintf ("%s/%s", cg->mount_root, controllers[i]);
      struct stat st;
      if (lstat (p, &st) == 0 && S_ISDIR (st.st_mode))
        mask |= 1u << i;
    }
  return cg->v1_mask = mask;
}

static char *
dir_of (const struct paas_cgroup *cg, const char *ctrl)
{
  return libpaas_xasprintf ("%s/%s%s", cg->mount_root, ctrl, cg->path);
}

/* A new cpuset cgroup starts with empty cpus/mems and refuses tasks until they are set:
 * copy them down from the parent. In the levels we create above the leaf we also set
 * cgroup.clone_children, so that the kernel does the copy for every later container
 * (then a single read shows the leaf is ready). */
static int
cpuset_inherit (const struct paas_cgroup *cg, const char *dir, bool leaf, libpaas_error_t *err)
{
  size_t base = strlen (cg->mount_root) + strlen ("/cpuset");
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
  cleanup_free char *parent = libpaas_xstrdup (dir);
  *strrchr (parent, '/') = '\0';
  for (int i = 0; i < 2; i++)
    {
      cleanup_free char *mine = NULL, *theirs = NULL;
      cleanup_free char *pm = libpaas_xasprintf ("%s/%s", dir, files[i]);
      if (libpaas_read_file (pm, &mine, NULL, err) < 0)
        return -1;
      if (mine[0] != '\n' && mine[0] != '\0')
        {
          if (i == 0)
            break; /* cloned by the kernel: mems came with cpus */
          continue;
        }
      /* A parent created concurrently by another runtime may still be empty: take the
       * value of the nearest initialised ancestor. */
      for (;;)
        {
          cleanup_free char *pp = libpaas_xasprintf ("%s/%s", parent, files[i]);
          free (theirs);
          theirs = NULL;
          if (libpaas_read_file (pp, &theirs, NULL, err) < 0)
            return -1;
          if ((theirs[0] != '\n' && theirs[0] != '\0') || strlen (parent) <= base)
            break;
          *strrchr (parent, '/') = '\0';
        }
      strcpy (parent, dir);
      *strrchr (parent, '/') = '\0';
      if (paas_cgroup_write (cg, dir, files[i], theirs, err) < 0)
        return -1;
    }
  if (!leaf && paas_cgroup_write (cg, dir, "cgroup.clone_children", "1", err) < 0)
    return -1;
  return 0;
}

/* mkdir -p that initialises cpuset levels on the way down. */
static int
make_dirs (const struct paas_cgroup *cg, const char *ctrl, libpaas_error_t *err)
{
  cleanup_free char *dir = dir_of (cg, ctrl);
  size_t base = strlen (cg->mount_root) + 1 + strlen (ctrl);
  bool cpuset = strcmp (ctrl, "cpuset") == 0;
  /* Fast path: the parent usually exists already. */
  if (mkdir (dir, 0755) == 0)
    {
      if (cpuset)
        return cpuset_inherit (cg, dir, true, err);
      return 0;
    }
  if (errno == EEXIST)
    return 0;
  if (errno != ENOENT)
    return libpaas_make_error (err, errno, "mkdir `%s`", dir);
  for (char *p = dir + base + 1;; p++)
    {
      if (*p != '/' && *p != '\0')
        continue;
      char saved = *p;
      *p = '\0';
      if (mkdir (dir, 0755) == 0)
        {
          if (cpuset && cpuset_inherit (cg, dir, saved == '\0', err) < 0)
            return -1;
        }
      else if (errno != EEXIST)
        return libpaas_make_error (err, errno, "mkdir `%s`", dir);
      *p = saved;
      if (saved == '\0')
        break;
    }
  return 0;
}

static int
write_i64 (const struct paas_cgroup *cg, const char *dir, const char *file, int64_t v,
           bool missing_ok, libpaas_error_t *err)
{
  char buf[32];
  snprintf (buf, sizeof (buf), "%" PRId64, v);
  if (paas_cgroup_write (cg, dir, file, buf, err) < 0)
    {
      if (missing_ok && (*err)->status == ENOENT)
        {
          libpaas_error_release (err);
          return 0;
        }
      return -1;
    }
  return 0;
}

static int
write_device_rule (const struct paas_cgroup *cg, const char *dir,
                   const struct paas_device_rule *d, libpaas_error_t *err)
{
  char rule[64], maj[24], min[24];
  if (d->major < 0)
    snprintf (maj, sizeof (maj), "*");
  else
    snprintf (maj, sizeof (maj), "%" PRId64, d->major);
  if (d->minor < 0)
    snprintf (min, sizeof (min), "*");
  else
    snprintf (min, sizeof (min), "%" PRId64, d->minor);
  if (d->type == 'a')
    snprintf (rule, sizeof (rule), "a");
  else
    snprintf (rule, sizeof (rule), "%c %s:%s %s", d->type, maj, min, d->access);
  return paas_cgroup_write (cg, dir, d->allow ? "devices.allow" : "devices.deny", rule, err);
}

/* The container's rules, then the devices every container gets (one list with v2's). */
static int
write_devices (const struct paas_cgroup *cg, const char *dir, const struct paas_resources *r,
               libpaas_error_t *err)
{
  for (size_t i = 0; i < r->n_device_rules; i++)
    if (write_device_rule (cg, dir, &r->device_rules[i], err) < 0)
      return -1;
  for (size_t i = 0; i < paas_n_default_device_rules; i++)
    if (write_device_rule (cg, dir, &paas_default_device_rules[i], err) < 0)
      return -1;
  return 0;
}

static int
apply (const struct paas_cgroup *cg, const char *ctrl, const char *dir,
       const struct paas_resources *r, libpaas_error_t *err)
{
  if (strcmp (ctrl, "memory") == 0)
    {
      if (r->has_memory_limit && write_i64 (cg, dir, "memory.limit_in_bytes", r->memory_limit,
                                            false, err) < 0)
        return -1;
      /* memsw exists only with swap accounting; without it there is no swap to limit. */
      if (r->has_memory_swap
          && write_i64 (cg, dir, "memory.memsw.limit_in_bytes", r->memory_swap, true, err) < 0)
        return -1;
      if (r->has_memory_reservation
          && write_i64 (cg, dir, "memory.soft_limit_in_bytes", r->memory_reservation, false,
                        err) < 0)
        return -1;
      if (r->disable_oom_killer
          && paas_cgroup_write (cg, dir, "memory.oom_control", "1", err) < 0)
        return -1;
      if (r->has_memory_swappiness
          && write_i64 (cg, dir, "memory.swappiness", r->memory_swappiness, false, err) < 0)
        return -1;
    }
  else if (strcmp (ctrl, "cpu") == 0 || strcmp (ctrl, "cpu,cpuacct") == 0)
    {
      if (r->has_cpu_shares && r->cpu_shares
          && write_i64 (cg, dir, "cpu.shares", r->cpu_shares, false, err) < 0)
        return -1;
      if (r->has_cpu_period && r->cpu_period
          && write_i64 (cg, dir, "cpu.cfs_period_us", r->cpu_period, false, err) < 0)
        return -1;
      if (r->has_cpu_quota && write_i64 (cg, dir, "cpu.cfs_quota_us", r->cpu_quota, false, err) < 0)
        return -1;
    }
  else if (strcmp (ctrl, "cpuset") == 0)
    {
      if (r->cpu_cpus && *r->cpu_cpus
          && paas_cgroup_write (cg, dir, "cpuset.cpus", r->cpu_cpus, err) < 0)
        return -1;
      if (r->cpu_mems && *r->cpu_mems
          && paas_cgroup_write (cg, dir, "cpuset.mems", r->cpu_mems, err) < 0)
        return -1;
    }
  else if (strcmp (ctrl, "pids") == 0)
    {
      if (r->has_pids_limit)
        {
          char buf[32];
          if (r->pids_limit > 0)
            snprintf (buf, sizeof (buf), "%" PRId64, r->pids_limit);
          else
            snprintf (buf, sizeof (buf), "max");
          if (paas_cgroup_write (cg, dir, "pids.max", buf, err) < 0)
            return -1;
        }
    }
  else if (strcmp (ctrl, "devices") == 0)
    {
      if (r->n_device_rules && write_devices (cg, dir, r, err) < 0)
        return -1;
    }
  return 0;
}

static int
v1_destroy (struct paas_cgroup *cg, libpaas_error_t *err)
{
  unsigned mask = present_controllers (cg);
  int ret = 0;
  for (size_t i = 0; i < N_CONTROLLERS; i++)
    if (mask & (1u << i))
      {
        cleanup_free char *dir = dir_of (cg, controllers[i]);
        if (paas_cgroup_rmdir (dir, err) < 0)
          ret = -1;
      }
  return ret;
}

static bool
has_controller (unsigned mask, const char *name)
{
  for (size_t i = 0; i < N_CONTROLLERS; i++)
    if ((mask & (1u << i)) && strcmp (controllers[i], name) == 0)
      return true;
  return false;
}

/* A limit asked for is applied or refused: a controller that is not mounted would leave the
 * container without it (fail closed). */
static int
check_controllers (unsigned mask, const struct paas_cgroup *cg, const struct paas_resources *r,
                   libpaas_error_t *err)
{
  const struct
  {
    bool wanted;
    const char *field, *ctrl, *alt;
  } needs[] = {
    { r->has_memory_limit || r->has_memory_swap || r->has_memory_reservation
          || r->has_memory_swappiness || r->disable_oom_killer,
      "memory", "memory", NULL },
    { (r->has_cpu_shares && r->cpu_shares) || (r->has_cpu_period && r->cpu_period)
          || r->has_cpu_quota,
      "cpu", "cpu", "cpu,cpuacct" },
    { (r->cpu_cpus && *r->cpu_cpus) || (r->cpu_mems && *r->cpu_mems), "cpu", "cpuset", NULL },
    { r->has_pids_limit, "pids", "pids", NULL },
    { r->n_device_rules > 0, "devices", "devices", NULL },
  };
  for (size_t i = 0; i < sizeof (needs) / sizeof (needs[0]); i++)
    if (needs[i].wanted && !has_controller (mask, needs[i].ctrl)
        && !(needs[i].alt && has_controller (mask, needs[i].alt)))
      return libpaas_make_error (err, 0, "apply `linux.resources.%s`: the `%s` controller is not "
                                 "mounted under `%s`", needs[i].field, needs[i].ctrl,
                                 cg->mount_root);
  return 0;
}

static int
v1_create (struct paas_cgroup *cg, const struct paas_resources *r, libpaas_error_t *err)
{
  unsigned mask = present_controllers (cg);
  if (mask == 0)
    return libpaas_make_error (err, 0, "find cgroup v1 controllers under `%s`", cg->mount_root);
  if (check_controllers (mask, cg, r, err) < 0)
    return -1;
  for (size_t i = 0; i < N_CONTROLLERS; i++)
    if (mask & (1u << i))
      {
        cleanup_free char *dir = dir_of (cg, controllers[i]);
        if (make_dirs (cg, controllers[i], err) < 0 || apply (cg, controllers[i], dir, r, err) < 0)
          {
            libpaas_error_t ignored = NULL;
            v1_destroy (cg, &ignored);
            libpaas_error_release (&ignored);
            return -1;
          }
      }
  return 0;
}

static int
v1_enter (struct paas_cgroup *cg, pid_t pid, libpaas_error_t *err)
{
  unsigned mask = present_controllers (cg);
  char buf[16];
  snprintf (buf, sizeof (buf), "%d", (int) pid);
  for (size_t i = 0; i < N_CONTROLLERS; i++)
    if (mask & (1u << i))
      {
        cleanup_free char *dir = dir_of (cg, controllers[i]);
        if (paas_cgroup_write (cg, dir, "cgroup.procs", buf, err) < 0)
          return -1;
      }
  return 0;
}

static char *
v1_oom_events_path (struct paas_cgroup *cg)
{
  cleanup_free char *dir = dir_of (cg, "memory");
  struct stat st;
  if (stat (dir, &st) < 0)
    return NULL;
  return libpaas_xasprintf ("%s/memory.oom_control", dir);
}

static char *
v1_procs_path (struct paas_cgroup *cg)
{
  static const char *const prefer[] = { "pids", "memory", "freezer", "cpu" };
  for (size_t i = 0; i < sizeof (prefer) / sizeof (prefer[0]); i++)
    {
      cleanup_free char *dir = dir_of (cg, prefer[i]);
      struct stat st;
      if (stat (dir, &st) == 0)
        return libpaas_xasprintf ("%s/cgroup.procs", dir);
    }
  return NULL;
}

const struct paas_cgroup_ops paas_cgroup_v1_ops = {
  .name = "v1",
  .create = v1_create,
  .enter = v1_enter,
  .destroy = v1_destroy,
  .oom_events_path = v1_oom_events_path,
  .procs_path = v1_procs_path,
};
