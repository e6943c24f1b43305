/* Unit tests of paas-shim's pure parts: restart policy math, JSON escaping, UTF-8 cuts,
 * RFC 3339 times, signal names, attach frames; and the memory cgroup lookup (as root: in child
 * mount namespaces). Built and run by tests/shim-unit.t; prints TAP lines. */
#include "shim.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void
check (bool cond, const char *desc)
{
  printf ("%s - %s\n", cond ? "ok" : "not ok", desc);
  if (!cond)
    failures++;
}

static bool
parses (const char *text, enum shim_restart_kind kind, unsigned max)
{
  struct shim_restart_policy p;
  libpaas_error_t err = NULL;
  if (shim_restart_parse (text, &p, &err) < 0)
    {
      libpaas_error_release (&err);
      return false;
    }
  return p.kind == kind && p.max_retries == max;
}

static bool
rejects (const char *text)
{
  struct shim_restart_policy p;
  libpaas_error_t err = NULL;
  int rc = shim_restart_parse (text, &p, &err);
  bool ok = rc < 0 && err != NULL && strstr (err->msg, text) != NULL;
  libpaas_error_release (&err);
  return ok;
}

static bool
escapes_to (const char *in, size_t len, const char *want)
{
  char out[256];
  size_t n = shim_json_escape (out, in, len);
  out[n] = '\0';
  if (strcmp (out, want) != 0)
    printf ("# escaped %s, want %s\n", out, want);
  return strcmp (out, want) == 0;
}

static bool
time_is (time_t secs, long nsec, const char *want)
{
  char buf[40];
  struct timespec ts = { secs, nsec };
  shim_format_time (buf, sizeof buf, &ts);
  if (strcmp (buf, want) != 0)
    printf ("# time %s, want %s\n", buf, want);
  return strcmp (buf, want) == 0;
}

static void
skip (const char *desc, const char *why)
{
  printf ("ok - %s # SKIP %s\n", desc, why);
}

/* Runs fn in a child with a private mount namespace (torn down when it exits); true when fn
 * returned true. */
static bool
in_mount_ns (bool (*fn) (void *), void *arg)
{
  fflush (stdout);
  pid_t child = fork ();
  if (child == 0)
    {
      if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        {
          printf ("# mount namespace: %s\n", strerror (errno));
          _exit (1);
        }
      bool ok = fn (arg);
      fflush (stdout);
      _exit (ok ? 0 : 1);
    }
  int status;
  return child > 0 && waitpid (child, &status, 0) == child && WIFEXITED (status)
         && WEXITSTATUS (status) == 0;
}

static bool
find_dir_is (const char *want)
{
  struct shim_cgroup cg;
  libpaas_error_t err = NULL;
  if (shim_cgroup_find (getpid (), &cg, &err) < 0)
    {
      printf ("# %s\n", err->msg);
      libpaas_error_release (&err);
      return false;
    }
  if (strcmp (cg.dir, want) != 0)
    printf ("# found %s, want %s\n", cg.dir, want);
  return strcmp (cg.dir, want) == 0;
}

/* With /proc/self/mountinfo empty (/dev/null bound over it) only the fast path can find it. */
static bool
found_without_mountinfo (void *want)
{
  char buf[16];
  if (mount ("/dev/null", "/proc/self/mountinfo", NULL, MS_BIND, NULL) < 0)
    {
      printf ("# bind /dev/null over mountinfo: %s\n", strerror (errno));
      return false;
    }
  FILE *f = fopen ("/proc/self/mountinfo", "r");
  bool empty = f && fread (buf, 1, sizeof buf, f) == 0;
  if (f)
    fclose (f);
  return empty && find_dir_is (want);
}

struct moved
{
  const char *dir; /* the fast path's answer, under /sys/fs/cgroup/memory */
  const char *to;  /* an empty directory */
};

/* The memory hierarchy moved off its conventional mount point: only the mountinfo scan finds
 * it, and it must find the same cgroup directory (same inode) at the new place. */
