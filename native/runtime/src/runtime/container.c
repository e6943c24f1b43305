/* Container lifecycle. `create` validates everything first (config, seccomp compilation,
 * namespace paths, LSM labels), then creates, in order: state dir -> exec.fifo -> cgroup ->
 * container process. Any failure after the first creation rolls back what exists, in reverse.
 *
 * The container process is cloned once, straight into its new namespaces (and, on cgroup v2,
 * into its cgroup with CLONE_INTO_CGROUP). It builds its rootfs and drops its privileges
 * (user, groups, capabilities, no_new_privs, seccomp) BEFORE it reports "ready" over a
 * socketpair: a security setting the kernel refuses fails create, never a container that
 * runs anyway (fail closed, as runc). Then it blocks until started: on exec.fifo for
 * create/start (reopened through /proc/self/fd, as the unprivileged user it now is), on the
 * socketpair for run (no fifo needed when one process does both), and execs. exec lives in
 * exec.c; the socketpair protocol and waiting in sync.c. */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "hooks.h"
#include "mounts.h"
#include "namespaces.h"
#include "process.h"
#include "seccomp-filter.h"
#include "state.h"
#include "sync.h"
#include "terminal.h"
#include "utils.h"

struct create_ctx
{
  const struct paas_global *g;
  const struct paas_create_opts *o;
  struct paas_config *config;
  char *bundle;
  char *exe;
  struct paas_seccomp_prog seccomp;
  struct paas_ns_fds ns;
  struct paas_cgroup cgroup;
  bool have_cgroup, have_state_dir, run_mode, need_go, unshare_cgroupns, cloned;
  unsigned joined_before_clone; /* namespaces the runtime joined for the child (1 << kind) */
  int root_mount_id; /* topmost mount at the rootfs before the container made its own */
  int state_dirfd; /* locked (flock) by the runtime; never inherited by the container */
  int fifo_fd;     /* O_PATH of exec.fifo, for the container to reopen for writing */
  int console_fd;  /* connected --console-socket when process.terminal, else -1 */
  int sock[2];
  pid_t pid;
  pid_t init_pid;   /* in the container init: its pid as the runtime sees it (for hooks) */
  int fifo_wfd;     /* in the container init: exec.fifo opened for writing, kept until exec */
  int sysfs_fd;     /* a detached sysfs of the netns joined for the child (paas_sysfs_open) */
};

#define RFC3339_MAX 96

/* UTC RFC 3339 with nanoseconds. Computed by hand: gmtime_r would load /etc/localtime. */
static void
now_rfc3339 (char buf[RFC3339_MAX])
{
  struct timespec ts;
  long long days, secs, y, m, d, era, doe, yoe, doy, mp;
  clock_gettime (CLOCK_REALTIME, &ts);
  days = ts.tv_sec / 86400;
  secs = ts.tv_sec % 86400;
  /* days since 1970-01-01 -> civil date (Howard Hinnant's algorithm). */
  days += 719468;
  era = days / 146097;
  doe = days - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  snprintf (buf, RFC3339_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", (int) y, (int) m, (int) d,
            (int) (secs / 3600), (int) (secs / 60 % 60), (int) (secs % 60), (int) ts.tv_nsec);
}



static pid_t
clone_into (uint64_t flags, int cgroup_fd)
{
  struct clone_args args = { .flags = flags, .exit_signal = SIGCHLD };
  pid_t pid;
  if (cgroup_fd >= 0)
    {
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = cgroup_fd;
    }
  pid = syscall (SYS_clone3, &args, sizeof (args));
  if (pid < 0 && errno == ENOSYS && cgroup_fd < 0)
    pid = syscall (SYS_clone, (unsigned long) flags | SIGCHLD, 0, 0, 0, 0);
  return pid;
}

/* ---- hooks (hooks.h). Where each kind runs and the status its state shows, as runc
 * 1.1 unless said otherwise:
 *   prestart, createRuntime  the runtime, "creating", once the init has made every mount
 *                            and waits before pivot_root (MSG_HOOKS .. MSG_RESUME);
 *   createContainer          the init, in the container's namespaces, right after them,
 *                            before pivot_root (cwd the rootfs), "creating";
 *   startContainer           the init once started, as the user process will run (user,
 *                            capabilities, seccomp), right before execve, "created";
 *   poststart                the runtime (start, run) once the init has exec'd, "running"
 *                            (runc 1.1 runs them during create, with "created"; the spec
 *                            says after the user process is executed, as crun does);
 *   poststop                 the runtime once delete (or a failed create or start) has
 *                            removed the container, "stopped" (pid 0).
 * The pid is always the init's as the runtime sees it (the spec's "as seen by the host";
 * runc gives createContainer and startContainer the init's own getpid(), crun 0). ---- */

