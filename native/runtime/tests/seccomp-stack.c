/* seccomp-stack PROG ARGS...: runs PROG under a stack of allow-all seccomp filters that
 * fills the kernel's per-thread budget (MAX_INSNS_PER_PATH, counted after the kernel's own
 * translation, so filled by halving sizes until not even one instruction fits). Any later
 * filter is refused with ENOMEM: a seccomp profile the kernel cannot install, for the
 * fail-closed tests (runtime-badconfig.t). Needs CAP_SYS_ADMIN (no no_new_privs is set). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int
install (unsigned short len)
{
  struct sock_filter *insns = calloc (len, sizeof (*insns));
  struct sock_fprog prog = { .len = len, .filter = insns };
  int r;
  if (insns == NULL)
    return -1;
  for (unsigned short i = 0; i + 1 < len; i++)
    insns[i] = (struct sock_filter) BPF_STMT (BPF_LD | BPF_IMM, 0);
  insns[len - 1] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  r = prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
  free (insns);
  return r;
}

int
main (int argc, char **argv)
{
  int n = 0;
  if (argc < 2)
    {
      fprintf (stderr, "usage: seccomp-stack PROG ARGS...\n");
      return 2;
    }
  for (int len = BPF_MAXINSNS; len >= 1; len /= 2)
    while (install (len) == 0)
      n++;
  if (errno != ENOMEM || n == 0)
    {
      fprintf (stderr, "seccomp-stack: install filters: %s\n", strerror (errno));
      return 1;
    }
  execvp (argv[1], argv + 1);
  fprintf (stderr, "seccomp-stack: exec `%s`: %s\n", argv[1], strerror (errno));
  return 127;
}
