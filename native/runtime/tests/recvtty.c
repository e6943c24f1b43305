/* The receiving end of --console-socket for the terminal tests (what runc's recvtty is to
 * runc's): listens on a unix socket, takes one connection, receives the pty master
 * (SCM_RIGHTS), optionally writes INPUT to it, then copies everything the container writes to
 * stdout until the terminal's last slave is closed (EIO) and exits 0.
 *
 *   recvtty [-i INPUT] [-n NAME-FILE] [-t SECONDS] SOCKET
 *
 * -n writes the message that came with the fd (the sender's name for it) to NAME-FILE.
 * -t (default 30) bounds its life: a test that goes wrong never leaves it behind.
 * Exit status: 0 after EIO/EOF, 1 on any error (message on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void __attribute__ ((noreturn))
die (const char *what)
{
  fprintf (stderr, "recvtty: %s: %s\n", what, strerror (errno));
  exit (1);
}

int
main (int argc, char **argv)
{
  const char *input = NULL, *name_file = NULL;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  char name[256], buf[4096];
  struct iovec iov = { .iov_base = name, .iov_len = sizeof (name) - 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof (u.buf) };
  struct cmsghdr *cmsg;
  int opt, lfd, conn, master = -1;
  ssize_t n;

  alarm (30);
  while ((opt = getopt (argc, argv, "i:n:t:")) != -1)
    switch (opt)
      {
      case 'i': input = optarg; break;
      case 'n': name_file = optarg; break;
      case 't': alarm (atoi (optarg)); break;
      default: fprintf (stderr, "usage: recvtty [-i INPUT] [-n NAME-FILE] [-t SECS] SOCKET\n"); return 2;
      }
  if (optind != argc - 1 || strlen (argv[optind]) + 4 >= sizeof (addr.sun_path))
    {
      fprintf (stderr, "usage: recvtty [-i INPUT] [-n NAME-FILE] [-t SECS] SOCKET\n");
      return 2;
    }
  /* bound under a temporary name and renamed once listening: a test that waits for SOCKET to
   * exist never connects between bind and listen (ECONNREFUSED on a busy machine) */
  snprintf (addr.sun_path, sizeof (addr.sun_path), "%s.tmp", argv[optind]);
  unlink (addr.sun_path);
  unlink (argv[optind]);
  lfd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind (lfd, (struct sockaddr *) &addr, sizeof (addr)) < 0 || listen (lfd, 1) < 0
      || rename (addr.sun_path, argv[optind]) < 0)
    die ("listen");
  conn = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0)
    die ("accept");
  n = recvmsg (conn, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0)
    die ("recvmsg");
  name[n] = '\0';
  for (cmsg = CMSG_FIRSTHDR (&msg); cmsg; cmsg = CMSG_NXTHDR (&msg, cmsg))
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
      memcpy (&master, CMSG_DATA (cmsg), sizeof (int));
  if (master < 0)
    {
      fprintf (stderr, "recvtty: no file descriptor in the message\n");
      return 1;
    }
  close (conn);
  close (lfd);
  if (name_file)
    {
      FILE *f = fopen (name_file, "we");
      if (f == NULL || fprintf (f, "%s\n", name) < 0 || fclose (f) != 0)
        die ("write the name file");
    }
  if (input && write (master, input, strlen (input)) != (ssize_t) strlen (input))
    die ("write the input");
  for (;;)
    {
      n = read (master, buf, sizeof (buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n == 0 || (n < 0 && errno == EIO))
        return 0;
      if (n < 0)
        die ("read the terminal");
      if (write (STDOUT_FILENO, buf, n) != n)
        die ("write stdout");
    }
}
