/* The container's terminal (--tty): the console socket the runtime hands the pty master to,
 * and the attach socket through which clients type into the terminal, read what it shows
 * and resize it. The framing is documented in src/shim/README.md ("Terminal"). */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
shim_unix_listen (const char *dir, const char *name, char *path, size_t path_len,
                  libpaas_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int n = snprintf (path, path_len, "%s/%s", dir, name);
  if (n < 0 || (size_t) n >= path_len || (size_t) n >= sizeof addr.sun_path)
    return libpaas_make_error (err, ENAMETOOLONG, "socket `%s/%s` (a unix socket path has at "
                               "most %zu bytes)", dir, name, sizeof addr.sun_path - 1);
  memcpy (addr.sun_path, path, n + 1);
  (void) unlink (path);
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return libpaas_make_error (err, errno, "socket `%s`", path);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (fd, 8) < 0)
    return libpaas_make_error (err, errno, "listen on `%s`", path);
  return steal_fd (&fd);
}

int
shim_console_receive (int listen_fd, libpaas_error_t *err)
{
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  char name[256];
  struct iovec iov = { .iov_base = name, .iov_len = sizeof name };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf };
  int master = -1;
  ssize_t n;

  /* The runtime's create has returned: its connection and message are queued already. */
  cleanup_close int conn = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0 && errno != EAGAIN)
    return libpaas_make_error (err, errno, "receive the terminal");
  do
    n = conn < 0 ? 0 : recvmsg (conn, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN)
    return libpaas_make_error (err, errno, "receive the terminal");
  if (n <= 0)
    return libpaas_make_error (err, 0, "receive the terminal: the runtime sent none (does "
                               "config.json have `process.terminal: true`?)");
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS
        && c->cmsg_len >= CMSG_LEN (sizeof (int)))
      memcpy (&master, CMSG_DATA (c), sizeof (int));
  if (master < 0)
    return libpaas_make_error (err, 0, "receive the terminal: no file descriptor in the "
                               "runtime's message");
  return master;
}

int
shim_attach_frame (const unsigned char *buf, size_t len, struct shim_attach_frame *frame)
{
  size_t plen;
  if (len < SHIM_ATTACH_HEADER)
    return 0;
  plen = (size_t) buf[1] << 8 | buf[2];
  if (plen > SHIM_ATTACH_PAYLOAD_MAX)
    return -1;
  if (buf[0] == SHIM_ATTACH_RESIZE && plen != 4)
    return -1;
  if (buf[0] != SHIM_ATTACH_DATA && buf[0] != SHIM_ATTACH_RESIZE)
    return -1;
  if (len < SHIM_ATTACH_HEADER + plen)
    return 0;
  frame->type = buf[0];
  frame->payload = buf + SHIM_ATTACH_HEADER;
  frame->len = plen;
  if (frame->type == SHIM_ATTACH_RESIZE)
    {
      frame->rows = (unsigned short) (frame->payload[0] << 8 | frame->payload[1]);
      frame->cols = (unsigned short) (frame->payload[2] << 8 | frame->payload[3]);
    }
  return (int) (SHIM_ATTACH_HEADER + plen);
}
