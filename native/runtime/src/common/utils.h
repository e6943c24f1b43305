/* Small helpers shared by paas-runtime and paas-shim: cleanup attributes and careful I/O.
 * All of them are libc-only (the shim links nothing else). */
#ifndef LIBPAAS_UTILS_H
#define LIBPAAS_UTILS_H

#include <stddef.h>
#include <sys/types.h>
#include "error.h"

void libpaas_cleanup_freep (void *p);
void libpaas_cleanup_closep (int *fd);
void libpaas_cleanup_fclosep (void *f);

#define cleanup_free __attribute__ ((cleanup (libpaas_cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (libpaas_cleanup_closep)))
#define cleanup_file __attribute__ ((cleanup (libpaas_cleanup_fclosep)))

/* Returns the value and leaves NULL/-1 behind, to hand ownership out of a cleanup variable. */
#define steal_pointer(pp) ({ __typeof__ (*(pp)) _p = *(pp); *(pp) = NULL; _p; })
#define steal_fd(pfd) ({ int _fd = *(pfd); *(pfd) = -1; _fd; })

/* write(2)/read(2) retrying on EINTR and short counts. */
ssize_t libpaas_write_all (int fd, const void *buf, size_t len);
ssize_t libpaas_read_all (int fd, void *buf, size_t len);

/* Writes a small file in one write(2) (open O_WRONLY, no O_CREAT unless create != 0).
 * Suited to /proc and cgroup control files. */
int libpaas_write_file (const char *path, const char *data, size_t len, int create,
                        libpaas_error_t *err);
int libpaas_write_file_at (int dirfd, const char *name, const char *data, size_t len,
                           libpaas_error_t *err);

/* Writes a file atomically: temp file in the same directory, fsync, rename. */
int libpaas_write_file_atomic (const char *path, const char *data, size_t len, mode_t mode,
                               libpaas_error_t *err);

/* Reads a whole (small or large) file into a NUL-terminated buffer. */
int libpaas_read_file (const char *path, char **out, size_t *len, libpaas_error_t *err);
int libpaas_read_file_at (int dirfd, const char *name, char **out, size_t *len,
                          libpaas_error_t *err);

/* mkdir -p; existing directories are fine. */
int libpaas_mkdir_p (const char *path, mode_t mode, libpaas_error_t *err);

/* accept4 on a level-triggered (epoll/poll) listener that survives a full descriptor table.
 * On EMFILE/ENFILE the pending connection cannot be taken, so the listener stays readable and
 * every wait returns at once: a loop that spins at 100% CPU for as long as a client holds the
 * table full. Here the caller's reserve descriptor (one kept open for this, -1 to open it
 * lazily) is closed for a moment, the connection accepted and shed (the client sees EOF), and
 * the reserve opened again, the way libev and nginx do. Returns the accepted descriptor, or -1
 * with errno (EAGAIN when there is none, EMFILE after a connection was shed). */
int libpaas_accept_or_shed (int listen_fd, int flags, int *reserve_fd);

/* asprintf that aborts on OOM (an allocation failure in a CLI is not recoverable). */
char *libpaas_xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void *libpaas_xmalloc0 (size_t size);
char *libpaas_xstrdup (const char *s);

#endif
