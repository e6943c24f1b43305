/* Container stdout/stderr as JSON lines, one object per line (Docker json-file style):
 *
 *   {"t":"2026-11-27T17:36:14.123456789Z","s":"stdout","l":"hello"}
 *
 * "l" is the line without its '\n'. A line longer than SHIM_LOG_LINE_MAX bytes is cut into
 * records of at most that size (never inside a UTF-8 sequence), and a line still unterminated
 * when its stream ends is written as is; such records carry "p":true (partial: the next
 * record of the stream continues the same line). Invalid UTF-8 becomes U+FFFD.
 *
 * Rotation (like json-file max-size/max-file): a record that would take the file past
 * max_size starts a new file; log -> log.1 -> ... -> log.(max_files-1), the oldest dropped.
 * Each record is one write(2) to an O_APPEND file, so readers never see half a record. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Worst case: every byte escaped to six. Static, so only the pages used count in RSS. */
static char record[SHIM_LOG_LINE_MAX * 6 + 128];

static int
open_log_file (const char *path, bool truncate)
{
  return open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0640);
}

int
shim_log_open (struct shim_log *log, const char *path, off_t max_size, unsigned max_files,
               libpaas_error_t *err)
{
  struct stat st;

  if (strlen (path) + 16 >= sizeof log->path)
    return libpaas_make_error (err, ENAMETOOLONG, "open log `%s`", path);
  strcpy (log->path, path);
  log->max_size = max_size;
  log->max_files = max_files ? max_files : 1;
  log->fd = open_log_file (path, false);
  if (log->fd < 0)
    return libpaas_make_error (err, errno, "open `%s`", path);
  log->size = fstat (log->fd, &st) == 0 ? st.st_size : 0;
  return 0;
}

void
shim_log_close (struct shim_log *log)
{
  if (log->fd >= 0)
    close (log->fd);
  log->fd = -1;
}

static void
rotate (struct shim_log *log)
{
  char from[PATH_MAX + 16], to[PATH_MAX + 16];

  close (log->fd);
  for (unsigned i = log->max_files - 1; i >= 1; i--)
    {
      if (i == 1)
        snprintf (from, sizeof from, "%s", log->path);
      else
        snprintf (from, sizeof from, "%s.%u", log->path, i - 1);
      snprintf (to, sizeof to, "%s.%u", log->path, i);
      if (rename (from, to) < 0 && errno != ENOENT)
        shim_warn ("rename `%s`: %s", from, strerror (errno));
    }
  /* max_files == 1: the same file starts over. */
  log->fd = open_log_file (log->path, true);
  if (log->fd < 0)
    shim_warn ("open `%s`: %s", log->path, strerror (errno));
  log->size = 0;
}

static void
emit (struct shim_log *log, const char *stream, const char *line, size_t len, bool partial)
{
  struct timespec now;
  char ts[40];
  size_t n;

  shim_wall_clock (&now);
  n = (size_t) snprintf (record, sizeof record, "{\"t\":\"%s\",\"s\":\"%s\",\"l\":\"",
                         shim_format_time (ts, sizeof ts, &now), stream);
  n += shim_json_escape (record + n, line, len);
  if (partial)
    {
      memcpy (record + n, "\",\"p\":true}\n", 12);
      n += 12;
    }
  else
    {
      memcpy (record + n, "\"}\n", 3);
      n += 3;
    }

  if (log->max_size > 0 && log->size > 0 && log->size + (off_t) n > log->max_size)
    rotate (log);
  if (log->fd < 0)
    {
      /* The last rotation could not reopen the file: try again, silently. */
      log->fd = open_log_file (log->path, false);
      if (log->fd < 0)
        return;
    }
  if (libpaas_write_all (log->fd, record, n) < 0)
    {
      /* A full disk must not kill the container: drop the record, keep going. */
      static int warned;
      if (!warned++)
        shim_warn ("write `%s`: %s", log->path, strerror (errno));
      return;
    }
  log->size += n;
}

void
shim_log_feed (struct shim_log *log, struct shim_log_stream *s, const char *data, size_t len)
{
  while (len > 0)
    {
      size_t room = sizeof s->buf - s->len;
      size_t take = len < room ? len : room;
      const char *nl = memchr (data, '\n', take);
      if (nl != NULL)
        {
          size_t chunk = (size_t) (nl - data);
          if (s->len == 0)
            emit (log, s->name, data, chunk, false);
          else
            {
              memcpy (s->buf + s->len, data, chunk);
              emit (log, s->name, s->buf, s->len + chunk, false);
              s->len = 0;
            }
          data += chunk + 1;
          len -= chunk + 1;
          continue;
        }
      memcpy (s->buf + s->len, data, take);
      s->len += take;
      data += take;
      len -= take;
      if (s->len == sizeof s->buf)
        {
          size_t keep = shim_utf8_incomplete_tail (s->buf, s->len);
          emit (log, s->name, s->buf, s->len - keep, true);
          memmove (s->buf, s->buf + s->len - keep, keep);
          s->len = keep;
        }
    }
}

void
shim_log_flush (struct shim_log *log, struct shim_log_stream *s)
{
  if (s->len > 0)
    emit (log, s->name, s->buf, s->len, true);
  s->len = 0;
}