static int
ctx_hooks (const struct create_ctx *c, pid_t pid, enum paas_hook_kind kind, const char *status,
           libpaas_error_t *err)
{
  const struct paas_config *cfg = c->config;
  struct paas_state st = { .id = (char *) c->o->id, .pid = pid, .bundle = c->bundle,
                           .rootfs = cfg->root_path, .annotations = cfg->annotations,
                           .n_annotations = cfg->n_annotations, .hooks = cfg->hooks };
  return paas_hooks_run (&st, kind, status, err);
}

/* The container init's pid in the runtime's pid namespace: /proc is still the runtime's. */
static pid_t
runtime_view_pid (void)
{
  char buf[32];
  ssize_t n = readlink ("/proc/self", buf, sizeof (buf) - 1);
  if (n <= 0)
    return getpid ();
  buf[n] = '\0';
  return atoi (buf);
}

/* mounts.h's before_pivot, in the container init. */
static int
init_before_pivot (void *arg, libpaas_error_t *err)
{
  struct create_ctx *c = arg;
  const struct paas_hooks *h = &c->config->hooks;
  if (h->n[PAAS_HOOK_PRESTART] + h->n[PAAS_HOOK_CREATE_RUNTIME] > 0
      && (paas_sync_send (c->sock[1], MSG_HOOKS, NULL) < 0
          || paas_sync_recv (c->sock[1], NULL, 0) != MSG_RESUME))
    _exit (1); /* the runtime reports the failing hook and rolls back */
  return ctx_hooks (c, c->init_pid, PAAS_HOOK_CREATE_CONTAINER, "creating", err);
}

/* In the container init once started. Returns the seccomp filter paas_process_exec still
 * has to install, or NULL when done; exits after reporting a failing hook on how `start`
 * or `run` waits for the exec (exec.fifo or the socket). */
static const struct paas_seccomp_prog *
init_start_hooks (struct create_ctx *c, const struct paas_seccomp_prog *seccomp)
{
  const struct paas_process *p = c->config->process;
  libpaas_error_t err = NULL;
  if (c->config->hooks.n[PAAS_HOOK_START_CONTAINER] == 0)
    return seccomp;
  /* With no_new_privs the filter waits for execve; the hooks run under it anyway. */
  if (seccomp && p->no_new_privileges && paas_seccomp_install (seccomp, &err) == 0)
    seccomp = NULL;
  if (err == NULL && ctx_hooks (c, c->init_pid, PAAS_HOOK_START_CONTAINER, "created", &err) == 0)
    return seccomp;
  if (c->sock[1] >= 0)
    paas_sync_send (c->sock[1], MSG_ERROR, err->msg);
  else if (c->fifo_wfd >= 0)
    libpaas_write_all (c->fifo_wfd, err->msg, strnlen (err->msg, 4000));
  _exit (1);
}

/* ---- the container process (never returns) ---- */

static void __attribute__ ((noreturn))
child_fail (struct create_ctx *c, libpaas_error_t *err)
{
  paas_sync_send (c->sock[1], MSG_ERROR, (*err)->msg);
  _exit (1);
}

