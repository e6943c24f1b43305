/* Where the container's memory cgroup is, and whether the kernel OOM-killed in it.
 *
 * The path comes from /proc/<pid>/cgroup of the container's init, read while it is alive
 * (between `create` and `start`), and the counters are read after it exited but before
 * `delete` removes the cgroup (runc, crun and paas-runtime remove it on delete only).
 *   cgroup v1: memory.oom_control "oom_kill N" (kernel >= 4.13); older kernels have only
 *              "under_oom" and memory.failcnt, so a SIGKILL while the limit was hit counts.
 *   cgroup v2: memory.events "oom_kill N". */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Reads a small file into buf (NUL-terminated); < 0 on failure. */
static ssize_t
read_small (const char *path, char *buf, size_t len)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = libpaas_read_all (fd, buf, len - 1);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return n;
}

/* Value of "key N" in a flat-keyed file (memory.oom_control, memory.events). */
static bool
keyed_value (const char *path, const char *key, uint64_t *value)
{
  char buf[1024];
  size_t klen = strlen (key);
  if (read_small (path, buf, sizeof buf) < 0)
    return false;
  for (char *line = buf; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL)
    if (strncmp (line, key, klen) == 0 && line[klen] == ' ')
      {
        *value = strtoull (line + klen + 1, NULL, 10);
        return true;
      }
  return false;
}

