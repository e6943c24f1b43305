/* Unit tests of paas-shim's pure parts: restart policy math, JSON escaping, UTF-8 cuts,
 * RFC 3339 times, signal names, attach frames. Built and run by tests/shim-unit.t; prints TAP lines. */
#include "shim.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
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
  return failures ? 1 : 0;
}