static void __attribute__ ((noreturn))
container_init (struct create_ctx *c)
{
  const struct paas_config *cfg = c->config;
  libpaas_error_t err = NULL;
  struct paas_mount_ctx mctx = { .config = cfg,
                                 .in_userns = cfg->namespaces[PAAS_NS_USER].present,
                                 .net_sysctls_written
                                 = (c->joined_before_clone & (1u << PAAS_NS_NET)) != 0,
                                 .host_mounts = !cfg->namespaces[PAAS_NS_MNT].present,
                                 .cgroup_version = paas_cgroup_version (&c->cgroup),
                                 .sysfs_fd = c->sysfs_fd,
                                 .sysfs_mount = paas_sysfs_mount_of (cfg) };
  const struct paas_seccomp_prog *seccomp = c->seccomp.filter ? &c->seccomp : NULL;
  unsigned skip = 1u << PAAS_NS_PID; /* a pid namespace path was joined by the runtime */
  char fifo_path[64] = "";

  close (c->sock[0]);
  close (c->state_dirfd);
  /* A session of our own, as runc and crun give it: a created container must not share the
   * caller's process group, or whatever signals that group (a harness or `timeout` killing
   * it once create returned) stops the container before `start`. */
  if (setsid () < 0)
    {
      libpaas_make_error (&err, errno, "setsid");
      child_fail (c, &err);
    }
  /* Nothing may ptrace us (and use our fds) before execve, which resets this. */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* Die with the runtime while being set up; cleared once ready (the runtime of `create`
   * exits then, and the container must outlive it). */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (cfg->hooks.n[PAAS_HOOK_PRESTART] + cfg->hooks.n[PAAS_HOOK_CREATE_RUNTIME]
          + cfg->hooks.n[PAAS_HOOK_CREATE_CONTAINER] > 0)
    {
      mctx.before_pivot = init_before_pivot;
      mctx.before_pivot_arg = c;
    }
  if (cfg->hooks.n[PAAS_HOOK_CREATE_CONTAINER] + cfg->hooks.n[PAAS_HOOK_START_CONTAINER] > 0)
    c->init_pid = runtime_view_pid ();
  if (c->need_go && paas_sync_recv (c->sock[1], NULL, 0) != MSG_GO)
    _exit (1);
  if (cfg->namespaces[PAAS_NS_USER].present && cfg->namespaces[PAAS_NS_USER].path == NULL
      && (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0))
    {
      libpaas_make_error (&err, errno, "become root in the user namespace");
      child_fail (c, &err);
    }
  if (paas_ns_join (&c->ns, skip | c->joined_before_clone, &err) < 0)
    child_fail (c, &err);
  if (c->unshare_cgroupns && unshare (CLONE_NEWCGROUP) < 0)
    {
      libpaas_make_error (&err, errno, "unshare the cgroup namespace");
      child_fail (c, &err);
    }
  if (chdir (c->bundle) < 0)
    {
      libpaas_make_error (&err, errno, "chdir `%s`", c->bundle);
      child_fail (c, &err);
    }
  umask (0);
  if (cfg->hostname && sethostname (cfg->hostname, strlen (cfg->hostname)) < 0)
    {
      libpaas_make_error (&err, errno, "sethostname `%s`", cfg->hostname);
      child_fail (c, &err);
    }
  if (paas_rootfs_prepare (&mctx, &err) < 0)
    child_fail (c, &err);
  /* In the new root, before /dev may turn read-only, while still privileged. */
  if (c->console_fd >= 0)
    {
      if (paas_terminal_setup (c->console_fd, cfg->process, true, &err) < 0)
        child_fail (c, &err);
      close (c->console_fd);
      c->console_fd = -1;
    }
  if (paas_rootfs_finalize (&mctx, &err) < 0)
    child_fail (c, &err);
  if (paas_process_prepare (cfg->process, &err) < 0
      || paas_process_find_executable (cfg->process, &c->exe, &err) < 0)
    child_fail (c, &err);
  if (c->fifo_fd >= 0)
    {
      snprintf (fifo_path, sizeof (fifo_path), "/proc/self/fd/%d", c->fifo_fd);
      if (access (fifo_path, F_OK) < 0)
        {
          libpaas_make_error (&err, errno, "open exec fifo `%s` (create needs /proc in the "
                              "container)", fifo_path);
          child_fail (c, &err);
        }
    }
  if (paas_process_drop_privileges (cfg->process, c->seccomp.filter ? &c->seccomp : NULL, &err)
      < 0)
    child_fail (c, &err);

  /* From here the container outlives a runtime that exits normally; one that dies before
   * recording the state (no COMMIT/START) closes the socket, and we exit. */
  prctl (PR_SET_PDEATHSIG, 0);
  if (paas_sync_send (c->sock[1], MSG_READY, NULL) < 0)
    _exit (1);
  if (paas_sync_recv (c->sock[1], NULL, 0) != (c->run_mode ? MSG_START : MSG_COMMIT))
    _exit (1);
  if (!c->run_mode)
    {
      close (c->sock[1]);
      c->sock[1] = -1;
      /* Blocks until `start` opens the fifo for reading. Open until execve: `start` may
       * wait for that (hooks), and reads a startContainer failure from it. */
      c->fifo_wfd = open (fifo_path, O_WRONLY | O_CLOEXEC);
      if (c->fifo_wfd < 0 || write (c->fifo_wfd, "0", 1) != 1)
        _exit (1);
    }
  if (c->fifo_fd >= 0)
    close (c->fifo_fd);
  seccomp = init_start_hooks (c, seccomp);
  paas_process_close_fds (c->o->preserve_fds);
  if (paas_process_exec (cfg->process, c->exe, seccomp, &err) < 0)
    {
      if (c->sock[1] >= 0)
        paas_sync_send (c->sock[1], MSG_ERROR, err->msg);
      libpaas_error_print ("paas-runtime", &err);
      _exit (127);
    }
  _exit (127);
}

/* ---- create ---- */

