/* One error idiom for paas-runtime and paas-shim (after crun's libcrun_error_t).
 *
 * Functions that can fail take `libpaas_error_t *err` as their LAST parameter and return a
 * negative value on failure, after filling *err. Messages are a verb plus the object in
 * backticks: "open `config.json`: No such file or directory". A caller passing an error up
 * may prepend context ("create container `x`: "). The top level prints it once, prefixed
 * with the program name, and releases it. */
#ifndef LIBPAAS_ERROR_H
#define LIBPAAS_ERROR_H

#include <stdarg.h>

typedef struct libpaas_error_s *libpaas_error_t;

struct libpaas_error_s
{
  int status; /* errno, or 0 when the message stands on its own */
  char *msg;
};

/* Fills *err with the formatted message, followed by ": strerror(errno_)" when errno_ != 0.
 * Always returns -1 so it can be used as `return libpaas_make_error (err, errno, ...)`.
 * If *err is already set, the old error is kept (the first failure is the interesting one). */
int libpaas_make_error (libpaas_error_t *err, int errno_, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Prepends "formatted: " to an existing error message. Returns -1. */
int libpaas_error_prepend (libpaas_error_t *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

void libpaas_error_release (libpaas_error_t *err);

/* Writes "prog: message\n" to stderr (one line: newlines in the message become spaces),
 * releases the error, and returns the exit status to use (1). */
int libpaas_error_print (const char *prog, libpaas_error_t *err);

#endif
