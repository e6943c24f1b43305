/* exec: run a process inside a running container. The runtime joins the container's pid
 * namespace (effective for its children only) and forks once; the child is moved into the
 * container's cgroup, joins the other namespaces (user first), then becomes the process
 * exactly as the container's init did (rlimits, cwd, user, capabilities, no_new_privs,
 * seccomp from the bundle's config.json) and execs. Any of them refused fails `exec`: the
 * error goes back over the socket, which only a successful execve closes. */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "namespaces.h"
#include "process.h"
#include "seccomp-filter.h"
#include "state.h"
#include "sync.h"
#include "terminal.h"
#include "utils.h"

/* The process to run: from --process, or the config's process with args (and extras)
 * replaced. */
static int
exec_process (const struct paas_exec_opts *o, struct paas_config *cfg, struct paas_process **out,
              libpaas_error_t *err)
{
  struct paas_process *p;
  if (o->process_file)
    {
      if (paas_process_load (o->process_file, out, err) < 0)
        return -1;
      (*out)->terminal |= o->tty;
      return 0;
    }
  if (o->n_args == 0)
    return libpaas_make_error (err, 0, "exec: no command given");
  p = cfg->process;
  cfg->process = NULL;
  for (size_t i = 0; i < p->n_args; i++)
    free (p->args[i]);
  free (p->args);
  p->args = libpaas_xmalloc0 ((o->n_args + 1) * sizeof (char *));
  for (int i = 0; i < o->n_args; i++)
    p->args[i] = libpaas_xstrdup (o->args[i]);
  p->n_args = o->n_args;
  /* The container's own terminal setting is not the exec's: only --tty asks for one (runc). */
  p->terminal = o->tty;
  if (o->n_env)
    {
      p->env = realloc (p->env, (p->n_env + o->n_env + 1) * sizeof (char *));
      if (p->env == NULL)
        abort ();
      for (int i = 0; i < o->n_env; i++)
        p->env[p->n_env++] = libpaas_xstrdup (o->env[i]);
      p->env[p->n_env] = NULL;
    }
  if (o->cwd)
    {
      free (p->cwd);
      p->cwd = libpaas_xstrdup (o->cwd);
    }
  if (o->user)
    {
      char *end;
      p->uid = strtoul (o->user, &end, 10);
      if (*end == ':')
        p->gid = strtoul (end + 1, &end, 10);
      if (*end != '\0')
        {
          paas_process_free (p);
          return libpaas_make_error (err, 0, "invalid user `%s`: expected uid[:gid]", o->user);
        }
    }
  *out = p;
  return 0;
}

static void __attribute__ ((noreturn))
exec_child (int sock, int console_fd, struct paas_ns_fds *ns, int root_fd, const struct paas_process *p,
            const struct paas_seccomp_prog *seccomp, int preserve_fds)
{
  libpaas_error_t err = NULL;
  char *exe = NULL;
  if (paas_sync_recv (sock, NULL, 0) != MSG_GO)
    _exit (1);
  /* A session of its own, like the container's init (and runc's exec): an `exec --detach`
   * process must not die with its caller's process group. */
  if (setsid () < 0)
    {
      libpaas_make_error (&err, errno, "setsid");
      goto fail;
    }
  if (paas_ns_join (ns, 1u << PAAS_NS_PID, &err) < 0)
    goto fail;
  /* A container without a mount namespace shares ours, chrooted: joining it sets no root. */
  if (root_fd >= 0 && (fchdir (root_fd) < 0 || chroot (".") < 0))
    {
      libpaas_make_error (&err, errno, "chroot into the container's root");
      goto fail;
    }
  if (root_fd >= 0)
    close (root_fd);
  if (paas_process_prepare (p, &err) < 0
      || paas_process_find_executable (p, &exe, &err) < 0)
    goto fail;
  if (console_fd >= 0)
    {
      if (paas_terminal_setup (console_fd, p, false, &err) < 0)
        goto fail;
      close (console_fd);
    }
  paas_process_close_fds (preserve_fds);
  if (paas_process_drop_privileges (p, seccomp, &err) < 0
      || paas_process_exec (p, exe, seccomp, &err) < 0)
    goto fail;
  _exit (127);
fail:
  paas_sync_send (sock, MSG_ERROR, err->msg);
  _exit (127);
}

