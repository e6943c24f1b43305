/* paas-proxy: the userland proxy of a container's published TCP ports for loopback clients,
 * the role docker-proxy plays for Docker.
 *
 *   paas-proxy --id ID [--ready-fd N] tcp:LISTEN_IP:PORT:TARGET_IP:TARGET_PORT...
 *
 * Why it exists: packets from 127.0.0.1 can be DNATed to a container only with
 * route_localnet=1 on the bridge, and that sysctl is what let containers reach the host's
 * 127.0.0.1 services (CVE-2020-8558). So the engine's OUTPUT DNAT skips 127.0.0.0/8 (as
 * Docker's does) and this process listens on the host port instead: it accepts loopback
 * clients and copies bytes both ways to TARGET (the container's address on the bridge).
 * Every other client is DNATed by the kernel before it could reach this socket.
 *
 * Lifetime: paas-shim starts it before the container and stops it (SIGTERM) when it stops
 * monitoring the container for good (stop, rm, a policy that gives up); restarts keep it,
 * as they keep the container's address. PR_SET_PDEATHSIG ties it to the shim: if the shim
 * is SIGKILLed, the kernel kills the proxy, so no listener outlives its container. `--id` is
 * only there to name the container in `ps`.
 *
 * Start-up contract: every listener is bound before anything is reported; then "ok\n" is
 * written to the ready fd (closed right after), or "error MESSAGE\n" and exit 1 (e.g.
 * "bind `127.0.0.1:8080`: Address already in use").
 *
 * One thread, epoll, level-triggered; one 64 KiB buffer per direction of a connection; a
 * half-close is passed on (shutdown SHUT_WR), so request/response protocols that end a
 * request with EOF work. UDP is not proxied: the engine refuses UDP on a loopback address. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "utils.h"

#define MAX_LISTENERS 256
#define BUF_SIZE (64 * 1024)

enum kind
{
  LISTENER,
  END,
};

struct listener
{
  enum kind kind;
  int fd;
  struct sockaddr_in target;
};

struct pair;

/* One side of a proxied connection: its socket and the bytes waiting to be written to it. */
struct end
{
  enum kind kind;
  int fd;
  struct pair *pair;
  bool connecting; /* the target side until connect(2) completes */
  bool read_eof;   /* no more bytes will come from this side */
  bool write_shut; /* SHUT_WR sent to this side */
  bool removed;    /* hung up and out of the epoll set */
  size_t off, len; /* pending bytes for this side in buf */
  char buf[BUF_SIZE];
};

struct pair
{
  struct end side[2]; /* 0: client, 1: container */
};

static int epfd = -1;
static int reserve_fd = -1; /* for libpaas_accept_or_shed: a client may fill our fd table */

static int
parse_spec (const char *spec, struct sockaddr_in *listen_at, struct sockaddr_in *target,
            libpaas_error_t *err)
{
  char ip1[64], ip2[64];
  unsigned p1, p2;
  char tail;
  if (strncmp (spec, "tcp:", 4) != 0)
    return libpaas_make_error (err, 0, "parse `%s`: only tcp:LISTEN_IP:PORT:TARGET_IP:PORT is proxied",
                               spec);
  if (sscanf (spec + 4, "%63[0-9.]:%u:%63[0-9.]:%u%c", ip1, &p1, ip2, &p2, &tail) != 4 || p1 == 0
      || p1 > 65535 || p2 == 0 || p2 > 65535)
    return libpaas_make_error (err, 0, "parse `%s`: expected tcp:LISTEN_IP:PORT:TARGET_IP:PORT", spec);
  *listen_at = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons ((uint16_t) p1) };
  *target = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons ((uint16_t) p2) };
  if (inet_pton (AF_INET, ip1, &listen_at->sin_addr) != 1 || inet_pton (AF_INET, ip2, &target->sin_addr) != 1)
    return libpaas_make_error (err, 0, "parse `%s`: bad IPv4 address", spec);
  return 0;
}