static void
rollback (struct create_ctx *c)
{
  libpaas_error_t ignored = NULL;
  if (c->pid > 0)
    {
      kill (c->pid, SIGKILL);
      waitpid (c->pid, NULL, 0);
      c->pid = 0;
    }
  if (c->cloned && !c->config->namespaces[PAAS_NS_MNT].present)
    {
      /* The bind the container made on top of what was there (no mount namespace). */
      int top = paas_mount_top_id (c->config->root_path);
      if (top != c->root_mount_id)
        paas_rootfs_detach (c->config->root_path, top, &ignored);
      libpaas_error_release (&ignored);
    }
  if (c->have_cgroup)
    c->cgroup.ops->destroy (&c->cgroup, &ignored);
  libpaas_error_release (&ignored);
  if (c->have_state_dir)
    {
      paas_state_remove (c->g->root, c->o->id, &ignored);
      /* The container existed: the spec's failed create goes on to delete, and poststop. */
      ctx_hooks (c, 0, PAAS_HOOK_POSTSTOP, "stopped", &ignored);
    }
  libpaas_error_release (&ignored);
  c->have_cgroup = c->have_state_dir = false;
}

static void
ctx_release (struct create_ctx *c)
{
  paas_config_free (c->config);
  free (c->bundle);
  free (c->exe);
  paas_seccomp_prog_release (&c->seccomp);
  paas_ns_close (&c->ns);
  paas_cgroup_release (&c->cgroup);
  for (int i = 0; i < 2; i++)
    if (c->sock[i] >= 0)
      close (c->sock[i]);
  if (c->state_dirfd >= 0)
    close (c->state_dirfd);
  if (c->fifo_fd >= 0)
    close (c->fifo_fd);
  if (c->console_fd >= 0)
    close (c->console_fd);
  if (c->sysfs_fd >= 0)
    close (c->sysfs_fd);
}


/* Everything that can be checked without creating anything. */
static int
validate (struct create_ctx *c, libpaas_error_t *err)
{
  const struct paas_config *cfg;
  if (paas_state_check_id (c->o->id, err) < 0)
    return -1;
  c->bundle = realpath (c->o->bundle ? c->o->bundle : ".", NULL);
  if (c->bundle == NULL)
    return libpaas_make_error (err, errno, "open bundle `%s`", c->o->bundle ? c->o->bundle : ".");
  if (paas_config_load (c->bundle, &c->config, err) < 0)
    return -1;
  cfg = c->config;
  /* Without a mount namespace the mounts land in the caller's table (as with runc); masking
   * or read-only paths there would change the host's /proc and /sys: refused, as runc does. */
  if (!cfg->namespaces[PAAS_NS_MNT].present && cfg->n_masked_paths)
    return libpaas_make_error (err, 0, "invalid `linux.maskedPaths`: needs a mount namespace "
                               "(they would mask the host's paths)");
  if (!cfg->namespaces[PAAS_NS_MNT].present && cfg->n_readonly_paths)
    return libpaas_make_error (err, 0, "invalid `linux.readonlyPaths`: needs a mount namespace "
                               "(they would make the host's paths read-only)");
  {
    struct stat st;
    if (stat (cfg->root_path, &st) < 0)
      return libpaas_make_error (err, errno, "stat `root.path` `%s`", cfg->root_path);
    if (!S_ISDIR (st.st_mode))
      return libpaas_make_error (err, ENOTDIR, "open `root.path` `%s`", cfg->root_path);
  }
  if (paas_process_check_labels (cfg->process, err) < 0)
    return -1;
  /* runc passes it to SELinux as a mount option; we do not support mount labels. */
  if (cfg->mount_label)
    return libpaas_make_error (err, 0, "invalid `linux.mountLabel`: %s",
                               paas_lsm_enabled (PAAS_LSM_SELINUX)
                                   ? "mount labels are not supported"
                                   : "SELinux is not enabled on this host");
  if (cfg->seccomp && paas_seccomp_compile (cfg->seccomp, &c->seccomp, err) < 0)
    return -1;
  if (paas_ns_open_paths (cfg, &c->ns, err) < 0)
    return -1;
  if (paas_cgroup_init (&c->cgroup, cfg->cgroups_path, c->o->id, 0, err) < 0)
    return -1;
  /* Last: the socket's owner sees a connection only for a config that got this far. */
  return paas_terminal_connect (cfg->process, c->o->console_socket, &c->console_fd, err);
}

/* Back to our own pid namespace for the children we fork next: the hooks run in the
 * runtime's namespaces, not in one the container joined by path. */
