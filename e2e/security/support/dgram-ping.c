/* dgram-ping: one ICMP echo through an unprivileged ICMP datagram socket, the way iputils
 * ping works without CAP_NET_RAW (net.ipv4.ping_group_range must include the caller's
 * group). busybox 1.35's ping only knows raw sockets, so e2e/security/network.spec.ts
 * compiles this statically and bind-mounts it to show ping works without NET_RAW.
 *
 *   dgram-ping IP     prints "reply" and exits 0, or the error and exits 1 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

int
main (int argc, char **argv)
{
  struct sockaddr_in to = { .sin_family = AF_INET };
  if (argc != 2 || inet_pton (AF_INET, argv[1], &to.sin_addr) != 1)
    {
      fprintf (stderr, "usage: dgram-ping IP\n");
      return 1;
    }
  int fd = socket (AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  if (fd < 0)
    {
      printf ("socket: %s\n", strerror (errno));
      return 1;
    }
  struct timeval tv = { .tv_sec = 3 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct icmphdr req = { .type = ICMP_ECHO };
  req.un.echo.sequence = htons (1); /* id and checksum: filled in by the kernel */
  if (sendto (fd, &req, sizeof req, 0, (struct sockaddr *) &to, sizeof to) < 0)
    {
      printf ("sendto: %s\n", strerror (errno));
      return 1;
    }
  struct icmphdr reply;
  if (recv (fd, &reply, sizeof reply, 0) < (ssize_t) sizeof reply || reply.type != ICMP_ECHOREPLY)
    {
      printf ("no reply: %s\n", strerror (errno));
      return 1;
    }
  puts ("reply");
  return 0;
}