static bool
has_option (const char *list, const char *opt)
{
  size_t n = strlen (opt);
  for (const char *p = list; p && *p; p = strchr (p, ',') ? strchr (p, ',') + 1 : NULL)
    if (strncmp (p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
      return true;
  return false;
}

/* Mount point and mount root of the v1 memory hierarchy (want_v2 false) or of cgroup2, from
 * /proc/self/mountinfo: "id parent maj:min root mountpoint opts [optional...] - fstype src super". */
static bool
find_mount (bool want_v2, char *mountpoint, size_t mlen, char *root, size_t rlen)
{
  cleanup_free char *text = NULL;
  libpaas_error_t ignored = NULL;
  size_t len;

  if (libpaas_read_file ("/proc/self/mountinfo", &text, &len, &ignored) < 0)
    {
      libpaas_error_release (&ignored);
      return false;
    }
  for (char *line = text, *next; line && *line; line = next)
    {
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      char *f[5] = { 0 };
      char *save = NULL, *tok = strtok_r (line, " ", &save);
      for (int i = 0; i < 5 && tok; i++, tok = strtok_r (NULL, " ", &save))
        f[i] = tok;
      while (tok && strcmp (tok, "-") != 0)
        tok = strtok_r (NULL, " ", &save);
      char *fstype = tok ? strtok_r (NULL, " ", &save) : NULL;
      char *source = fstype ? strtok_r (NULL, " ", &save) : NULL;
      char *super = source ? strtok_r (NULL, " ", &save) : NULL;
      if (f[4] == NULL || fstype == NULL)
        continue;
      if (want_v2 ? strcmp (fstype, "cgroup2") == 0
                  : strcmp (fstype, "cgroup") == 0 && super && has_option (super, "memory"))
        {
          snprintf (mountpoint, mlen, "%s", f[4]);
          snprintf (root, rlen, "%s", f[3]);
          return true;
        }
    }
  return false;
}

/* Whether pid is listed in <dir>/cgroup.procs, read in chunks: a shared cgroup may hold many. */
static bool
procs_has (const char *dir, pid_t pid)
{
  char path[PATH_MAX + 16], want[16], buf[4096];
  size_t have = 0;

  if (snprintf (path, sizeof path, "%s/cgroup.procs", dir) >= (int) sizeof path)
    return false;
  snprintf (want, sizeof want, "%d", (int) pid);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  for (;;)
    {
      ssize_t n = read (fd, buf + have, sizeof buf - 1 - have);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return false;
      have += (size_t) n;
      buf[have] = '\0';
      char *line = buf, *nl;
      while ((nl = strchr (line, '\n')) != NULL)
        {
          *nl = '\0';
          if (strcmp (line, want) == 0)
            return true;
          line = nl + 1;
        }
      if (n == 0)
        return strcmp (line, want) == 0;
      have -= (size_t) (line - buf);
      memmove (buf, line, have);
      if (have == sizeof buf - 1)
        return false;
    }
}

/* The memory cgroup at the conventional mount points, without /proc/self/mountinfo: that file
 * has a line per mount, two per running container, and every shim would read it once: O(n^2)
 * text over a scale-up. Exact or nothing: the candidate must be on the right hierarchy and list
 * the pid in its cgroup.procs (a process is in one cgroup per hierarchy), so a mount of another
 * subtree there (a cgroup namespace) or anything else falls back to the scan. */
static bool
conventional_dir (bool v2, const char *controllers, const char *rel, pid_t pid, char *dir,
                  size_t dlen)
{
  char named[PATH_MAX], file[PATH_MAX + 32];
  const char *mnts[2] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };

  if (!v2)
    {
      /* systemd names a co-mounted hierarchy by its list: /sys/fs/cgroup/cpu,cpuacct. */
      mnts[0] = "/sys/fs/cgroup/memory";
      mnts[1] = NULL;
      if (strcmp (controllers, "memory") != 0
          && snprintf (named, sizeof named, "/sys/fs/cgroup/%s", controllers) < (int) sizeof named)
        mnts[1] = named;
    }
  for (size_t i = 0; i < 2; i++)
    {
      struct statfs sfs;
      if (mnts[i] == NULL || statfs (mnts[i], &sfs) < 0
          || sfs.f_type != (v2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC))
        continue;
      if (!v2)
        {
          snprintf (file, sizeof file, "%s/memory.usage_in_bytes", mnts[i]);
          if (access (file, F_OK) < 0)
            continue;
        }
      if (snprintf (dir, dlen, "%s%s", mnts[i], rel) < (int) dlen && procs_has (dir, pid))
        return true;
    }
  dir[0] = '\0';
  return false;
}

int
shim_cgroup_find (pid_t pid, struct shim_cgroup *cg, libpaas_error_t *err)
{
  char path[64], buf[4096], mnt[PATH_MAX], root[PATH_MAX];
  const char *v1 = NULL, *v2 = NULL, *v1_controllers = NULL;

  cg->dir[0] = '\0';
  cg->version = 0;
  cg->oom_kills_at_start = 0;
  snprintf (path, sizeof path, "/proc/%d/cgroup", (int) pid);
  if (read_small (path, buf, sizeof buf) < 0)
    return libpaas_make_error (err, errno, "read `%s`", path);

  /* Lines are "hierarchy-id:controller,list:/path"; v2 is "0::/path". */
  for (char *line = buf, *next; line && *line; line = next)
    {
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      char *c1 = strchr (line, ':');
      char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      if (c2 == NULL)
        continue;
      *c2 = '\0';
      if (c1[1] == '\0' && strcmp (line, "0:") == 0)
        v2 = c2 + 1;
      else if (has_option (c1 + 1, "memory"))
        {
          v1 = c2 + 1;
          v1_controllers = c1 + 1;
        }
    }

  const char *rel = v1 ? v1 : v2;
  if (rel == NULL)
    return libpaas_make_error (err, 0, "find memory cgroup of pid %d", (int) pid);
  if (!conventional_dir (v1 == NULL, v1_controllers, rel, pid, cg->dir, sizeof cg->dir))
    {
      if (!find_mount (v1 == NULL, mnt, sizeof mnt, root, sizeof root))
        return libpaas_make_error (err, 0, "find memory cgroup of pid %d", (int) pid);
      /* /proc/<pid>/cgroup paths are relative to the hierarchy root; the mount may show only a
       * subtree of it (inside a container). */
      size_t rootlen = strcmp (root, "/") == 0 ? 0 : strlen (root);
      if (rootlen && strncmp (rel, root, rootlen) == 0)
        rel += rootlen;
      if (snprintf (cg->dir, sizeof cg->dir, "%s%s", mnt, rel) >= (int) sizeof cg->dir)
        {
          cg->dir[0] = '\0';
          return libpaas_make_error (err, ENAMETOOLONG, "find memory cgroup of pid %d", (int) pid);
        }
    }
  cg->version = v1 ? 1 : 2;

  /* The cgroup may be reused (an engine-created parent): count only kills from now on. */
  char file[PATH_MAX + 32];
  snprintf (file, sizeof file, "%s/%s", cg->dir,
            cg->version == 1 ? "memory.oom_control" : "memory.events");
  if (!keyed_value (file, "oom_kill", &cg->oom_kills_at_start))
    cg->oom_kills_at_start = 0;
  return 0;
}

bool
shim_cgroup_oom_killed (const struct shim_cgroup *cg, int term_signal)
{
  char file[PATH_MAX + 32];
  uint64_t n = 0;

  if (cg->version == 0)
    return false;
  if (cg->version == 2)
    {
      snprintf (file, sizeof file, "%s/memory.events", cg->dir);
      return keyed_value (file, "oom_kill", &n) && n > cg->oom_kills_at_start;
    }
  snprintf (file, sizeof file, "%s/memory.oom_control", cg->dir);
  if (keyed_value (file, "oom_kill", &n))
    return n > cg->oom_kills_at_start;
  /* Kernels before 4.13. */
  if (keyed_value (file, "under_oom", &n) && n > 0)
    return true;
  if (term_signal != SIGKILL)
    return false;
  char buf[64];
  snprintf (file, sizeof file, "%s/memory.failcnt", cg->dir);
  return read_small (file, buf, sizeof buf) > 0 && strtoull (buf, NULL, 10) > 0;
}