static int
open_listener (const char *spec, struct listener *l, libpaas_error_t *err)
{
  struct sockaddr_in at;
  if (parse_spec (spec, &at, &l->target, err) < 0)
    return -1;
  l->kind = LISTENER;
  l->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l->fd < 0)
    return libpaas_make_error (err, errno, "socket");
  int one = 1;
  (void) setsockopt (l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  char name[64];
  snprintf (name, sizeof name, "%s:%u", inet_ntoa (at.sin_addr), ntohs (at.sin_port));
  if (bind (l->fd, (struct sockaddr *) &at, sizeof at) < 0)
    return libpaas_make_error (err, errno, "bind `%s`", name);
  if (listen (l->fd, 1024) < 0)
    return libpaas_make_error (err, errno, "listen `%s`", name);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
  if (epoll_ctl (epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
    return libpaas_make_error (err, errno, "epoll_ctl");
  return 0;
}

static void
close_pair (struct pair *p)
{
  for (int i = 0; i < 2; i++)
    if (p->side[i].fd >= 0)
      close (p->side[i].fd); /* close removes it from the epoll set */
  free (p);
}

/* Level-triggered interest of one side, from the state of both. */
static void
update (struct end *e)
{
  struct end *other = &e->pair->side[e == &e->pair->side[0] ? 1 : 0];
  uint32_t events = 0;
  if (e->removed)
    return;
  if (e->connecting || e->len > 0)
    events |= EPOLLOUT;
  /* read from e only when the other side has room and is connected */
  if (!e->read_eof && other->len == 0 && !other->connecting)
    events |= EPOLLIN;
  struct epoll_event ev = { .events = events, .data.ptr = e };
  (void) epoll_ctl (epfd, EPOLL_CTL_MOD, e->fd, &ev);
}

static void
accept_one (struct listener *l)
{
  int client = libpaas_accept_or_shed (l->fd, SOCK_NONBLOCK | SOCK_CLOEXEC, &reserve_fd);
  if (client < 0)
    return;
  int target = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct pair *p = target < 0 ? NULL : calloc (1, sizeof *p);
  if (p == NULL)
    {
      close (client);
      if (target >= 0)
        close (target);
      return;
    }
  for (int i = 0; i < 2; i++)
    {
      p->side[i].kind = END;
      p->side[i].pair = p;
    }
  p->side[0].fd = client;
  p->side[1].fd = target;
  if (connect (target, (struct sockaddr *) &l->target, sizeof l->target) < 0)
    {
      if (errno != EINPROGRESS)
        {
          close_pair (p);
          return;
        }
      p->side[1].connecting = true;
    }
  for (int i = 0; i < 2; i++)
    {
      struct epoll_event ev = { .events = 0, .data.ptr = &p->side[i] };
      if (epoll_ctl (epfd, EPOLL_CTL_ADD, p->side[i].fd, &ev) < 0)
        {
          close_pair (p);
          return;
        }
    }
  update (&p->side[0]);
  update (&p->side[1]);
}

/* Returns false when the pair was closed. */
static bool
on_event (struct end *e, uint32_t events)
{
  struct pair *p = e->pair;
  struct end *other = &p->side[e == &p->side[0] ? 1 : 0];

  if (e->connecting)
    {
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        return true;
      if (getsockopt (e->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0)
        {
          close_pair (p); /* the container does not listen (yet): the client sees EOF */
          return false;
        }
      e->connecting = false;
    }
  else if (events & EPOLLERR)
    {
      close_pair (p);
      return false;
    }
  else if ((events & EPOLLHUP) && !(events & EPOLLIN))
    {
      /* both directions of e are shut: nothing more to read from it, nothing can be written
       * to it; HUP is reported whatever the interest, so e leaves the epoll set */
      if (e->len > 0)
        {
          close_pair (p);
          return false;
        }
      e->read_eof = true;
      e->write_shut = true;
      (void) epoll_ctl (epfd, EPOLL_CTL_DEL, e->fd, NULL);
      e->removed = true;
      events = 0;
    }

  if (events & EPOLLIN && other->len == 0 && !other->connecting)
    {
      ssize_t n = read (e->fd, other->buf, BUF_SIZE);
      if (n > 0)
        {
          other->off = 0;
          other->len = (size_t) n;
        }
      else if (n == 0)
        e->read_eof = true;
      else if (errno != EAGAIN && errno != EINTR)
        {
          close_pair (p);
          return false;
        }
    }
  /* write what is pending for the other side, and for this one */
  struct end *sides[2] = { other, e };
  for (int i = 0; i < 2; i++)
    {
      struct end *w = sides[i];
      if (w->len > 0 && !w->connecting)
        {
          ssize_t n = write (w->fd, w->buf + w->off, w->len);
          if (n > 0)
            {
              w->off += (size_t) n;
              w->len -= (size_t) n;
            }
          else if (n < 0 && errno != EAGAIN && errno != EINTR)
            {
              close_pair (p);
              return false;
            }
        }
    }
  /* pass a half-close on once everything before it was written */
  for (int i = 0; i < 2; i++)
    {
      struct end *from = &p->side[i], *to = &p->side[1 - i];
      if (from->read_eof && to->len == 0 && !to->write_shut && !to->connecting)
        {
          (void) shutdown (to->fd, SHUT_WR);
          to->write_shut = true;
        }
    }
  if (p->side[0].read_eof && p->side[1].read_eof && p->side[0].len == 0 && p->side[1].len == 0)
    {
      close_pair (p);
      return false;
    }
  update (e);
  update (other);
  return true;
}

static void
report (int fd, const char *line)
{
  if (fd < 0)
    return;
  size_t len = strlen (line);
  while (len > 0)
    {
      ssize_t n = write (fd, line, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      line += n;
      len -= (size_t) n;
    }
  close (fd);
}

int
main (int argc, char **argv)
{
  static const struct option options[] = {
    { "id", required_argument, NULL, 'i' },
    { "ready-fd", required_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
  };
  int ready_fd = -1, c;
  while ((c = getopt_long (argc, argv, "", options, NULL)) != -1)
    {
      if (c == 'r')
        ready_fd = atoi (optarg);
      else if (c != 'i')
        {
          fprintf (stderr, "usage: paas-proxy --id ID [--ready-fd N] tcp:LISTEN_IP:PORT:TARGET_IP:PORT...\n");
          return 2;
        }
    }
  /* dies with the process that started it (the shim); a parent gone already: die now */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () == 1)
    return 1;
  signal (SIGPIPE, SIG_IGN);

  libpaas_error_t err = NULL;
  static struct listener listeners[MAX_LISTENERS];
  int n = argc - optind;
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0)
    libpaas_make_error (&err, errno, "epoll_create1");
  else if (n <= 0 || n > MAX_LISTENERS)
    libpaas_make_error (&err, 0, "expected 1 to %d port specs, got %d", MAX_LISTENERS, n);
  for (int i = 0; err == NULL && i < n; i++)
    open_listener (argv[optind + i], &listeners[i], &err);
  if (err != NULL)
    {
      char line[1024];
      snprintf (line, sizeof line, "error %s\n", err->msg);
      report (ready_fd, line);
      return libpaas_error_print ("paas-proxy", &err);
    }
  report (ready_fd, "ok\n");

  struct epoll_event events[64];
  for (;;)
    {
      int k = epoll_wait (epfd, events, 64, -1);
      if (k < 0 && errno != EINTR)
        return 1;
      for (int i = 0; i < k; i++)
        {
          enum kind *kind = events[i].data.ptr;
          if (kind == NULL) /* its pair was closed earlier in this batch */
            continue;
          if (*kind == LISTENER)
            {
              accept_one ((struct listener *) kind);
              continue;
            }
          struct end *e = (struct end *) kind;
          void *s0 = &e->pair->side[0], *s1 = &e->pair->side[1];
          if (!on_event (e, events[i].events))
            for (int j = i + 1; j < k; j++)
              if (events[j].data.ptr == s0 || events[j].data.ptr == s1)
                events[j].data.ptr = NULL;
        }
    }
}
