/* Test of the cgroup v2 device policy (cgroup-v2-devices.c). Built and run by
 * runtime-devices-v2.t; prints TAP-ish lines.
 *
 *   runtime-devices-v2-test compile
 *       the rule compiler's instructions for a few rule lists, as a disassembly
 *   runtime-devices-v2-test kernel CGROUP_DIR NODE
 *       the programs on a real cgroup v2 directory (made by the caller, empty): a child moved
 *       into it opens /dev/null but not NODE (a node for a block device the caller made,
 *       that this process can open), until a rule allows NODE; replacing keeps one program;
 *       without CAP_BPF/CAP_SYS_ADMIN the install fails (fail closed)
 *   runtime-devices-v2-test no-bpf CMD ARGS...
 *       runs CMD with bpf(2) failing with EPERM (a seccomp filter): a host that forbids BPF */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup-v2-devices.h"
#include "utils.h"

static int failures;

static void
expect (int cond, const char *desc)
{
  printf ("%s - %s\n", cond ? "ok" : "not ok", desc);
  failures += !cond;
}

/* One line per instruction, in the style of bpftool's disassembly (only the forms the
 * compiler may emit; anything else shows its opcode). Decoded from the raw fields so that the
 * expectations below do not share the compiler's macros. */
static void
disasm (const struct bpf_insn *in, size_t n, char *out, size_t size)
{
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    {
      const struct bpf_insn *x = &in[i];
      char line[96];
      switch (x->code)
        {
        case BPF_LDX | BPF_W | BPF_MEM:
          snprintf (line, sizeof (line), "r%d = *(u32 *)(r%d +%d)", x->dst_reg, x->src_reg,
                    x->off);
          break;
        case BPF_ALU | BPF_AND | BPF_K:
          snprintf (line, sizeof (line), "w%d &= %d", x->dst_reg, x->imm);
          break;
        case BPF_ALU | BPF_RSH | BPF_K:
          snprintf (line, sizeof (line), "w%d >>= %d", x->dst_reg, x->imm);
          break;
        case BPF_ALU | BPF_MOV | BPF_X:
          snprintf (line, sizeof (line), "w%d = w%d", x->dst_reg, x->src_reg);
          break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
          snprintf (line, sizeof (line), "r%d = %d", x->dst_reg, x->imm);
          break;
        case BPF_JMP | BPF_JNE | BPF_K:
          snprintf (line, sizeof (line), "if r%d != %d goto +%d", x->dst_reg, x->imm, x->off);
          break;
        case BPF_JMP | BPF_JEQ | BPF_K:
          snprintf (line, sizeof (line), "if r%d == %d goto +%d", x->dst_reg, x->imm, x->off);
          break;
        case BPF_JMP | BPF_JNE | BPF_X:
          snprintf (line, sizeof (line), "if r%d != r%d goto +%d", x->dst_reg, x->src_reg,
                    x->off);
          break;
        case BPF_JMP | BPF_EXIT:
          snprintf (line, sizeof (line), "exit");
          break;
        default:
          snprintf (line, sizeof (line), "op 0x%02x", x->code);
        }
      used += snprintf (out + used, size - used, "%s%s", i ? "; " : "", line);
      if (used >= size)
        return;
    }
}

#define PROLOGUE                                                                              \
  "r2 = *(u32 *)(r1 +0); w2 &= 65535; r3 = *(u32 *)(r1 +0); w3 >>= 16; "                      \
  "r4 = *(u32 *)(r1 +4); r5 = *(u32 *)(r1 +8); "

#define R(ALLOW, TYPE, MAJ, MIN, ACC) { ALLOW, TYPE, MAJ, MIN, ACC }

static void
expect_program (const char *desc, const struct paas_device_rule *rules, size_t n,
                const char *want)
{
  struct paas_devices_prog p;
  libpaas_error_t err = NULL;
  char got[4096];
  if (paas_devices_compile (rules, n, &p, &err) < 0)
    {
      printf ("not ok - %s (%s)\n", desc, err->msg);
      libpaas_error_release (&err);
      failures++;
      return;
    }
  disasm (p.insns, p.len, got, sizeof (got));
  if (strcmp (got, want) == 0)
    printf ("ok - %s\n", desc);
  else
    {
      printf ("not ok - %s\n#   want: %s\n#   got:  %s\n", desc, want, got);
      failures++;
    }
  paas_devices_prog_release (&p);
}

