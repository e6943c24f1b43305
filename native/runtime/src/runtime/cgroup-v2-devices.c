/* linux.resources.devices on cgroup v2: rule compiler and bpf(2) installer (see the contract
 * in cgroup-v2-devices.h). The program's layout follows crun's ebpf.c and runc's
 * devicefilter.go, which both follow systemd's: unpack struct bpf_cgroup_dev_ctx into
 * registers, then one block per rule that jumps to the next block on a mismatch. */
#include "cgroup-v2-devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "utils.h"

const struct paas_device_rule paas_default_device_rules[] = {
  { true, 'c', 1, 3, "rwm" },   /* null */
  { true, 'c', 1, 5, "rwm" },   /* zero */
  { true, 'c', 1, 7, "rwm" },   /* full */
  { true, 'c', 1, 8, "rwm" },   /* random */
  { true, 'c', 1, 9, "rwm" },   /* urandom */
  { true, 'c', 5, 0, "rwm" },   /* tty */
  { true, 'c', 5, 1, "rwm" },   /* console */
  { true, 'c', 5, 2, "rwm" },   /* ptmx */
  { true, 'c', 136, -1, "rwm" }, /* pts/N */
  { true, 'c', -1, -1, "m" },
  { true, 'b', -1, -1, "m" },
};
const size_t paas_n_default_device_rules
    = sizeof (paas_default_device_rules) / sizeof (paas_default_device_rules[0]);

#define INSN(CODE, DST, SRC, OFF, IMM)                                                        \
  ((struct bpf_insn) { .code = (CODE), .dst_reg = (DST), .src_reg = (SRC), .off = (OFF),      \
                       .imm = (IMM) })
#define LDX_W(DST, SRC, OFF) INSN (BPF_LDX | BPF_W | BPF_MEM, DST, SRC, OFF, 0)
#define ALU32_IMM(OP, DST, IMM) INSN (BPF_ALU | (OP) | BPF_K, DST, 0, 0, IMM)
#define MOV32_REG(DST, SRC) INSN (BPF_ALU | BPF_MOV | BPF_X, DST, SRC, 0, 0)
#define MOV64_IMM(DST, IMM) INSN (BPF_ALU64 | BPF_MOV | BPF_K, DST, 0, 0, IMM)
#define JMP_IMM(OP, DST, IMM) INSN (BPF_JMP | (OP) | BPF_K, DST, 0, 0, IMM)
#define JMP_REG(OP, DST, SRC) INSN (BPF_JMP | (OP) | BPF_X, DST, SRC, 0, 0)
#define EXIT_INSN() INSN (BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#define ACC_ALL (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

static void
append (struct paas_devices_prog *p, size_t *cap, const struct bpf_insn *insns, size_t n)
{
  if (p->len + n > *cap)
    {
      *cap = (*cap ? *cap * 2 : 64) + n;
      p->insns = realloc (p->insns, *cap * sizeof (*p->insns));
      if (p->insns == NULL)
        abort ();
    }
  memcpy (p->insns + p->len, insns, n * sizeof (*insns));
  p->len += n;
}

int
paas_devices_compile (const struct paas_device_rule *rules, size_t n,
                      struct paas_devices_prog *out, libpaas_error_t *err)
{
  /* r2 = type (low 16 bits of access_type), r3 = access (high 16), r4 = major, r5 = minor. */
  static const struct bpf_insn prologue[] = {
    LDX_W (BPF_REG_2, BPF_REG_1, 0), ALU32_IMM (BPF_AND, BPF_REG_2, 0xFFFF),
    LDX_W (BPF_REG_3, BPF_REG_1, 0), ALU32_IMM (BPF_RSH, BPF_REG_3, 16),
    LDX_W (BPF_REG_4, BPF_REG_1, 4), LDX_W (BPF_REG_5, BPF_REG_1, 8),
  };
  struct paas_devices_prog p = { NULL, 0 };
  size_t cap = 0;
  bool reset = false;

