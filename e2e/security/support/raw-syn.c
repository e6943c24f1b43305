/* raw-syn: the CVE-2020-8558 probe, run as the attacker inside a container with NET_RAW.
 *
 *   raw-syn IFACE GATEWAY_MAC DST_IP DST_PORT
 *
 * Writes one Ethernet frame by hand on IFACE (an AF_PACKET socket, so the container's own
 * routing, which keeps 127.0.0.0/8 on its lo, is bypassed): a TCP SYN from the interface's
 * address to DST_IP:DST_PORT, addressed to the gateway's MAC. Then it reads frames for
 * three seconds and prints what the host answered: `open` (SYN-ACK: a host service answered,
 * exit 0), `closed` (RST, exit 1) or `filtered` (nothing, exit 2). Any other failure: exit 3.
 * Compiled statically by e2e/security/network.spec.ts and bind-mounted into busybox. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netpacket/packet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint16_t
checksum (const void *data, size_t len, uint32_t sum)
{
  const uint8_t *p = data;
  for (; len > 1; p += 2, len -= 2)
    sum += (uint32_t) (p[0] << 8 | p[1]);
  if (len)
    sum += (uint32_t) (p[0] << 8);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return htons ((uint16_t) ~sum);
}

static int
die (const char *what)
{
  fprintf (stderr, "raw-syn: %s: %s\n", what, strerror (errno));
  return 3;
}

int
main (int argc, char **argv)
{
  if (argc != 5)
    {
      fprintf (stderr, "usage: raw-syn IFACE GATEWAY_MAC DST_IP DST_PORT\n");
      return 3;
    }
  unsigned mac[6];
  struct in_addr dst;
  if (sscanf (argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6
      || inet_pton (AF_INET, argv[3], &dst) != 1)
    {
      fprintf (stderr, "raw-syn: bad MAC or address\n");
      return 3;
    }
  uint16_t dport = (uint16_t) atoi (argv[4]);

  int fd = socket (AF_PACKET, SOCK_RAW, htons (ETH_P_IP));
  if (fd < 0)
    return die ("socket AF_PACKET");
  struct ifreq ifr = { 0 };
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[1]);
  if (ioctl (fd, SIOCGIFINDEX, &ifr) < 0)
    return die ("SIOCGIFINDEX");
  int ifindex = ifr.ifr_ifindex;
  if (ioctl (fd, SIOCGIFHWADDR, &ifr) < 0)
    return die ("SIOCGIFHWADDR");
  uint8_t self_mac[6];
  memcpy (self_mac, ifr.ifr_hwaddr.sa_data, 6);
  ifr.ifr_addr.sa_family = AF_INET;
  if (ioctl (fd, SIOCGIFADDR, &ifr) < 0)
    return die ("SIOCGIFADDR");
  struct in_addr src = ((struct sockaddr_in *) &ifr.ifr_addr)->sin_addr;

  uint8_t frame[sizeof (struct ether_header) + sizeof (struct iphdr) + sizeof (struct tcphdr)] = { 0 };
  struct ether_header *eth = (void *) frame;
  struct iphdr *ip = (void *) (frame + sizeof *eth);
  struct tcphdr *tcp = (void *) (frame + sizeof *eth + sizeof *ip);
  for (int i = 0; i < 6; i++)
    eth->ether_dhost[i] = (uint8_t) mac[i];
  memcpy (eth->ether_shost, self_mac, 6);
  eth->ether_type = htons (ETHERTYPE_IP);
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_TCP;
  ip->tot_len = htons (sizeof *ip + sizeof *tcp);
  ip->id = htons ((uint16_t) getpid ());
  ip->saddr = src.s_addr;
  ip->daddr = dst.s_addr;
  ip->check = checksum (ip, sizeof *ip, 0);
  uint16_t sport = (uint16_t) (40000 + getpid () % 20000);
  tcp->source = htons (sport);
  tcp->dest = htons (dport);
  tcp->seq = htonl (0x5eed0001);
  tcp->doff = 5;
  tcp->syn = 1;
  tcp->window = htons (64240);
  /* TCP checksum over the pseudo-header and the segment */
  uint32_t pseudo = 0;
  pseudo += ntohs ((uint16_t) (src.s_addr & 0xffff)) + ntohs ((uint16_t) (src.s_addr >> 16));
  pseudo += ntohs ((uint16_t) (dst.s_addr & 0xffff)) + ntohs ((uint16_t) (dst.s_addr >> 16));
  pseudo += IPPROTO_TCP + sizeof *tcp;
  tcp->check = checksum (tcp, sizeof *tcp, pseudo);

  struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
  memcpy (to.sll_addr, eth->ether_dhost, 6);
  if (sendto (fd, frame, sizeof frame, 0, (struct sockaddr *) &to, sizeof to) < 0)
    return die ("sendto");

  struct timeval tick = { .tv_sec = 0, .tv_usec = 200000 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  time_t deadline = time (NULL) + 3;
  uint8_t buf[2048];
  while (time (NULL) < deadline)
    {
      ssize_t n = recv (fd, buf, sizeof buf, 0);
      if (n < (ssize_t) sizeof frame)
        continue;
      struct iphdr *rip = (void *) (buf + sizeof *eth);
      if (rip->protocol != IPPROTO_TCP || rip->daddr != src.s_addr)
        continue;
      struct tcphdr *rtcp = (void *) ((uint8_t *) rip + rip->ihl * 4);
      if ((uint8_t *) (rtcp + 1) > buf + n || ntohs (rtcp->dest) != sport || ntohs (rtcp->source) != dport)
        continue;
      if (rtcp->syn && rtcp->ack)
        {
          puts ("open");
          return 0;
        }
      if (rtcp->rst)
        {
          puts ("closed");
          return 1;
        }
    }
  puts ("filtered");
  return 2;
}
