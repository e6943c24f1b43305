#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
vformat (const char *fmt, va_list ap)
{
  char *s = NULL;
  if (vasprintf (&s, fmt, ap) < 0)
    abort ();
  return s;
}

int
libpaas_make_error (libpaas_error_t *err, int errno_, const char *fmt, ...)
{
  va_list ap;
  char *msg;

  if (err == NULL || *err != NULL)
    return -1;
  va_start (ap, fmt);
  msg = vformat (fmt, ap);
  va_end (ap);
  *err = calloc (1, sizeof (**err));
  if (*err == NULL)
    abort ();
  (*err)->status = errno_;
  if (errno_ != 0)
    {
      char *full = NULL;
      if (asprintf (&full, "%s: %s", msg, strerror (errno_)) < 0)
        abort ();
      free (msg);
      msg = full;
    }
  (*err)->msg = msg;
  return -1;
}

int
libpaas_error_prepend (libpaas_error_t *err, const char *fmt, ...)
{
  va_list ap;
  char *ctx, *full = NULL;

  if (err == NULL || *err == NULL)
    return -1;
  va_start (ap, fmt);
  ctx = vformat (fmt, ap);
  va_end (ap);
  if (asprintf (&full, "%s: %s", ctx, (*err)->msg) < 0)
    abort ();
  free (ctx);
  free ((*err)->msg);
  (*err)->msg = full;
  return -1;
}

void
libpaas_error_release (libpaas_error_t *err)
{
  if (err == NULL || *err == NULL)
    return;
  free ((*err)->msg);
  free (*err);
  *err = NULL;
}

int
libpaas_error_print (const char *prog, libpaas_error_t *err)
{
  if (err != NULL && *err != NULL)
    {
      for (char *p = (*err)->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
          *p = ' ';
      fprintf (stderr, "%s: %s\n", prog, (*err)->msg);
      libpaas_error_release (err);
    }
  return 1;
}
