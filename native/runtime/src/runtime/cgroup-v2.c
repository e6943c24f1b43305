/* cgroup v2 (unified): one directory; controllers are enabled in every ancestor's
 * cgroup.subtree_control. The leaf is kept open so the container can be cloned straight
 * into it (CLONE_INTO_CGROUP): no later write to cgroup.procs, no window outside it. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <unistd.h>

#include "cgroup-v2-devices.h"
#include "utils.h"

/* Controllers that our limits need, plus memory whenever the parent offers it: memory.events
 * is where a monitor reads OOM kills (see cgroup.h), limit or not. The others are left as the
 * parent has them. */
static int
enable_controllers (struct paas_cgroup *cg, const char *dir, const struct paas_resources *r,
                    libpaas_error_t *err)
{
  char want[64] = "";
  bool memory = r->has_memory_limit || r->has_memory_swap || r->has_memory_reservation;
  if (r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period)
    strcat (want, " +cpu");
  if ((r->cpu_cpus && *r->cpu_cpus) || (r->cpu_mems && *r->cpu_mems))
    strcat (want, " +cpuset");
  if (r->has_pids_limit)
    strcat (want, " +pids");
  {
    cleanup_free char *all = libpaas_xasprintf ("+memory%s", want);
    if (paas_cgroup_write (cg, dir, "cgroup.subtree_control", all, err) == 0)
      return 0;
    if (memory)
      return -1;
    libpaas_error_release (err);
  }
  if (want[0] == '\0')
    return 0;
  return paas_cgroup_write (cg, dir, "cgroup.subtree_control", want + 1, err);
}

static char *
leaf_dir (const struct paas_cgroup *cg)
{
  return libpaas_xasprintf ("%s%s", cg->mount_root, cg->path);
}

static int
v2_create (struct paas_cgroup *cg, const struct paas_resources *r, libpaas_error_t *err)
{
  cleanup_free char *dir = leaf_dir (cg);
  size_t base = strlen (cg->mount_root);
  char buf[64];

  /* Walk down from the root: enable controllers in each level, then create the next. */
  for (char *p = dir + base + 1;; p++)
    {
      if (*p != '/' && *p != '\0')
        continue;
      char saved = *p;
      *p = '\0';
      {
        cleanup_free char *parent = libpaas_xstrdup (dir);
        *strrchr (parent, '/') = '\0';
        if (parent[0] == '\0' || strlen (parent) < base)
          {
            free (parent);
            parent = libpaas_xstrdup (cg->mount_root);
          }
        if (enable_controllers (cg, parent, r, err) < 0)
          return -1;
      }
      if (mkdir (dir, 0755) < 0 && errno != EEXIST)
        return libpaas_make_error (err, errno, "mkdir `%s`", dir);
      *p = saved;
      if (saved == '\0')
        break;
    }

  if (r->has_memory_limit)
    {
      if (r->memory_limit < 0)
        snprintf (buf, sizeof (buf), "max");
      else
        snprintf (buf, sizeof (buf), "%" PRId64, r->memory_limit);
      if (paas_cgroup_write (cg, dir, "memory.max", buf, err) < 0)
        goto fail;
    }
  if (r->has_memory_swap)
    {
      /* The spec's swap is memory+swap (v1 memsw); v2's swap.max counts swap alone. */
      if (r->memory_swap < 0)
        snprintf (buf, sizeof (buf), "max");
      else if (r->has_memory_limit && r->memory_limit > 0)
        snprintf (buf, sizeof (buf), "%" PRId64,
                  r->memory_swap > r->memory_limit ? r->memory_swap - r->memory_limit : 0);
      else
        snprintf (buf, sizeof (buf), "%" PRId64, r->memory_swap);
      /* Without swap accounting the file does not exist, and there is no swap to limit. */
      if (paas_cgroup_write (cg, dir, "memory.swap.max", buf, err) < 0)
        {
          if ((*err)->status != ENOENT)
            goto fail;
          libpaas_error_release (err);
        }
    }
  if (r->has_memory_reservation)
    {
      if (r->memory_reservation < 0)
        snprintf (buf, sizeof (buf), "max");
      else
        snprintf (buf, sizeof (buf), "%" PRId64, r->memory_reservation);
      if (paas_cgroup_write (cg, dir, "memory.low", buf, err) < 0)
        goto fail;
    }
  /* swappiness and disableOOMKiller have no v2 file (memory.swappiness and oom_control are
   * v1 only): ignored, as runc's fs2 driver does, so a config written for v1 still runs. */
  if (r->has_cpu_shares && r->cpu_shares)
    {
      snprintf (buf, sizeof (buf), "%" PRIu64, paas_cgroup_shares_to_weight (r->cpu_shares));
      if (paas_cgroup_write (cg, dir, "cpu.weight", buf, err) < 0)
        goto fail;
    }
  if (r->has_cpu_quota || r->has_cpu_period)
    {
      uint64_t period = r->has_cpu_period && r->cpu_period ? r->cpu_period : 100000;
      if (r->has_cpu_quota && r->cpu_quota > 0)
        snprintf (buf, sizeof (buf), "%" PRId64 " %" PRIu64, r->cpu_quota, period);
      else
        snprintf (buf, sizeof (buf), "max %" PRIu64, period);
      if (paas_cgroup_write (cg, dir, "cpu.max", buf, err) < 0)
        goto fail;
    }
  if (r->cpu_cpus && *r->cpu_cpus && paas_cgroup_write (cg, dir, "cpuset.cpus", r->cpu_cpus, err) < 0)
    goto fail;
  if (r->cpu_mems && *r->cpu_mems && paas_cgroup_write (cg, dir, "cpuset.mems", r->cpu_mems, err) < 0)
    goto fail;
  if (r->has_pids_limit)
    {
      if (r->pids_limit > 0)
        snprintf (buf, sizeof (buf), "%" PRId64, r->pids_limit);
      else
        snprintf (buf, sizeof (buf), "max");
      if (paas_cgroup_write (cg, dir, "pids.max", buf, err) < 0)
        goto fail;
    }
  /* A plain test tree (PAAS_CGROUP_ROOT) has no cgroup to attach the program to. */
  if (!cg->fake && paas_cgroup_v2_set_devices (dir, r, err) < 0)
    goto fail;

  cg->leaf_fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cg->leaf_fd < 0)
    {
      libpaas_make_error (err, errno, "open `%s`", dir);
      goto fail;
    }
  return 0;