static int
leave_pid_ns (libpaas_error_t *err)
{
  cleanup_close int fd = open ("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns (fd, CLONE_NEWPID) < 0)
    return libpaas_make_error (err, errno, "return to the runtime's pid namespace");
  return 0;
}

static int
do_create (struct create_ctx *c, libpaas_error_t *err)
{
  const struct paas_config *cfg;
  struct paas_state st = { 0 };
  char created[RFC3339_MAX], msg[4096];
  int flags, tag, cgfd = -1;
  bool into_cgroup;

  if (validate (c, err) < 0)
    return -1;
  cfg = c->config;

  if (paas_state_create_dir (c->g->root, c->o->id, &c->state_dirfd, err) < 0)
    return -1;
  c->have_state_dir = true;
  if (paas_state_write_cgroup (c->state_dirfd, paas_cgroup_version (&c->cgroup), c->cgroup.path,
                               err) < 0)
    return -1;
  if (!c->run_mode)
    {
      /* Writable by the container's user, who reaches it only through our fd (the state
       * directory is 0700): the mode runc gives it. */
      if (mkfifoat (c->state_dirfd, "exec.fifo", 0600) < 0)
        return libpaas_make_error (err, errno, "mkfifo `exec.fifo`");
      if (fchmodat (c->state_dirfd, "exec.fifo", 0622, 0) < 0)
        return libpaas_make_error (err, errno, "chmod `exec.fifo`");
      c->fifo_fd = openat (c->state_dirfd, "exec.fifo", O_PATH | O_CLOEXEC);
      if (c->fifo_fd < 0)
        return libpaas_make_error (err, errno, "open `exec.fifo`");
    }
  if (c->cgroup.ops->create (&c->cgroup, &cfg->resources, err) < 0)
    return -1;
  c->have_cgroup = true;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->sock) < 0)
    return libpaas_make_error (err, errno, "socketpair");
  if (c->ns.fd[PAAS_NS_PID] >= 0 && setns (c->ns.fd[PAAS_NS_PID], CLONE_NEWPID) < 0)
    return libpaas_make_error (err, errno, "join pid namespace `%s`",
                               cfg->namespaces[PAAS_NS_PID].path);

  /* Without CLONE_INTO_CGROUP the child is moved into its cgroup after clone: it must wait
   * for that before creating a cgroup namespace (rooted where it stands). Otherwise it needs
   * no go-ahead: it blocks before exec anyway, and we join the cgroup meanwhile. */
  flags = paas_ns_new_flags (cfg);
  into_cgroup = c->cgroup.leaf_fd >= 0 && !c->cgroup.fake;
  cgfd = into_cgroup ? c->cgroup.leaf_fd : -1;
  c->unshare_cgroupns = !into_cgroup && (flags & CLONE_NEWCGROUP);
  c->need_go = (flags & CLONE_NEWUSER) || c->unshare_cgroupns;

  /* Without a mount namespace the container's mounts are made in ours: note what is at the
   * rootfs now, to tell its bind from it on rollback. */
  if (!cfg->namespaces[PAAS_NS_MNT].present)
    c->root_mount_id = paas_mount_top_id (cfg->root_path);
  int saved_ns[PAAS_NS_COUNT];
  if ((flags & CLONE_NEWUSER)
      && paas_ns_join_before_userns (&c->ns, saved_ns, &c->joined_before_clone, err) < 0)
    {
      paas_ns_return (saved_ns, NULL);
      return -1;
    }
  /* The net.* sysctls of a network namespace joined for the child: its root, in the new user
   * namespace, has no rights over it, while we, in it now, do. */
  if (c->joined_before_clone & (1u << PAAS_NS_NET))
    for (size_t i = 0; i < cfg->n_sysctl; i++)
      if (strncmp (cfg->sysctl[i].key, "net.", 4) == 0 && paas_write_sysctl (&cfg->sysctl[i], err) < 0)
        {
          paas_ns_return (saved_ns, NULL);
          return -1;
        }
  /* The container's sysfs, of the network namespace it gets: mounted by us, in it now and
   * privileged over it, moved into the rootfs by the child. */
  if ((c->joined_before_clone & (1u << PAAS_NS_NET)) && cfg->namespaces[PAAS_NS_MNT].present
      && paas_sysfs_mount_of (cfg))
    {
      c->sysfs_fd = paas_sysfs_open (paas_sysfs_mount_of (cfg), err);
      if (c->sysfs_fd < 0)
        {
          paas_ns_return (saved_ns, NULL);
          return -1;
        }
    }
  c->cloned = true;
  fflush (NULL);
  c->pid = clone_into (c->unshare_cgroupns ? flags & ~CLONE_NEWCGROUP : flags, cgfd);
  if (c->pid < 0 && cgfd >= 0)
    {
      /* e.g. a v2 controller not delegated to us: fall back to writing cgroup.procs. */
      into_cgroup = false;
      c->unshare_cgroupns = flags & CLONE_NEWCGROUP;
      c->need_go = (flags & CLONE_NEWUSER) || c->unshare_cgroupns;
      c->pid = clone_into (flags & ~CLONE_NEWCGROUP, -1);
    }
  if (c->pid == 0)
    container_init (c);
  if (c->pid < 0)
    {
      int e = errno;
      if (flags & CLONE_NEWUSER)
        paas_ns_return (saved_ns, NULL);
      return libpaas_make_error (err, e, "clone the container process");
    }
  if ((flags & CLONE_NEWUSER) && paas_ns_return (saved_ns, err) < 0)
    return -1;
  if (c->ns.fd[PAAS_NS_PID] >= 0 && leave_pid_ns (err) < 0)
    return -1;

  close (c->sock[1]);
  c->sock[1] = -1;
  if (!into_cgroup && c->cgroup.ops->enter (&c->cgroup, c->pid, err) < 0)
    return -1;
  if ((flags & CLONE_NEWUSER) && paas_ns_write_id_maps (c->pid, cfg, err) < 0)
    return -1;
  if (cfg->process->has_oom_score_adj
      && paas_process_set_oom_score (c->pid, cfg->process->oom_score_adj, err) < 0)
    return -1;
  if (c->need_go && paas_sync_send (c->sock[0], MSG_GO, NULL) < 0)
    return libpaas_make_error (err, errno, "signal the container process");
  tag = paas_sync_recv (c->sock[0], msg, sizeof (msg));
  if (tag == MSG_HOOKS)
    {
      if (ctx_hooks (c, c->pid, PAAS_HOOK_PRESTART, "creating", err) < 0
          || ctx_hooks (c, c->pid, PAAS_HOOK_CREATE_RUNTIME, "creating", err) < 0)
        return -1;
      if (paas_sync_send (c->sock[0], MSG_RESUME, NULL) < 0)
        return libpaas_make_error (err, errno, "signal the container process");
      tag = paas_sync_recv (c->sock[0], msg, sizeof (msg));
    }
  if (tag == MSG_ERROR)
    return libpaas_make_error (err, 0, "%s", msg);
  if (tag != MSG_READY)
    return libpaas_make_error (err, 0, "container process exited during setup");
  /* The master was sent: the console socket is its owner's business now. */
  if (c->console_fd >= 0)
    {
      close (c->console_fd);
      c->console_fd = -1;
    }

  now_rfc3339 (created);
  st.id = (char *) c->o->id;
  st.pid = c->pid;
  st.start_time = paas_state_pid_start_time (c->pid);
  st.bundle = c->bundle;
  st.rootfs = cfg->root_path;
  st.created = created;
  st.cgroup_version = paas_cgroup_version (&c->cgroup);
  st.cgroup_path = c->cgroup.path;
  st.oom_events_path = c->cgroup.ops->oom_events_path (&c->cgroup);
  st.procs_path = c->cgroup.ops->procs_path (&c->cgroup);
  st.annotations = cfg->annotations;
  st.n_annotations = cfg->n_annotations;
  if (!cfg->namespaces[PAAS_NS_MNT].present)
    st.host_mount_id = paas_mount_top_id (cfg->root_path);
  st.hooks = cfg->hooks;
  {
    int r = paas_state_write (c->g->root, &st, err);
    free (st.oom_events_path);
    free (st.procs_path);
    if (r < 0)
      return -1;
  }
  return paas_write_pid_file (c->o->pid_file, c->pid, err);
}