static bool
found_by_scan_moved (void *arg)
{
  const struct moved *m = arg;
  const char *conv = "/sys/fs/cgroup/memory";
  char want[PATH_MAX + 64];
  struct stat before, after;
  if (stat (m->dir, &before) < 0 || mount (conv, m->to, NULL, MS_MOVE, NULL) < 0)
    {
      printf ("# move %s to %s: %s\n", conv, m->to, strerror (errno));
      return false;
    }
  snprintf (want, sizeof want, "%s%s", m->to, m->dir + strlen (conv));
  return find_dir_is (want) && stat (want, &after) == 0 && after.st_dev == before.st_dev
         && after.st_ino == before.st_ino;
}

struct decoy
{
  const char *top;  /* a cgroup T at the memory hierarchy's root */
  const char *bind; /* an empty directory */
};

/* /sys/fs/cgroup/memory shows only the subtree T (as inside a cgroup namespace) and we are in
 * T/inner: the fast path's candidate <mnt>/T/inner is T/T/inner, a cgroup that exists but does
 * not hold us. It must be refused and the scan (mount root T) give <mnt>/inner. */
static bool
found_past_decoy (void *arg)
{
  const struct decoy *d = arg;
  const char *conv = "/sys/fs/cgroup/memory";
  char procs[PATH_MAX], pid[16];
  snprintf (procs, sizeof procs, "%s/inner/cgroup.procs", d->top);
  snprintf (pid, sizeof pid, "%d", (int) getpid ());
  FILE *f = fopen (procs, "w");
  bool joined = f && fputs (pid, f) >= 0;
  if (f && fclose (f) != 0)
    joined = false;
  if (!joined || mount (d->top, d->bind, NULL, MS_BIND, NULL) < 0
      || umount2 (conv, MNT_DETACH) < 0 || mount (d->bind, conv, NULL, MS_BIND, NULL) < 0
      || umount2 (d->bind, MNT_DETACH) < 0)
    {
      printf ("# set up %s: %s\n", conv, strerror (errno));
      return false;
    }
  return find_dir_is ("/sys/fs/cgroup/memory/inner");
}

static void
cgroup_lookup_paths (const struct shim_cgroup *own)
{
  const char *d1 = "cgroup: found without reading /proc/self/mountinfo (conventional mount)";
  const char *d2 = "cgroup: the mountinfo scan finds the same directory";
  const char *d3 = "cgroup: a candidate not holding the pid is refused, the scan finds it";
  const char *conv = "/sys/fs/cgroup/memory/";
  if (geteuid () != 0 || own->version != 1 || strncmp (own->dir, conv, strlen (conv)) != 0)
    {
      const char *why
          = geteuid () != 0 ? "needs root" : "needs cgroup v1 memory at /sys/fs/cgroup/memory";
      skip (d1, why);
      skip (d2, why);
      skip (d3, why);
      return;
    }
  check (in_mount_ns (found_without_mountinfo, (void *) own->dir), d1);

  char to[] = "/tmp/paas-shim-unit-cg.XXXXXX";
  if (mkdtemp (to) == NULL)
    check (false, d2);
  else
    {
      struct moved m = { own->dir, to };
      check (in_mount_ns (found_by_scan_moved, &m), d2);
      rmdir (to);
    }

  /* T, T/inner (ours) and the decoy T/T/inner, removed after the child left them. */
  char top[64], inner[96], mid[96], decoy_dir[128], bind[] = "/tmp/paas-shim-unit-cg.XXXXXX";
  snprintf (top, sizeof top, "/sys/fs/cgroup/memory/paas-shim-unit-%d", (int) getpid ());
  snprintf (inner, sizeof inner, "%s/inner", top);
  snprintf (mid, sizeof mid, "%s%s", top, top + strlen ("/sys/fs/cgroup/memory"));
  snprintf (decoy_dir, sizeof decoy_dir, "%s/inner", mid);
  if (mkdtemp (bind) == NULL)
    check (false, d3);
  else
    {
      struct decoy d = { top, bind };
      bool made = mkdir (top, 0755) == 0 && mkdir (inner, 0755) == 0 && mkdir (mid, 0755) == 0
                  && mkdir (decoy_dir, 0755) == 0;
      if (!made)
        printf ("# mkdir under %s: %s\n", top, strerror (errno));
      check (made && in_mount_ns (found_past_decoy, &d), d3);
      rmdir (bind);
    }
  rmdir (decoy_dir);
  rmdir (mid);
  rmdir (inner);
  rmdir (top);
}