static int
test_compile (void)
{
  {
    const struct paas_device_rule r[] = { R (false, 'a', -1, -1, "rwm") };
    expect_program ("deny all: default deny only", r, 1, PROLOGUE "r0 = 0; exit");
  }
  {
    const struct paas_device_rule r[] = { R (true, 'c', 1, 3, "rwm") };
    expect_program ("allow c 1:3 rwm: type, major, minor; no access test", r, 1,
                    PROLOGUE "if r2 != 2 goto +4; if r4 != 1 goto +3; if r5 != 3 goto +2; "
                             "r0 = 1; exit; r0 = 0; exit");
  }
  {
    const struct paas_device_rule r[]
        = { R (true, 'c', -1, -1, "m"), R (true, 'b', 8, -1, "rwm"), R (true, 'c', -1, 5, "rw") };
    expect_program ("wildcard majors/minors: no test for *; last rule first", r, 3,
                    PROLOGUE
                    /* c *:5 rw */
                    "if r2 != 2 goto +6; w1 = w3; w1 &= 6; if r1 != r3 goto +3; "
                    "if r5 != 5 goto +2; r0 = 1; exit; "
                    /* b 8:* rwm */
                    "if r2 != 1 goto +3; if r4 != 8 goto +2; r0 = 1; exit; "
                    /* c *:* m */
                    "if r2 != 2 goto +5; w1 = w3; w1 &= 1; if r1 != r3 goto +2; r0 = 1; exit; "
                    "r0 = 0; exit");
  }
  {
    const struct paas_device_rule r[]
        = { R (true, 'c', 1, 3, "r"), R (false, 'c', 1, 3, "w") };
    expect_program ("access subsets: allow needs every requested access, deny any", r, 2,
                    PROLOGUE
                    "if r2 != 2 goto +7; w1 = w3; w1 &= 4; if r1 == 0 goto +4; "
                    "if r4 != 1 goto +3; if r5 != 3 goto +2; r0 = 0; exit; "
                    "if r2 != 2 goto +7; w1 = w3; w1 &= 2; if r1 != r3 goto +4; "
                    "if r4 != 1 goto +3; if r5 != 3 goto +2; r0 = 1; exit; "
                    "r0 = 0; exit");
  }
  {
    /* 'a' resets, whatever its major/minor/access (the kernel's v1 "a"): what came before
     * it is dead, what comes after still applies. */
    const struct paas_device_rule r[]
        = { R (false, 'c', 1, 3, "rwm"), R (true, 'a', 5, 5, "r"), R (false, 'b', 7, 0, "rwm") };
    expect_program ("type a: allow-all reset ends the program", r, 3,
                    PROLOGUE "if r2 != 1 goto +4; if r4 != 7 goto +3; if r5 != 0 goto +2; "
                             "r0 = 0; exit; r0 = 1; exit");
  }
  {
    /* Docker's list: deny everything, then allow. The defaults come after the rules. */
    const struct paas_device_rule r[] = { R (false, 'a', -1, -1, "rwm"),
                                          R (true, 'c', 1, 3, "rwm"),
                                          R (false, 'c', 1, 3, "rwm") };
    expect_program ("last match wins: a later deny of c 1:3 is tested first", r, 3,
                    PROLOGUE "if r2 != 2 goto +4; if r4 != 1 goto +3; if r5 != 3 goto +2; "
                             "r0 = 0; exit; "
                             "if r2 != 2 goto +4; if r4 != 1 goto +3; if r5 != 3 goto +2; "
                             "r0 = 1; exit; r0 = 0; exit");
  }
  {
    const struct paas_device_rule r[]
        = { R (true, 'c', 4294967295LL, 1, "rwm"), R (true, 'b', 7, 2147483648LL, "rwm"),
            R (true, 'c', 1, 3, "") };
    expect_program ("majors/minors above INT32_MAX and empty accesses match nothing", r, 3,
                    PROLOGUE "r0 = 0; exit");
  }
  {
    struct paas_devices_prog p;
    libpaas_error_t err = NULL;
    const struct paas_device_rule r[] = { R (true, 'c', 1, 3, "rwm"), R (true, 'u', 1, 3, "rwm") };
    int ret = paas_devices_compile (r, 2, &p, &err);
    expect (ret < 0 && err
                && strcmp (err->msg, "compile `linux.resources.devices[1]`: unknown device "
                                     "type `u`")
                       == 0,
            "an unknown type is an error naming the rule");
    libpaas_error_release (&err);
  }
  {
    struct paas_devices_prog p;
    libpaas_error_t err = NULL;
    char got[4096];
    expect (paas_devices_compile (paas_default_device_rules, paas_n_default_device_rules, &p,
                                  &err)
                == 0,
            "the default devices compile");
    disasm (p.insns, p.len, got, sizeof (got));
    expect (strstr (got, "if r2 != 1 goto +5; w1 = w3; w1 &= 1; if r1 != r3 goto +2; r0 = 1; "
                         "exit; if r2 != 2 goto +5; w1 = w3; w1 &= 1; if r1 != r3 goto +2; "
                         "r0 = 1; exit; if r2 != 2 goto +3; if r4 != 136 goto +2; r0 = 1; exit")
                == got + strlen (PROLOGUE),
            "defaults: mknod b *:*, mknod c *:*, then pts 136:* first");
    paas_devices_prog_release (&p);
  }
  return failures ? 1 : 0;
}