int
paas_container_create (const struct paas_global *g, const struct paas_create_opts *o,
                       libpaas_error_t *err)
{
  struct create_ctx c = { .g = g, .o = o, .state_dirfd = -1, .fifo_fd = -1, .console_fd = -1, .sock = { -1, -1 }, .fifo_wfd = -1, .sysfs_fd = -1 };
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    c.ns.fd[k] = -1;
  c.cgroup.leaf_fd = -1;
  int r = do_create (&c, err);
  if (r == 0 && paas_sync_send (c.sock[0], MSG_COMMIT, NULL) < 0)
    r = libpaas_make_error (err, errno, "signal the container process");
  if (r < 0)
    rollback (&c);
  ctx_release (&c);
  return r;
}

/* ---- waiting, start, run ---- */



/* After `start` read the init's "0": with startContainer or poststart hooks, waits for the
 * init to exec (its end of exec.fifo closes) or to report a failing startContainer hook,
 * then runs the poststart hooks. A failing startContainer hook fails start (the spec; runc
 * and crun print it and exit 0); the init exits, so the container is stopped, and delete
 * runs poststop, as with runc. */
static int
started_hooks (const struct paas_state *st, int fifo, libpaas_error_t *err)
{
  char msg[4096];
  size_t len = 0;
  if (st->hooks.n[PAAS_HOOK_START_CONTAINER] + st->hooks.n[PAAS_HOOK_POSTSTART] == 0)
    return 0;
  for (;;)
    {
      struct pollfd p = { .fd = fifo, .events = POLLIN };
      ssize_t n;
      if (poll (&p, 1, -1) < 0 && errno != EINTR)
        break;
      n = read (fifo, msg + len, sizeof (msg) - 1 - len);
      if (n > 0)
        len += n;
      else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        break;
    }
  if (len > 0)
    {
      msg[len] = '\0';
      return libpaas_make_error (err, 0, "start container `%s`: %s", st->id, msg);
    }
  return paas_hooks_run (st, PAAS_HOOK_POSTSTART, "running", err);
}

