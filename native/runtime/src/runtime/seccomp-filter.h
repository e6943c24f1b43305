/* Seccomp: compile (libseccomp, in the runtime before any fork) is separate from install
 * (one seccomp(2) call in the container process, the last thing before execve). */
#ifndef PAAS_SECCOMP_H
#define PAAS_SECCOMP_H

#include <linux/filter.h>
#include "config.h"
#include "error.h"

struct paas_seccomp_prog
{
  struct sock_filter *filter;
  unsigned short len;
};

/* Unknown syscall names are skipped (as runc does); unknown architectures are errors. */
int paas_seccomp_compile (const struct paas_seccomp *s, struct paas_seccomp_prog *out,
                          libpaas_error_t *err);
int paas_seccomp_install (const struct paas_seccomp_prog *prog, libpaas_error_t *err);
void paas_seccomp_prog_release (struct paas_seccomp_prog *prog);

#endif