int
paas_container_exec (const struct paas_global *g, const struct paas_exec_opts *o,
                     libpaas_error_t *err)
{
  struct paas_state st;
  struct paas_config *cfg = NULL;
  struct paas_process *proc = NULL;
  struct paas_seccomp_prog prog = { 0 };
  struct paas_ns_fds ns;
  struct paas_cgroup cg = { .leaf_fd = -1 };
  int sock[2] = { -1, -1 }, console_fd = -1, root_fd = -1;
  pid_t pid = -1;
  char msg[4096];
  int r = -1;

  for (int k = 0; k < PAAS_NS_COUNT; k++)
    ns.fd[k] = -1;
  if (paas_state_read (g->root, o->id, &st, err) < 0)
    return -1;
  if (strcmp (paas_state_status (g->root, &st), "stopped") == 0)
    {
      libpaas_make_error (err, 0, "exec in container `%s`: container is not running", o->id);
      goto out;
    }
  if (paas_config_load (st.bundle, &cfg, err) < 0 || exec_process (o, cfg, &proc, err) < 0)
    goto out;
  if (cfg->seccomp && paas_seccomp_compile (cfg->seccomp, &prog, err) < 0)
    goto out;
  if (paas_terminal_connect (proc, o->console_socket, &console_fd, err) < 0)
    goto out;
  if (paas_ns_open_of_pid (st.pid, &ns, err) < 0)
    goto out;
  if (paas_cgroup_init (&cg, st.cgroup_path, st.id, st.cgroup_version, err) < 0)
    goto out;
  if (ns.fd[PAAS_NS_MNT] < 0)
    {
      char path[64];
      snprintf (path, sizeof (path), "/proc/%d/root", (int) st.pid);
      root_fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (root_fd < 0)
        {
          libpaas_make_error (err, errno, "open `%s`", path);
          goto out;
        }
    }
  /* Joining the pid namespace only affects our children: do it here, once. */
  if (ns.fd[PAAS_NS_PID] >= 0 && setns (ns.fd[PAAS_NS_PID], CLONE_NEWPID) < 0)
    {
      libpaas_make_error (err, errno, "join pid namespace of container `%s`", o->id);
      goto out;
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
    {
      libpaas_make_error (err, errno, "socketpair");
      goto out;
    }
  fflush (NULL);
  pid = fork ();
  if (pid < 0)
    {
      libpaas_make_error (err, errno, "fork");
      goto out;
    }
  if (pid == 0)
    {
      close (sock[0]);
      exec_child (sock[1], console_fd, &ns, root_fd, proc, prog.filter ? &prog : NULL, o->preserve_fds);
    }
  close (sock[1]);
  sock[1] = -1;
  if (console_fd >= 0)
    {
      close (console_fd);
      console_fd = -1;
    }
  if (cg.ops->enter (&cg, pid, err) < 0 || paas_sync_send (sock[0], MSG_GO, NULL) < 0)
    goto kill_child;
  if (paas_sync_recv (sock[0], msg, sizeof (msg)) == MSG_ERROR)
    {
      libpaas_make_error (err, 0, "exec in container `%s`: %s", o->id, msg);
      goto kill_child;
    }
  if (o->pid_file && paas_write_pid_file (o->pid_file, pid, err) < 0)
    goto kill_child;
  r = o->detach ? 0 : paas_wait_forwarding (pid);
  goto out;

kill_child:
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
out:
  for (int i = 0; i < 2; i++)
    if (sock[i] >= 0)
      close (sock[i]);
  if (console_fd >= 0)
    close (console_fd);
  paas_ns_close (&ns);
  if (root_fd >= 0)
    close (root_fd);
  if (cg.ops)
    paas_cgroup_release (&cg);
  paas_seccomp_prog_release (&prog);
  paas_process_free (proc);
  paas_config_free (cfg);
  paas_state_release (&st);
  return r;
}