int
paas_container_start (const struct paas_global *g, const char *id, libpaas_error_t *err)
{
  struct paas_state st;
  cleanup_close int dirfd = -1, fifo = -1;
  const char *status;
  char b;
  int r = -1;

  if (paas_state_check_id (id, err) < 0 || paas_state_lock (g->root, id, &dirfd, err) < 0)
    return -1;
  if (paas_state_read (g->root, id, &st, err) < 0)
    return -1;
  status = paas_state_status (g->root, &st);
  if (strcmp (status, "created") != 0)
    {
      libpaas_make_error (err, 0, "start container `%s`: container is %s, not created", id, status);
      goto out;
    }
  fifo = openat (dirfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fifo < 0)
    {
      libpaas_make_error (err, errno, "open `exec.fifo`");
      goto out;
    }
  for (;;)
    {
      struct pollfd p = { .fd = fifo, .events = POLLIN };
      int n = poll (&p, 1, 100);
      if (n > 0 && read (fifo, &b, 1) == 1)
        break;
      if (paas_state_pid_start_time (st.pid) != st.start_time)
        {
          libpaas_make_error (err, 0, "start container `%s`: container process exited", id);
          goto out;
        }
    }
  unlinkat (dirfd, "exec.fifo", 0);
  if (started_hooks (&st, fifo, err) < 0)
    goto out;
  r = 0;
out:
  paas_state_release (&st);
  return r;
}


/* Removes the cgroup and the state dir of a container whose processes are gone. */
static int
cleanup_container (const struct paas_global *g, const struct paas_state *st,
                   libpaas_error_t *err)
{
  struct paas_cgroup cg;
  int r;
  paas_kill_cgroup (st->procs_path, SIGKILL);
  if (paas_rootfs_detach (st->rootfs, st->host_mount_id, err) < 0)
    return -1;
  if (paas_cgroup_init (&cg, st->cgroup_path, st->id, st->cgroup_version, err) < 0)
    return -1;
  r = cg.ops->destroy (&cg, err);
  paas_cgroup_release (&cg);
  if (r < 0)
    return -1;
  return paas_state_remove (g->root, st->id, err);
}

int
paas_container_run (const struct paas_global *g, const struct paas_create_opts *o, bool detach,
                    libpaas_error_t *err)
{
  struct create_ctx c = { .g = g, .o = o, .state_dirfd = -1, .fifo_fd = -1, .console_fd = -1, .sock = { -1, -1 }, .fifo_wfd = -1, .sysfs_fd = -1, .run_mode = true };
  struct paas_state st;
  int code;
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    c.ns.fd[k] = -1;
  c.cgroup.leaf_fd = -1;
  if (do_create (&c, err) < 0 || paas_sync_send (c.sock[0], MSG_START, NULL) < 0)
    {
      if (*err == NULL)
        libpaas_make_error (err, errno, "start container `%s`", o->id);
      rollback (&c);
      ctx_release (&c);
      return -1;
    }
  if (detach
      || c.config->hooks.n[PAAS_HOOK_START_CONTAINER] + c.config->hooks.n[PAAS_HOOK_POSTSTART])
    {
      /* A failing startContainer hook or exec is reported on the socket; success closes it
       * (close-on-exec): the user process runs, time for poststart. */
      char msg[4096];
      if (paas_sync_recv (c.sock[0], msg, sizeof (msg)) == MSG_ERROR)
        {
          libpaas_make_error (err, 0, "%s", msg);
          rollback (&c);
          ctx_release (&c);
          return -1;
        }
      ctx_hooks (&c, c.pid, PAAS_HOOK_POSTSTART, "running", err);
    }
  if (detach)
    {
      ctx_release (&c);
      return 0;
    }
  close (c.sock[0]);
  c.sock[0] = -1;
  /* Release the lock: other verbs (state, kill, exec) must work while we wait. */
  close (c.state_dirfd);
  c.state_dirfd = -1;
  code = paas_wait_forwarding (c.pid);
  ctx_release (&c);
  if (paas_state_read (g->root, o->id, &st, err) < 0)
    return -1;
  if (cleanup_container (g, &st, err) < 0
      || paas_hooks_run (&st, PAAS_HOOK_POSTSTOP, "stopped", err) < 0)
    code = -1;
  paas_state_release (&st);
  return code;
}

/* ---- state, kill, delete, list ---- */

int
paas_container_state (const struct paas_global *g, const char *id, libpaas_error_t *err)
{
  struct paas_state st;
  char *text;
  if (paas_state_read (g->root, id, &st, err) < 0)
    return -1;
  text = paas_state_to_json (&st, paas_state_status (g->root, &st));
  puts (text);
  free (text);
  paas_state_release (&st);
  return 0;
}