fail:
  rmdir (dir);
  return -1;
}

static int
v2_enter (struct paas_cgroup *cg, pid_t pid, libpaas_error_t *err)
{
  cleanup_free char *dir = leaf_dir (cg);
  char buf[16];
  snprintf (buf, sizeof (buf), "%d", (int) pid);
  return paas_cgroup_write (cg, dir, "cgroup.procs", buf, err);
}

static int
v2_destroy (struct paas_cgroup *cg, libpaas_error_t *err)
{
  cleanup_free char *dir = leaf_dir (cg);
  if (cg->fake)
    {
      /* A plain directory: remove the files the writer created. */
      static const char *const files[]
          = { "memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max",
              "cpuset.cpus", "cpuset.mems", "pids.max", "cgroup.procs", "cgroup.subtree_control" };
      for (size_t i = 0; i < sizeof (files) / sizeof (files[0]); i++)
        {
          cleanup_free char *f = libpaas_xasprintf ("%s/%s", dir, files[i]);
          unlink (f);
        }
    }
  return paas_cgroup_rmdir (dir, err);
}

static char *
v2_oom_events_path (struct paas_cgroup *cg)
{
  cleanup_free char *dir = leaf_dir (cg);
  return libpaas_xasprintf ("%s/memory.events", dir);
}

static char *
v2_procs_path (struct paas_cgroup *cg)
{
  cleanup_free char *dir = leaf_dir (cg);
  return libpaas_xasprintf ("%s/cgroup.procs", dir);
}

const struct paas_cgroup_ops paas_cgroup_v2_ops = {
  .name = "v2",
  .create = v2_create,
  .enter = v2_enter,
  .destroy = v2_destroy,
  .oom_events_path = v2_oom_events_path,
  .procs_path = v2_procs_path,
};
