#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "utils.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO ('T', 0x41)
#endif

/* The message that carries the master: runc and youki name the file they send. */
#define MASTER_NAME "/dev/ptmx"

int
paas_terminal_connect (const struct paas_process *p, const char *console_socket, int *fd,
                       libpaas_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int s = -1;
  int r;

  *fd = -1;
  if (p->terminal && console_socket == NULL)
    return libpaas_make_error (err, 0, "invalid `process.terminal`: a terminal needs "
                               "`--console-socket PATH` (the socket that receives the pty master)");
  if (!p->terminal && console_socket)
    return libpaas_make_error (err, 0, "invalid `--console-socket`: the process has no terminal "
                               "(`process.terminal` is false)");
  if (!p->terminal)
    return 0;
  if (strlen (console_socket) >= sizeof (addr.sun_path))
    return libpaas_make_error (err, 0, "invalid `--console-socket` `%s`: longer than %zu bytes",
                               console_socket, sizeof (addr.sun_path) - 1);
  strcpy (addr.sun_path, console_socket);
  s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return libpaas_make_error (err, errno, "socket for `--console-socket`");
  do
    r = connect (s, (struct sockaddr *) &addr, sizeof (addr));
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return libpaas_make_error (err, errno, "connect `--console-socket` `%s`", console_socket);
  *fd = steal_fd (&s);
  return 0;
}

static int
send_master (int sock, int master, libpaas_error_t *err)
{
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  char name[] = MASTER_NAME;
  struct iovec iov = { .iov_base = name, .iov_len = sizeof (name) - 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof (u.buf) };
  struct cmsghdr *cmsg;
  ssize_t r;

  memset (u.buf, 0, sizeof (u.buf));
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &master, sizeof (int));
  do
    r = sendmsg (sock, &msg, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return libpaas_make_error (err, errno, "send the pty master over `--console-socket`");
  return 0;
}

/* /dev/console is the terminal too (runc's mountConsole): an empty file bind-mounted over. */
static int
mount_console (const char *slave_path, libpaas_error_t *err)
{
  if (mknod ("/dev/console", S_IFREG | 0600, 0) < 0 && errno != EEXIST)
    return libpaas_make_error (err, errno, "create `/dev/console`");
  if (mount (slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
    return libpaas_make_error (err, errno, "bind `%s` on `/dev/console`", slave_path);
  return 0;
}

int
paas_terminal_setup (int sock, const struct paas_process *p, bool console,
                     libpaas_error_t *err)
{
  cleanup_close int master = -1, slave = -1;
  char slave_path[64];
  unsigned int n;
  int unlock = 0;

  /* /dev/ptmx of the container (a link to its devpts's pts/ptmx): the pair belongs to the
   * container's devpts instance, never the host's. */
  master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return libpaas_make_error (err, errno, "open `/dev/ptmx` for the terminal (a devpts mount "
                               "on /dev/pts is needed)");
  if (ioctl (master, TIOCSPTLCK, &unlock) < 0 || ioctl (master, TIOCGPTN, &n) < 0)
    return libpaas_make_error (err, errno, "unlock the pty of `/dev/ptmx`");
  snprintf (slave_path, sizeof (slave_path), "/dev/pts/%u", n);
  /* Through the master rather than by path: the peer of this very master (Linux 4.13+). */
  slave = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0 && (errno == EINVAL || errno == ENOTTY))
    slave = open (slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    return libpaas_make_error (err, errno, "open the pty slave `%s`", slave_path);
  if (p->has_console_size)
    {
      struct winsize ws = { .ws_row = p->console_height, .ws_col = p->console_width };
      if (ioctl (slave, TIOCSWINSZ, &ws) < 0)
        return libpaas_make_error (err, errno, "set `process.consoleSize` on `%s`", slave_path);
    }
  /* The process's user owns its terminal, so that it can reopen /dev/tty; the group stays the
   * devpts mount's (gid=5, tty), as runc's fixStdioPermissions does. A uid a user namespace
   * does not map leaves it as it is. */
  if (fchown (slave, p->uid, -1) < 0 && errno != EINVAL && errno != EPERM)
    return libpaas_make_error (err, errno, "chown the pty slave `%s`", slave_path);
  if (console && mount_console (slave_path, err) < 0)
    return -1;
  if (send_master (sock, master, err) < 0)
    return -1;
  close (steal_fd (&master));
  /* The container's init and exec'd processes lead a session of their own already (container.c,
   * exec.c); a second setsid would fail with EPERM. */
  if (getsid (0) != getpid () && setsid () < 0)
    return libpaas_make_error (err, errno, "setsid for the terminal");
  if (ioctl (slave, TIOCSCTTY, 0) < 0)
    return libpaas_make_error (err, errno, "make `%s` the controlling terminal", slave_path);
  for (int fd = 0; fd < 3; fd++)
    if (dup2 (slave, fd) < 0)
      return libpaas_make_error (err, errno, "dup the terminal to fd %d", fd);
  if (slave <= 2)
    slave = -1; /* it is one of the three now (stdio was closed when we started) */
  return 0;
}