/* Runs fn in a child moved into cgroup `dir` first; its exit status (0 = as expected). */
static int
in_cgroup (const char *dir, int (*fn) (const char *), const char *arg)
{
  pid_t pid = fork ();
  int status;
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      char buf[32];
      cleanup_free char *procs = libpaas_xasprintf ("%s/cgroup.procs", dir);
      libpaas_error_t err = NULL;
      snprintf (buf, sizeof (buf), "%d", (int) getpid ());
      if (libpaas_write_file (procs, buf, strlen (buf), 0, &err) < 0)
        {
          printf ("# %s\n", err->msg);
          _exit (100);
        }
      fflush (stdout);
      _exit (fn (arg));
    }
  if (waitpid (pid, &status, 0) < 0 || !WIFEXITED (status))
    return -1;
  return WEXITSTATUS (status);
}

static int
open_errno (const char *path, int flags)
{
  int fd = open (path, flags | O_CLOEXEC);
  if (fd < 0)
    return errno;
  close (fd);
  return 0;
}

static int
denied_node (const char *node)
{
  int null = open_errno ("/dev/null", O_RDWR), n = open_errno (node, O_RDONLY);
  if (null != 0 || n != EPERM)
    {
      printf ("# /dev/null: %s; %s: %s\n", strerror (null), node, strerror (n));
      return 1;
    }
  return 0;
}

static int
allowed_node_read_only (const char *node)
{
  int r = open_errno (node, O_RDONLY), rw = open_errno (node, O_RDWR);
  if (r != 0 || rw != EPERM)
    {
      printf ("# %s: read %s; read-write %s\n", node, strerror (r), strerror (rw));
      return 1;
    }
  return 0;
}

static int
can_open (const char *node)
{
  return open_errno (node, O_RDONLY) != 0;
}

/* Installs rules + defaults on dir (the runtime's own entry point). */
static int
set_devices (const char *dir, struct paas_device_rule *rules, size_t n, libpaas_error_t *err)
{
  struct paas_resources res;
  memset (&res, 0, sizeof (res));
  res.device_rules = rules;
  res.n_device_rules = n;
  return paas_cgroup_v2_set_devices (dir, &res, err);
}

static size_t
programs_named_ours (const char *dir)
{
  cleanup_close int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  uint32_t ids[64];
  union bpf_attr attr;
  size_t ours = 0;
  memset (&attr, 0, sizeof (attr));
  attr.query.target_fd = fd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (uint64_t) (uintptr_t) ids;
  attr.query.prog_cnt = 64;
  if (syscall (__NR_bpf, BPF_PROG_QUERY, &attr, sizeof (attr)) < 0)
    return (size_t) -1;
  for (uint32_t i = 0; i < attr.query.prog_cnt; i++)
    {
      struct bpf_prog_info info;
      union bpf_attr a;
      cleanup_close int pfd = -1;
      memset (&a, 0, sizeof (a));
      a.prog_id = ids[i];
      pfd = (int) syscall (__NR_bpf, BPF_PROG_GET_FD_BY_ID, &a, sizeof (a));
      memset (&info, 0, sizeof (info));
      memset (&a, 0, sizeof (a));
      a.info.bpf_fd = pfd;
      a.info.info_len = sizeof (info);
      a.info.info = (uint64_t) (uintptr_t) &info;
      if (pfd >= 0 && syscall (__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof (a)) == 0
          && strcmp (info.name, PAAS_DEVICES_PROG_NAME) == 0)
        ours++;
    }
  return ours;
}

/* Drops CAP_BPF and CAP_SYS_ADMIN from the effective set: what a runtime without the right
 * to load programs has (unprivileged loading of device programs never exists). */
static int
drop_bpf_caps (void)
{
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  if (syscall (__NR_capget, &h, d) < 0)
    return -1;
  d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
  d[CAP_BPF / 32].effective &= ~(1u << (CAP_BPF % 32));
  return (int) syscall (__NR_capset, &h, d);
}

