/* The state directory, the contract with the engine (documented in src/shim/README.md).
 * Every file is replaced atomically: temp file + fsync + rename, then the directory is
 * fsynced, so a reader sees the old or the new content, never a mix. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int
write_atomic (const char *dir, const char *name, const char *data, size_t len,
              libpaas_error_t *err)
{
  char path[PATH_MAX];
  if (snprintf (path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path)
    return libpaas_make_error (err, ENAMETOOLONG, "write `%s/%s`", dir, name);
  if (libpaas_write_file_atomic (path, data, len, 0644, err) < 0)
    return -1;
  cleanup_close int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    (void) fsync (dfd);
  return 0;
}

/* Appends to a fixed buffer; truncation is impossible with the sizes used below but is
 * caught anyway (the result would be invalid JSON). */
struct jbuf
{
  char *p;
  size_t len, cap;
  bool overflow;
};

static void __attribute__ ((format (printf, 2, 3)))
jb_printf (struct jbuf *b, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (b->p + b->len, b->cap - b->len, fmt, ap);
  va_end (ap);
  if (n < 0 || (size_t) n >= b->cap - b->len)
    b->overflow = true;
  else
    b->len += n;
}

static void
jb_string (struct jbuf *b, const char *key, const char *value)
{
  char esc[6 * 512 + 1];
  size_t len = strlen (value);
  if (len > 512)
    len = 512;
  esc[shim_json_escape (esc, value, len)] = '\0';
  jb_printf (b, ",\"%s\":\"%s\"", key, esc);
}

static void
jb_time (struct jbuf *b, const char *key, const struct timespec *ts)
{
  char t[40];
  if (ts->tv_sec != 0)
    jb_printf (b, ",\"%s\":\"%s\"", key, shim_format_time (t, sizeof t, ts));
}

int
shim_state_lock (const char *dir, libpaas_error_t *err)
{
  char path[PATH_MAX];
  if (snprintf (path, sizeof path, "%s/%s", dir, SHIM_FILE_LOCK) >= (int) sizeof path)
    return libpaas_make_error (err, ENAMETOOLONG, "lock `%s`", dir);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return libpaas_make_error (err, errno, "open `%s`", path);
  if (flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      int e = errno;
      close (fd);
      if (e == EWOULDBLOCK)
        return libpaas_make_error (err, 0, "lock `%s`: another shim uses this state directory",
                                   path);
      return libpaas_make_error (err, e, "lock `%s`", path);
    }
  return fd;
}

int
shim_state_write_pid (const char *dir, pid_t pid, libpaas_error_t *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d\n", (int) pid);
  return write_atomic (dir, SHIM_FILE_PID, buf, n, err);
}

int
shim_state_write_status (const char *dir, const struct shim_status *st, libpaas_error_t *err)
{
  char data[8192];
  struct jbuf b = { data, 0, sizeof data, false };

  jb_printf (&b, "{\"status\":\"%s\"", st->status);
  jb_string (&b, "id", st->id);
  jb_printf (&b, ",\"shimPid\":%d,\"pid\":%d,\"restartCount\":%u", (int) st->shim_pid,
             (int) st->pid, st->restart_count);
  jb_string (&b, "restartPolicy", st->restart_policy);
  jb_string (&b, "logPath", st->log_path);
  jb_printf (&b, ",\"stoppedByUser\":%s", st->stopped_by_user ? "true" : "false");
  jb_time (&b, "startedAt", &st->started_at);
  if (st->finished_at.tv_sec != 0)
    {
      jb_time (&b, "finishedAt", &st->finished_at);
      jb_printf (&b, ",\"exitCode\":%d", st->exit_code);
    }
  if (st->backoff_ms)
    jb_printf (&b, ",\"backoffMs\":%u", st->backoff_ms);
  if (st->error)
    jb_string (&b, "error", st->error);
  jb_printf (&b, "}\n");
  if (b.overflow)
    return libpaas_make_error (err, EOVERFLOW, "format `%s`", SHIM_FILE_STATUS);
  return write_atomic (dir, SHIM_FILE_STATUS, data, b.len, err);
}

int
shim_state_write_exit (const char *dir, const struct shim_exit *ex, libpaas_error_t *err)
{
  char data[4096];
  struct jbuf b = { data, 0, sizeof data, false };
  const char *sig = ex->signal ? shim_signal_name (ex->signal) : NULL;

  jb_printf (&b, "{\"exitCode\":%d", ex->exit_code);
  if (sig)
    jb_printf (&b, ",\"signal\":\"%s\"", sig);
  else if (ex->signal)
    jb_printf (&b, ",\"signal\":\"%d\"", ex->signal);
  jb_printf (&b, ",\"oomKilled\":%s", ex->oom_killed ? "true" : "false");
  jb_time (&b, "startedAt", &ex->started_at);
  jb_time (&b, "exitedAt", &ex->exited_at);
  jb_printf (&b, ",\"restartCount\":%u,\"status\":\"%s\",\"stoppedByUser\":%s",
             ex->restart_count, ex->restarting ? "restarting" : "exited",
             ex->stopped_by_user ? "true" : "false");
  if (ex->error)
    jb_string (&b, "error", ex->error);
  jb_printf (&b, "}\n");
  if (b.overflow)
    return libpaas_make_error (err, EOVERFLOW, "format `%s`", SHIM_FILE_EXIT);
  return write_atomic (dir, SHIM_FILE_EXIT, data, b.len, err);
}

void
shim_state_remove (const char *dir, const char *name)
{
  char path[PATH_MAX];
  if (snprintf (path, sizeof path, "%s/%s", dir, name) < (int) sizeof path)
    (void) unlink (path);
}
