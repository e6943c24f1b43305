#include "utils.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void
libpaas_cleanup_freep (void *p)
{
  free (*(void **) p);
}

void
libpaas_cleanup_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}

void
libpaas_cleanup_fclosep (void *f)
{
  FILE **fp = f;
  if (*fp)
    fclose (*fp);
}

ssize_t
libpaas_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  size_t done = 0;
  while (done < len)
    {
      ssize_t r = write (fd, p + done, len - done);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -1;
      done += r;
    }
  return done;
}

ssize_t
libpaas_read_all (int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t done = 0;
  while (done < len)
    {
      ssize_t r = read (fd, p + done, len - done);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -1;
      if (r == 0)
        break;
      done += r;
    }
  return done;
}

static int
write_fd_once (int fd, const char *what, const char *data, size_t len, libpaas_error_t *err)
{
  ssize_t r;
  do
    r = write (fd, data, len);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return libpaas_make_error (err, errno, "write `%s`", what);
  if ((size_t) r != len)
    return libpaas_make_error (err, EIO, "write `%s`", what);
  return 0;
}

int
libpaas_write_file (const char *path, const char *data, size_t len, int create,
                    libpaas_error_t *err)
{
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0644);
  if (fd < 0)
    return libpaas_make_error (err, errno, "open `%s`", path);
  return write_fd_once (fd, path, data, len, err);
}

int
libpaas_write_file_at (int dirfd, const char *name, const char *data, size_t len,
                       libpaas_error_t *err)
{
  cleanup_close int fd = openat (dirfd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return libpaas_make_error (err, errno, "open `%s`", name);
  return write_fd_once (fd, name, data, len, err);
}

int
libpaas_write_file_atomic (const char *path, const char *data, size_t len, mode_t mode,
                           libpaas_error_t *err)
{
  cleanup_free char *tmp = libpaas_xasprintf ("%s.tmp.%d", path, (int) getpid ());
  cleanup_close int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return libpaas_make_error (err, errno, "open `%s`", tmp);
  if (libpaas_write_all (fd, data, len) < 0 || fsync (fd) < 0)
    {
      int e = errno;
      unlink (tmp);
      return libpaas_make_error (err, e, "write `%s`", tmp);
    }
  if (rename (tmp, path) < 0)
    {
      int e = errno;
      unlink (tmp);
      return libpaas_make_error (err, e, "rename `%s`", path);
    }
  return 0;
}

static int
read_fd (int fd, const char *what, char **out, size_t *len, libpaas_error_t *err)
{
  size_t cap = 4096, used = 0;
  char *buf = malloc (cap);
  if (buf == NULL)
    abort ();
  for (;;)
    {
      ssize_t r;
      if (used + 1 >= cap)
        {
          cap *= 2;
          buf = realloc (buf, cap);
          if (buf == NULL)
            abort ();
        }
      r = read (fd, buf + used, cap - used - 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          int e = errno;
          free (buf);
          return libpaas_make_error (err, e, "read `%s`", what);
        }
      if (r == 0)
        break;
      used += r;
    }
  buf[used] = '\0';
  *out = buf;
  if (len)
    *len = used;
  return 0;
}

int
libpaas_read_file (const char *path, char **out, size_t *len, libpaas_error_t *err)
{
  return libpaas_read_file_at (AT_FDCWD, path, out, len, err);
}

int
libpaas_read_file_at (int dirfd, const char *name, char **out, size_t *len,
                      libpaas_error_t *err)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return libpaas_make_error (err, errno, "open `%s`", name);
  return read_fd (fd, name, out, len, err);
}

int
libpaas_mkdir_p (const char *path, mode_t mode, libpaas_error_t *err)
{
  cleanup_free char *copy = libpaas_xstrdup (path);
  for (char *p = copy + 1; *p; p++)
    {
      if (*p != '/')
        continue;
      *p = '\0';
      if (mkdir (copy, mode) < 0 && errno != EEXIST)
        return libpaas_make_error (err, errno, "mkdir `%s`", copy);
      *p = '/';
    }
  if (mkdir (copy, mode) < 0 && errno != EEXIST)
    return libpaas_make_error (err, errno, "mkdir `%s`", copy);
  return 0;
}

char *
libpaas_xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    abort ();
  va_end (ap);
  return s;
}

void *
libpaas_xmalloc0 (size_t size)
{
  void *p = calloc (1, size ? size : 1);
  if (p == NULL)
    abort ();
  return p;
}

char *
libpaas_xstrdup (const char *s)
{
  char *r = strdup (s ? s : "");
  if (r == NULL)
    abort ();
  return r;
}

int
libpaas_accept_or_shed (int listen_fd, int flags, int *reserve_fd)
{
  if (*reserve_fd < 0)
    *reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  for (;;)
    {
      int fd = accept4 (listen_fd, NULL, NULL, flags);
      if (fd >= 0 || errno == EINTR)
        {
          if (fd >= 0)
            return fd;
          continue;
        }
      if ((errno != EMFILE && errno != ENFILE) || *reserve_fd < 0)
        return -1;
      int saved = errno;
      close (*reserve_fd);
      fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0)
        close (fd);
      *reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      errno = saved;
      return -1;
    }
}