int
paas_container_kill (const struct paas_global *g, const char *id, int sig, bool all,
                     libpaas_error_t *err)
{
  struct paas_state st;
  const char *status;
  int r = 0;
  if (paas_state_read (g->root, id, &st, err) < 0)
    return -1;
  status = paas_state_status (g->root, &st);
  if (strcmp (status, "stopped") == 0)
    r = libpaas_make_error (err, 0, "kill container `%s`: container is not running", id);
  else if (all)
    paas_kill_cgroup (st.procs_path, sig);
  else if (kill (st.pid, sig) < 0)
    r = libpaas_make_error (err, errno, "kill container `%s`", id);
  paas_state_release (&st);
  return r;
}

int
paas_container_delete (const struct paas_global *g, const char *id, bool force,
                       libpaas_error_t *err)
{
  struct paas_state st;
  cleanup_close int dirfd = -1;
  const char *status;
  int r = -1;

  if (paas_state_check_id (id, err) < 0)
    return -1;
  if (paas_state_lock (g->root, id, &dirfd, err) < 0)
    return -1;
  if (paas_state_read (g->root, id, &st, err) < 0)
    {
      /* A directory without state.json: a runtime that died while creating. Its cgroup
       * (named by the breadcrumb) may exist: empty it and remove it, then the directory. */
      struct paas_cgroup cg;
      cleanup_free char *cgpath = NULL;
      int version;
      libpaas_error_release (err);
      if (paas_state_read_cgroup (g->root, id, &version, &cgpath) == 0
          && paas_cgroup_init (&cg, cgpath, id, version, err) == 0)
        {
          char *procs = cg.ops->procs_path (&cg);
          int r;
          paas_kill_cgroup (procs, SIGKILL);
          free (procs);
          r = cg.ops->destroy (&cg, err);
          paas_cgroup_release (&cg);
          if (r < 0)
            return -1;
        }
      return paas_state_remove (g->root, id, err);
    }
  status = paas_state_status (g->root, &st);
  if (strcmp (status, "stopped") != 0)
    {
      if (!force && strcmp (status, "created") != 0)
        {
          libpaas_make_error (err, 0, "delete container `%s`: container is %s (use --force)", id,
                              status);
          goto out;
        }
      kill (st.pid, SIGKILL);
      for (int i = 0; i < 5000 && paas_state_pid_start_time (st.pid) == st.start_time; i++)
        nanosleep (&(struct timespec) { 0, 1000 * 1000 }, NULL);
    }
  r = cleanup_container (g, &st, err);
  if (r == 0)
    r = paas_hooks_run (&st, PAAS_HOOK_POSTSTOP, "stopped", err);
out:
  paas_state_release (&st);
  return r;
}

struct list_arg
{
  const struct paas_global *g;
  bool quiet;
};

static int
list_one (const char *id, void *arg)
{
  struct list_arg *a = arg;
  struct paas_state st;
  libpaas_error_t err = NULL;
  if (a->quiet)
    {
      puts (id);
      return 0;
    }
  if (paas_state_read (a->g->root, id, &st, &err) < 0)
    {
      libpaas_error_release (&err);
      return 0;
    }
  {
    const char *status = paas_state_status (a->g->root, &st);
    printf ("%-20s %-8d %-10s %-40s %s\n", id, strcmp (status, "stopped") ? (int) st.pid : 0,
            status, st.bundle ? st.bundle : "", st.created ? st.created : "");
  }
  paas_state_release (&st);
  return 0;
}

int
paas_container_list (const struct paas_global *g, bool quiet, libpaas_error_t *err)
{
  struct list_arg a = { g, quiet };
  if (!quiet)
    printf ("%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
  return paas_state_foreach (g->root, list_one, &a, err);
}

int
paas_parse_signal (const char *s)
{
  static const struct
  {
    const char *name;
    int sig;
  } names[] = {
    { "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "ILL", SIGILL },
    { "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "BUS", SIGBUS },   { "FPE", SIGFPE },
    { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
    { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "CHLD", SIGCHLD },
    { "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },
    { "TTOU", SIGTTOU }, { "URG", SIGURG },   { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
    { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
    { "PWR", SIGPWR },   { "SYS", SIGSYS },
  };
  char *end;
  long n = strtol (s, &end, 10);
  if (*s && *end == '\0')
    return n > 0 && n < NSIG ? (int) n : -1;
  if (strncasecmp (s, "SIG", 3) == 0)
    s += 3;
  for (size_t i = 0; i < sizeof (names) / sizeof (names[0]); i++)
    if (strcasecmp (s, names[i].name) == 0)
      return names[i].sig;
  return -1;
}