  append (&p, &cap, prologue, sizeof (prologue) / sizeof (prologue[0]));
  /* Last match wins: test the rules from the last one back, return at the first match. */
  for (size_t k = n; k-- > 0 && !reset;)
    {
      const struct paas_device_rule *d = &rules[k];
      struct bpf_insn block[8];
      size_t len = 0, jumps[4], n_jumps = 0;
      int access = 0;

      if (d->type == 'a')
        {
          /* Everything, like the kernel's v1 "a": the rules before it no longer matter. */
          const struct bpf_insn end[] = { MOV64_IMM (BPF_REG_0, d->allow), EXIT_INSN () };
          append (&p, &cap, end, 2);
          reset = true;
          break;
        }
      if (d->type != 'c' && d->type != 'b')
        {
          paas_devices_prog_release (&p);
          return libpaas_make_error (err, 0, "compile `linux.resources.devices[%zu]`: unknown "
                                     "device type `%c`", k, d->type);
        }
      for (const char *a = d->access; *a; a++)
        switch (*a)
          {
          case 'r':
            access |= BPF_DEVCG_ACC_READ;
            break;
          case 'w':
            access |= BPF_DEVCG_ACC_WRITE;
            break;
          case 'm':
            access |= BPF_DEVCG_ACC_MKNOD;
            break;
          default:
            paas_devices_prog_release (&p);
            return libpaas_make_error (err, 0, "compile `linux.resources.devices[%zu]`: "
                                       "invalid access `%s`", k, d->access);
          }
      if (access == 0 || d->major > INT32_MAX || d->minor > INT32_MAX)
        continue; /* matches no request */

      jumps[n_jumps++] = len;
      block[len++] = JMP_IMM (BPF_JNE, BPF_REG_2,
                              d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
      if (access != ACC_ALL)
        {
          block[len++] = MOV32_REG (BPF_REG_1, BPF_REG_3);
          block[len++] = ALU32_IMM (BPF_AND, BPF_REG_1, access);
          jumps[n_jumps++] = len;
          /* allow: every requested access is granted (r1 == r3); deny: any is (r1 != 0). */
          block[len++] = d->allow ? JMP_REG (BPF_JNE, BPF_REG_1, BPF_REG_3)
                                  : JMP_IMM (BPF_JEQ, BPF_REG_1, 0);
        }
      if (d->major >= 0)
        {
          jumps[n_jumps++] = len;
          block[len++] = JMP_IMM (BPF_JNE, BPF_REG_4, (int32_t) d->major);
        }
      if (d->minor >= 0)
        {
          jumps[n_jumps++] = len;
          block[len++] = JMP_IMM (BPF_JNE, BPF_REG_5, (int32_t) d->minor);
        }
      block[len++] = MOV64_IMM (BPF_REG_0, d->allow);
      block[len++] = EXIT_INSN ();
      /* A mismatch skips to the first instruction after this block. */
      for (size_t j = 0; j < n_jumps; j++)
        block[jumps[j]].off = (int16_t) (len - jumps[j] - 1);
      append (&p, &cap, block, len);
    }
  if (!reset)
    {
      const struct bpf_insn deny[] = { MOV64_IMM (BPF_REG_0, 0), EXIT_INSN () };
      append (&p, &cap, deny, 2);
    }
  *out = p;
  return 0;
}

void
paas_devices_prog_release (struct paas_devices_prog *prog)
{
  free (prog->insns);
  prog->insns = NULL;
  prog->len = 0;
}

static int
sys_bpf (int cmd, union bpf_attr *attr)
{
  return (int) syscall (__NR_bpf, cmd, attr, sizeof (*attr));
}

static int
load (const struct paas_devices_prog *prog, libpaas_error_t *err)
{
  union bpf_attr attr;
  cleanup_free char *log = NULL;
  int fd, saved;

  memset (&attr, 0, sizeof (attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t) (uintptr_t) prog->insns;
  attr.insn_cnt = (uint32_t) prog->len;
  attr.license = (uint64_t) (uintptr_t) "GPL";
  snprintf (attr.prog_name, sizeof (attr.prog_name), "%s", PAAS_DEVICES_PROG_NAME);
  fd = sys_bpf (BPF_PROG_LOAD, &attr);
  if (fd < 0 && errno == EPERM)
    {
      /* Before Linux 5.11 programs were charged to RLIMIT_MEMLOCK. */
      struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
      if (setrlimit (RLIMIT_MEMLOCK, &rl) == 0)
        fd = sys_bpf (BPF_PROG_LOAD, &attr);
    }
  if (fd >= 0)
    return fd;
  saved = errno;
  if (saved != EPERM && saved != ENOSYS)
    {
      /* Load again with the verifier's log, to say why. */
      size_t size = 16384;
      log = libpaas_xmalloc0 (size);
      attr.log_level = 1;
      attr.log_buf = (uint64_t) (uintptr_t) log;
      attr.log_size = (uint32_t) size;
      fd = sys_bpf (BPF_PROG_LOAD, &attr);
      if (fd >= 0)
        return fd;
      for (char *c = log; *c; c++)
        if (*c == '\n')
          *c = ' ';
    }
  if (log && log[0])
    return libpaas_make_error (err, saved, "load the device cgroup program (verifier: %s)", log);
  return libpaas_make_error (err, saved, "load the device cgroup program (bpf BPF_PROG_LOAD)");
}

/* Ids of the programs attached to the cgroup itself (not inherited) for BPF_CGROUP_DEVICE. */
static int
query (int cgroup_fd, uint32_t **ids, uint32_t *n, libpaas_error_t *err)
{
  for (uint32_t cap = 64;; cap *= 2)
    {
      union bpf_attr attr;
      free (*ids);
      *ids = libpaas_xmalloc0 (cap * sizeof (**ids));
      memset (&attr, 0, sizeof (attr));
      attr.query.target_fd = cgroup_fd;
      attr.query.attach_type = BPF_CGROUP_DEVICE;
      attr.query.prog_ids = (uint64_t) (uintptr_t) *ids;
      attr.query.prog_cnt = cap;
      if (sys_bpf (BPF_PROG_QUERY, &attr) == 0)
        {
          *n = attr.query.prog_cnt;
          return 0;
        }
      if (errno != ENOSPC || cap >= 65536)
        return libpaas_make_error (err, errno, "list the device cgroup programs (bpf "
                                   "BPF_PROG_QUERY)");
    }
}

/* An fd of program `id` when it is one of ours, -1 when it is not (or is gone). */
static int
open_if_ours (uint32_t id, libpaas_error_t *err)
{
  union bpf_attr attr;
  struct bpf_prog_info info;
  cleanup_close int fd = -1;

  memset (&attr, 0, sizeof (attr));
  attr.prog_id = id;
  fd = sys_bpf (BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return -1;
      return libpaas_make_error (err, errno, "open device cgroup program %u (bpf "
                                 "BPF_PROG_GET_FD_BY_ID)", id);
    }
  memset (&info, 0, sizeof (info));
  memset (&attr, 0, sizeof (attr));
  attr.info.bpf_fd = fd;
  attr.info.info_len = sizeof (info);
  attr.info.info = (uint64_t) (uintptr_t) &info;
  if (sys_bpf (BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
    return libpaas_make_error (err, errno, "read device cgroup program %u (bpf "
                               "BPF_OBJ_GET_INFO_BY_FD)", id);
  if (strncmp (info.name, PAAS_DEVICES_PROG_NAME, sizeof (info.name)) != 0)
    return -1;
  return steal_fd (&fd);
}

int
paas_devices_install (const struct paas_devices_prog *prog, int cgroup_fd,
                      libpaas_error_t *err)
{
  cleanup_close int fd = -1;
  cleanup_free uint32_t *ids = NULL;
  cleanup_free int *old = NULL;
  uint32_t n_ids = 0;
  size_t n_old = 0;
  union bpf_attr attr;
  int ret = 0;

  fd = load (prog, err);
  if (fd < 0)
    return -1;
  if (query (cgroup_fd, &ids, &n_ids, err) < 0)
    return -1;
  old = libpaas_xmalloc0 ((n_ids + 1) * sizeof (*old));
  for (uint32_t i = 0; i < n_ids; i++)
    {
      int o = open_if_ours (ids[i], err);
      if (o >= 0)
        old[n_old++] = o;
      else if (*err)
        {
          ret = -1;
          goto out;
        }
    }

  memset (&attr, 0, sizeof (attr));
  attr.target_fd = cgroup_fd;
  attr.attach_bpf_fd = fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf (BPF_PROG_ATTACH, &attr) < 0)
    {
      ret = libpaas_make_error (err, errno, "attach the device cgroup program (bpf "
                                "BPF_PROG_ATTACH)");
      goto out;
    }
  for (size_t i = 0; i < n_old; i++)
    {
      memset (&attr, 0, sizeof (attr));
      attr.target_fd = cgroup_fd;
      attr.attach_bpf_fd = old[i];
      attr.attach_type = BPF_CGROUP_DEVICE;
      if (sys_bpf (BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT && ret == 0)
        ret = libpaas_make_error (err, errno, "detach the previous device cgroup program (bpf "
                                  "BPF_PROG_DETACH)");
    }
out:
  for (size_t i = 0; i < n_old; i++)
    close (old[i]);
  return ret;
}

int
paas_cgroup_v2_set_devices (const char *dir, const struct paas_resources *r,
                            libpaas_error_t *err)
{
  struct paas_devices_prog prog = { NULL, 0 };
  cleanup_free struct paas_device_rule *rules = NULL;
  cleanup_close int dirfd = -1;
  size_t n = r->n_device_rules + paas_n_default_device_rules;
  int ret;

  if (r->n_device_rules == 0)
    return 0;
  rules = libpaas_xmalloc0 (n * sizeof (*rules));
  memcpy (rules, r->device_rules, r->n_device_rules * sizeof (*rules));
  memcpy (rules + r->n_device_rules, paas_default_device_rules,
          paas_n_default_device_rules * sizeof (*rules));
  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return libpaas_make_error (err, errno, "open `%s`", dir);
  if (paas_devices_compile (rules, n, &prog, err) < 0)
    return -1;
  ret = paas_devices_install (&prog, dirfd, err);
  paas_devices_prog_release (&prog);
  if (ret < 0)
    return libpaas_error_prepend (err, "apply `linux.resources.devices` to cgroup `%s`", dir);
  return 0;
}