int
main (void)
{
  struct shim_restart_policy no = { SHIM_RESTART_NO, 0 }, always = { SHIM_RESTART_ALWAYS, 0 },
                             unless = { SHIM_RESTART_UNLESS_STOPPED, 0 },
                             onf3 = { SHIM_RESTART_ON_FAILURE, 3 },
                             onf = { SHIM_RESTART_ON_FAILURE, 0 };
  char buf[32];

  check (parses ("no", SHIM_RESTART_NO, 0), "restart: parse no");
  check (parses ("always", SHIM_RESTART_ALWAYS, 0), "restart: parse always");
  check (parses ("unless-stopped", SHIM_RESTART_UNLESS_STOPPED, 0), "restart: parse unless-stopped");
  check (parses ("on-failure", SHIM_RESTART_ON_FAILURE, 0), "restart: parse on-failure (unlimited)");
  check (parses ("on-failure:3", SHIM_RESTART_ON_FAILURE, 3), "restart: parse on-failure:3");
  check (rejects ("on-failure:") && rejects ("on-failure:x") && rejects ("on-failure:-1")
             && rejects ("sometimes") && rejects ("on-failures"),
         "restart: bad policies rejected with the text in the message");
  check (strcmp (shim_restart_format (&onf3, buf, sizeof buf), "on-failure:3") == 0
             && strcmp (shim_restart_format (&unless, buf, sizeof buf), "unless-stopped") == 0,
         "restart: canonical text");

  check (!shim_restart_wanted (&no, 1, 0, false), "restart: no never restarts");
  check (shim_restart_wanted (&always, 0, 100, false), "restart: always restarts after exit 0");
  check (shim_restart_wanted (&unless, 0, 0, false), "restart: unless-stopped restarts");
  check (!shim_restart_wanted (&onf3, 0, 0, false), "restart: on-failure ignores exit 0");
  check (shim_restart_wanted (&onf3, 137, 2, false) && !shim_restart_wanted (&onf3, 1, 3, false),
         "restart: on-failure:3 stops after 3 restarts");
  check (shim_restart_wanted (&onf, 1, 1000, false), "restart: on-failure without N is unlimited");
  check (!shim_restart_wanted (&always, 1, 0, true) && !shim_restart_wanted (&onf, 1, 0, true)
             && !shim_restart_wanted (&unless, 1, 0, true),
         "restart: a stop request wins over every policy");

  unsigned d = 0, seq[9];
  for (int i = 0; i < 9; i++)
    seq[i] = d = shim_restart_backoff (d, 50);
  check (seq[0] == 100 && seq[1] == 200 && seq[2] == 400 && seq[6] == 6400 && seq[7] == 10000
             && seq[8] == 10000,
         "backoff: 100 ms doubling, capped at 10 s");
  check (shim_restart_backoff (10000, 10000) == 100 && shim_restart_backoff (3200, 9999) == 6400,
         "backoff: reset to 100 ms after 10 s of healthy running");

  check (escapes_to ("a\"b\\c", 5, "a\\\"b\\\\c"), "json: quote and backslash");
  check (escapes_to ("\n\r\t\b\f", 5, "\\n\\r\\t\\b\\f"), "json: short escapes");
  check (escapes_to ("\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f"), "json: other control chars");
  check (escapes_to ("\0x", 2, "\\u0000x"), "json: NUL byte");
  check (escapes_to ("é日😀", 9, "é日😀"), "json: valid UTF-8 passes through");
  check (escapes_to ("a\xffz", 3, "a\\ufffdz"), "json: invalid byte -> U+FFFD");
  check (escapes_to ("\xc0\xaf", 2, "\\ufffd\\ufffd"), "json: overlong encoding rejected");
  check (escapes_to ("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd"), "json: surrogate rejected");
  check (escapes_to ("\xe6\x97", 2, "\\ufffd\\ufffd"), "json: truncated sequence rejected");

  check (shim_utf8_incomplete_tail ("ab", 2) == 0, "utf8 tail: ASCII");
  check (shim_utf8_incomplete_tail ("a\xe6\x97", 3) == 2, "utf8 tail: 2 of 3 bytes");
  check (shim_utf8_incomplete_tail ("a\xf0", 2) == 1, "utf8 tail: lead byte alone");
  check (shim_utf8_incomplete_tail ("a\xe6\x97\xa5", 4) == 0, "utf8 tail: complete sequence");

  check (time_is (0, 0, "1970-01-01T00:00:00.000000000Z"), "time: epoch");
  check (time_is (951782400, 5, "2000-02-29T00:00:00.000000005Z"), "time: leap day 2000");
  check (time_is (4107542399, 999999999, "2100-02-28T23:59:59.999999999Z"), "time: 2100 is not leap");
  check (time_is (1795786574, 123456789, "2026-11-27T13:36:14.123456789Z"), "time: 2026");

  check (shim_signal_parse ("TERM") == SIGTERM && shim_signal_parse ("SIGKILL") == SIGKILL
             && shim_signal_parse ("hup") == SIGHUP && shim_signal_parse ("9") == 9
             && shim_signal_parse ("NOPE") < 0 && shim_signal_parse ("99") < 0,
         "signals: parse names and numbers");
  check (strcmp (shim_signal_name (SIGKILL), "KILL") == 0 && shim_signal_name (77) == NULL,
         "signals: names");
  {
    struct shim_attach_frame f;
    const unsigned char data[] = { 'd', 0, 3, 'a', 'b', 'c', 'w' };
    const unsigned char resize[] = { 'w', 0, 4, 0, 40, 1, 44 };
    const unsigned char big[] = { 'd', 0x10, 0x01 };      /* 4097 bytes */
    const unsigned char bad_resize[] = { 'w', 0, 3, 0, 0, 0 };
    const unsigned char unknown[] = { 'x', 0, 0 };
    check (shim_attach_frame (data, 2, &f) == 0 && shim_attach_frame (data, 5, &f) == 0,
           "attach frame: incomplete header or payload waits");
    check (shim_attach_frame (data, sizeof data, &f) == 6 && f.type == 'd' && f.len == 3
               && memcmp (f.payload, "abc", 3) == 0,
           "attach frame: data frame, the next frame's byte left alone");
    check (shim_attach_frame (resize, sizeof resize, &f) == 7 && f.type == 'w' && f.rows == 40
               && f.cols == 300,
           "attach frame: resize, big-endian rows and cols");
    check (shim_attach_frame (big, sizeof big, &f) < 0, "attach frame: payload over 4096 refused");
    check (shim_attach_frame (bad_resize, sizeof bad_resize, &f) < 0,
           "attach frame: resize not 4 bytes refused");
    check (shim_attach_frame (unknown, sizeof unknown, &f) < 0, "attach frame: unknown type refused");
  }

  struct shim_cgroup cg;
  libpaas_error_t err = NULL;
  char file[PATH_MAX + 32];
  if (shim_cgroup_find (getpid (), &cg, &err) < 0)
    {
      printf ("# %s\n", err->msg);
      libpaas_error_release (&err);
      cg.version = 0;
    }
  snprintf (file, sizeof file, "%s/%s", cg.dir,
            cg.version == 1 ? "memory.oom_control" : "memory.events");
  printf ("# own memory cgroup: v%d %s\n", cg.version, cg.dir);
  check (cg.version != 0 && access (file, R_OK) == 0, "cgroup: finds our own memory cgroup");
  check (!shim_cgroup_oom_killed (&cg, 0), "cgroup: no OOM kill counted from the start");
  cgroup_lookup_paths (&cg);
  return failures ? 1 : 0;
}