static int
test_kernel (const char *dir, const char *node)
{
  libpaas_error_t err = NULL;
  struct stat st;
  if (stat (node, &st) < 0 || !S_ISBLK (st.st_mode))
    {
      printf ("not ok - %s is a block device node\n", node);
      return 1;
    }
  expect (open_errno (node, O_RDONLY) == 0, "outside the cgroup the node opens (the test works)");

  {
    struct paas_device_rule deny_all[] = { R (false, 'a', -1, -1, "rwm") };
    int r = set_devices (dir, deny_all, 1, &err);
    expect (r == 0, "deny-all + defaults: load and attach");
    if (r < 0)
      printf ("# %s\n", err->msg);
    libpaas_error_release (&err);
    expect (in_cgroup (dir, denied_node, node) == 0,
            "in the cgroup: /dev/null opens, the block device gets EPERM");
    expect (programs_named_ours (dir) == 1, "one program of ours attached");
  }
  {
    struct paas_device_rule allow_node[]
        = { R (false, 'a', -1, -1, "rwm"),
            R (true, 'b', (int64_t) major (st.st_rdev), (int64_t) minor (st.st_rdev), "r") };
    int r = set_devices (dir, allow_node, 2, &err);
    expect (r == 0, "update: an allow rule for the node's major:minor, read only");
    if (r < 0)
      printf ("# %s\n", err->msg);
    libpaas_error_release (&err);
    expect (programs_named_ours (dir) == 1, "the update replaced the program (still one)");
    expect (in_cgroup (dir, allowed_node_read_only, node) == 0,
            "in the cgroup: the node opens read-only, not read-write");
  }
  {
    struct paas_device_rule back[] = { R (false, 'a', -1, -1, "rwm") };
    int r = set_devices (dir, back, 1, &err);
    libpaas_error_release (&err);
    expect (r == 0 && in_cgroup (dir, can_open, node) != 0,
            "update back to deny-all: the node is refused again");
  }
  {
    /* Fail closed: in a child without the right to load programs. */
    int pipefd[2], status;
    char msg[512] = "";
    pid_t pid;
    if (pipe (pipefd) < 0)
      return 1;
    pid = fork ();
    if (pid == 0)
      {
        struct paas_device_rule deny_all[] = { R (false, 'a', -1, -1, "rwm") };
        int r, st2;
        close (pipefd[0]);
        if (drop_bpf_caps () < 0)
          _exit (2);
        r = set_devices (dir, deny_all, 1, &err);
        st2 = r < 0 && err ? err->status : 0;
        if (err)
          libpaas_write_all (pipefd[1], err->msg, strlen (err->msg));
        _exit (st2 == EPERM ? 0 : 1);
      }
    close (pipefd[1]);
    libpaas_read_all (pipefd[0], msg, sizeof (msg) - 1);
    close (pipefd[0]);
    waitpid (pid, &status, 0);
    printf ("# without CAP_BPF/CAP_SYS_ADMIN: %s\n", msg);
    expect (WIFEXITED (status) && WEXITSTATUS (status) == 0
                && strstr (msg, "apply `linux.resources.devices` to cgroup `") == msg
                && strstr (msg, "load the device cgroup program"),
            "without the right to load BPF: an EPERM error naming the devices policy");
  }
  {
    /* Attaching to something that is not a cgroup fails with the step named. */
    char tmpl[] = "/tmp/paas-devices-notcg.XXXXXX";
    char *d = mkdtemp (tmpl);
    struct paas_device_rule deny_all[] = { R (false, 'a', -1, -1, "rwm") };
    int r = d ? set_devices (d, deny_all, 1, &err) : 0;
    expect (r < 0 && err && strstr (err->msg, "(bpf BPF_PROG_QUERY)") != NULL,
            "a directory that is not a cgroup: an error, not a silent success");
    if (err)
      printf ("# %s\n", err->msg);
    libpaas_error_release (&err);
    if (d)
      rmdir (d);
  }
  return failures ? 1 : 0;
}

/* seccomp: bpf(2) -> EPERM, everything else allowed; then exec. The number is the native
 * one (the runtime is a native binary; no arch check needed for a test). */
static int
no_bpf (char **argv)
{
  struct sock_filter f[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { sizeof (f) / sizeof (f[0]), f };
  if (prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
    {
      perror ("seccomp");
      return 127;
    }
  execvp (argv[0], argv);
  perror (argv[0]);
  return 127;
}

int
main (int argc, char **argv)
{
  setvbuf (stdout, NULL, _IOLBF, 0); /* children must not repeat a parent's buffered lines */
  if (argc == 2 && strcmp (argv[1], "compile") == 0)
    return test_compile ();
  if (argc == 4 && strcmp (argv[1], "kernel") == 0)
    return test_kernel (argv[2], argv[3]);
  if (argc >= 3 && strcmp (argv[1], "no-bpf") == 0)
    return no_bpf (argv + 2);
  fprintf (stderr, "usage: %s compile | kernel CGROUP_DIR NODE | no-bpf CMD...\n", argv[0]);
  return 2;
}
