#include "seccomp-filter.h"

#include <ctype.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "utils.h"

static uint32_t
to_scmp_action (enum paas_seccomp_action a, uint32_t errno_ret)
{
  switch (a)
    {
    case PAAS_SCMP_KILL_THREAD:
      return SCMP_ACT_KILL_THREAD;
    case PAAS_SCMP_KILL_PROCESS:
      return SCMP_ACT_KILL_PROCESS;
    case PAAS_SCMP_TRAP:
      return SCMP_ACT_TRAP;
    case PAAS_SCMP_ERRNO:
      return SCMP_ACT_ERRNO (errno_ret);
    case PAAS_SCMP_TRACE:
      return SCMP_ACT_TRACE (errno_ret);
    case PAAS_SCMP_LOG:
      return SCMP_ACT_LOG;
    case PAAS_SCMP_ALLOW:
    default:
      return SCMP_ACT_ALLOW;
    }
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token for "x86_64". */
static uint32_t
resolve_arch (const char *name)
{
  char lower[64];
  size_t i;
  if (strncmp (name, "SCMP_ARCH_", 10) == 0)
    name += 10;
  for (i = 0; name[i] && i < sizeof (lower) - 1; i++)
    lower[i] = tolower ((unsigned char) name[i]);
  lower[i] = '\0';
  return seccomp_arch_resolve_name (lower);
}

static void
release_ctx (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
}

int
paas_seccomp_compile (const struct paas_seccomp *s, struct paas_seccomp_prog *out,
                      libpaas_error_t *err)
{
  __attribute__ ((cleanup (release_ctx))) scmp_filter_ctx ctx = NULL;
  cleanup_close int fd = -1;
  uint32_t def = to_scmp_action (s->default_action, s->default_errno);
  off_t size;
  int r;

  ctx = seccomp_init (def);
  if (ctx == NULL)
    return libpaas_make_error (err, ENOMEM, "initialise seccomp filter");
  for (size_t i = 0; i < s->n_architectures; i++)
    {
      uint32_t arch = resolve_arch (s->architectures[i]);
      if (arch == 0)
        return libpaas_make_error (err, 0, "invalid `linux.seccomp.architectures[%zu]`: unknown "
                                   "architecture `%s`", i, s->architectures[i]);
      r = seccomp_arch_add (ctx, arch);
      if (r < 0 && r != -EEXIST)
        return libpaas_make_error (err, -r, "add seccomp architecture `%s`", s->architectures[i]);
    }
  /* Rules equal to the default action are rejected by libseccomp; they are no-ops anyway. */
  for (size_t i = 0; i < s->n_rules; i++)
    {
      const struct paas_seccomp_rule *rule = &s->rules[i];
      uint32_t action = to_scmp_action (rule->action, rule->errno_ret);
      struct scmp_arg_cmp cmps[6];
      unsigned n = 0;
      if (action == def)
        continue;
      for (size_t a = 0; a < rule->n_args && n < 6; a++, n++)
        cmps[n] = (struct scmp_arg_cmp) { .arg = rule->args[a].index,
                                          .op = (enum scmp_compare) rule->args[a].op,
                                          .datum_a = rule->args[a].value,
                                          .datum_b = rule->args[a].value_two };
      for (size_t k = 0; k < rule->n_names; k++)
        {
          int nr = seccomp_syscall_resolve_name (rule->names[k]);
          if (nr == __NR_SCMP_ERROR)
            continue; /* unknown on this kernel/arch: skipped like runc */
          r = seccomp_rule_add_array (ctx, action, nr, n, cmps);
          if (r < 0)
            /* runc's semantics for several comparisons on one argument: add them one by
             * one as alternative rules instead of an impossible conjunction. */
            for (unsigned c = 0; c < n && r < 0; c++)
              r = seccomp_rule_add_array (ctx, action, nr, 1, &cmps[c]);
          if (r < 0)
            return libpaas_make_error (err, -r, "add seccomp rule for `%s`", rule->names[k]);
        }
    }

  fd = memfd_create ("paas-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return libpaas_make_error (err, errno, "memfd_create `paas-seccomp`");
  r = seccomp_export_bpf (ctx, fd);
  if (r < 0)
    return libpaas_make_error (err, -r, "export seccomp filter");
  size = lseek (fd, 0, SEEK_END);
  if (size <= 0 || size % sizeof (struct sock_filter) != 0
      || size / sizeof (struct sock_filter) > BPF_MAXINSNS)
    return libpaas_make_error (err, EINVAL, "export seccomp filter");
  out->filter = libpaas_xmalloc0 (size);
  if (pread (fd, out->filter, size, 0) != size)
    {
      paas_seccomp_prog_release (out);
      return libpaas_make_error (err, errno ? errno : EIO, "read seccomp filter");
    }
  out->len = size / sizeof (struct sock_filter);
  return 0;
}

int
paas_seccomp_install (const struct paas_seccomp_prog *prog, libpaas_error_t *err)
{
  struct sock_fprog fprog = { .len = prog->len, .filter = prog->filter };
  if (prog->filter == NULL)
    return 0;
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0
      && prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0)
    return libpaas_make_error (err, errno, "install seccomp filter");
  return 0;
}

void
paas_seccomp_prog_release (struct paas_seccomp_prog *prog)
{
  free (prog->filter);
  prog->filter = NULL;
  prog->len = 0;
}
