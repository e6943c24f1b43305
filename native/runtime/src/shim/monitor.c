/* The monitor loop: one container, started through the runtime, watched until the shim is
 * done with it.
 *
 *   run:      create (stdio = our pipes) -> read its pid -> note its memory cgroup -> start
 *   loop:     poll(signalfd, stdout, stderr, stdin fifo, timers)
 *   exit:     drain pipes -> OOM counters -> `delete --force` -> exit.json -> policy
 *   restart:  after the back-off delay, run again; status.json tracks every transition
 *   stop:     SIGTERM/SIGINT to the shim: forward the stop signal, SIGKILL after the stop
 *             timeout, never restart, then exit
 *   --tty:    the runtime hands the pty master over the console socket during create; its
 *             output is logged as stdout and copied to the attach clients, whose frames
 *             (tty.c) are typed into it or resize it
 *
 * The shim is a child subreaper: the runtime's create process exits and leaves the
 * container's init to us, so waitpid() gives its real exit status. Everything is
 * single-threaded and uses fixed buffers to keep the shim's RSS small. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

enum phase
{
  PHASE_RUNNING,
  PHASE_BACKOFF,
  PHASE_DONE,
};

struct attach_client
{
  int fd;   /* -1: free slot */
  bool eof; /* the client shut down its side: it still gets output */
  size_t len;
  unsigned char buf[SHIM_ATTACH_HEADER + SHIM_ATTACH_PAYLOAD_MAX];
};

struct monitor
{
  const struct shim_config *cfg;
  struct shim_log log;
  char policy[32];
  char fifo_path[PATH_MAX];
  int sync_fd;
  int sfd;
  int out_fd, err_fd; /* read ends of the container's stdout/stderr */
  int in_fd;          /* write end of the container's stdin */
  int fifo_fd;        /* read end of <state>/stdin */
  size_t in_len, in_off;
  int master_fd;      /* --tty: the pty master while the container runs */
  int attach_fd;      /* --tty: the listening attach socket */
  int reserve_fd;     /* for libpaas_accept_or_shed on attach_fd */
  size_t tin_len, tin_off; /* a client's input not yet written to the terminal */
  char attach_path[PATH_MAX];
  char tin_buf[SHIM_ATTACH_PAYLOAD_MAX];
  struct attach_client clients[SHIM_ATTACH_MAX];
  pid_t pid;       /* container init while it runs, else 0 */
  pid_t proxy_pid; /* paas-proxy (proxy.c), else 0 */
  struct shim_cgroup cg;
  enum phase phase;
  bool stop_requested;
  int64_t kill_at, restart_at, started_mono;
  struct timespec started_at;
  unsigned restart_count, backoff_ms;
  struct shim_exit last_exit;
  bool have_exit;
  char error[1024];
  char in_buf[4096];
};

static struct shim_log_stream out_stream = { .name = "stdout" };
static struct shim_log_stream err_stream = { .name = "stderr" };
static char io_buf[16384];

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* One line for the sync pipe and shim.log: control characters become spaces. */
static void
one_line (char *s)
{
  size_t n = strlen (s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
    s[--n] = '\0';
  for (char *p = s; *p; p++)
    if ((unsigned char) *p < 0x20)
      *p = ' ';
}

static void
report (struct monitor *m, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
report (struct monitor *m, const char *fmt, ...)
{
  char buf[2048];
  va_list ap;
  if (m->sync_fd < 0)
    return;
  va_start (ap, fmt);
  int n = vsnprintf (buf, sizeof buf - 1, fmt, ap);
  va_end (ap);
  if (n > (int) sizeof buf - 2)
    n = sizeof buf - 2;
  buf[n++] = '\n';
  /* The caller may be gone (that is the point of detaching): ignore EPIPE. */
  (void) libpaas_write_all (m->sync_fd, buf, n);
  close_fd (&m->sync_fd);
}

static void
write_status (struct monitor *m, const char *status)
{
  libpaas_error_t err = NULL;
  struct shim_status st = {
    .status = status,
    .id = m->cfg->id,
    .restart_policy = m->policy,
    .log_path = m->cfg->log_path,
    .shim_pid = getpid (),
    .pid = m->pid,
    .restart_count = m->restart_count,
    .stopped_by_user = m->stop_requested,
    .backoff_ms = m->phase == PHASE_BACKOFF ? m->backoff_ms : 0,
    .started_at = m->started_at,
    .error = m->error[0] ? m->error : NULL,
  };
  if (m->have_exit)
    {
      st.finished_at = m->last_exit.exited_at;
      st.exit_code = m->last_exit.exit_code;
    }
  if (shim_state_write_status (m->cfg->state_dir, &st, &err) < 0)
    {
      shim_warn ("%s", err->msg);
      libpaas_error_release (&err);
    }
}

static void
write_exit (struct monitor *m)
{
  libpaas_error_t err = NULL;
  if (shim_state_write_exit (m->cfg->state_dir, &m->last_exit, &err) < 0)
    {
      shim_warn ("%s", err->msg);
      libpaas_error_release (&err);
    }
}

static void
runtime_delete (struct monitor *m)
{
  libpaas_error_t err = NULL;
  const char *args[] = { "--force", m->cfg->id, NULL };
  int rc = shim_runtime_run (&m->cfg->runtime, "delete", args, SHIM_FD_NULL, STDERR_FILENO,
                             STDERR_FILENO, NULL, 0, &err);
  if (rc < 0)
    {
      shim_warn ("delete container `%s`: %s", m->cfg->id, err->msg);
      libpaas_error_release (&err);
    }
  else if (rc != 0)
    shim_warn ("delete container `%s`: runtime exited with status %d", m->cfg->id, rc);
}

/* ---- the terminal (--tty) ---- */

static void
client_drop (struct attach_client *c)
{
  close_fd (&c->fd);
  c->len = 0;
  c->eof = false;
}

static void
clients_drop_all (struct monitor *m)
{
  for (int i = 0; i < SHIM_ATTACH_MAX; i++)
    client_drop (&m->clients[i]);
}

/* Terminal output to every client. One that cannot take it now (its socket buffer full) is
 * disconnected rather than slowing the log or the other clients down. */
static void
broadcast (struct monitor *m, const char *data, size_t len)
{
  for (int i = 0; i < SHIM_ATTACH_MAX; i++)
    {
      struct attach_client *c = &m->clients[i];
      if (c->fd >= 0 && send (c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t) len)
        {
          shim_warn ("attach client %d gone or too slow: disconnected", c->fd);
          client_drop (c);
        }
    }
}

/* Pending input -> the master. EAGAIN keeps it pending (the process does not read its
 * terminal); any other error means the terminal is gone, and the input with it. */
static void
tty_flush_input (struct monitor *m)
{
  while (m->master_fd >= 0 && m->tin_off < m->tin_len)
    {
      ssize_t w = write (m->master_fd, m->tin_buf + m->tin_off, m->tin_len - m->tin_off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && errno == EAGAIN)
        return;
      if (w < 0)
        break;
      m->tin_off += w;
    }
  m->tin_len = m->tin_off = 0;
}

/* A client's complete frames: resizes at once, input once the previous input is written
 * (frames stay in order; a client waits while the terminal's input is full). */
static void
client_frames (struct monitor *m, struct attach_client *c)
{
  size_t off = 0;
  while (c->fd >= 0 && m->tin_len == 0)
    {
      struct shim_attach_frame f;
      int n = shim_attach_frame (c->buf + off, c->len - off, &f);
      if (n < 0)
        {
          shim_warn ("attach client %d: malformed frame: disconnected", c->fd);
          client_drop (c);
          return;
        }
      if (n == 0)
        break;
      if (f.type == SHIM_ATTACH_RESIZE)
        {
          struct winsize ws = { .ws_row = f.rows, .ws_col = f.cols };
          if (m->master_fd >= 0 && ioctl (m->master_fd, TIOCSWINSZ, &ws) < 0)
            shim_warn ("resize the terminal: %s", strerror (errno));
        }
      else
        {
          memcpy (m->tin_buf, f.payload, f.len);
          m->tin_len = f.len;
          m->tin_off = 0;
          tty_flush_input (m);
        }
      off += n;
    }
  if (off > 0)
    {
      memmove (c->buf, c->buf + off, c->len - off);
      c->len -= off;
    }
}

static void
clients_frames_all (struct monitor *m)
{
  for (int i = 0; i < SHIM_ATTACH_MAX; i++)
    if (m->clients[i].fd >= 0 && m->clients[i].len > 0)
      client_frames (m, &m->clients[i]);
}

static void
client_read (struct monitor *m, struct attach_client *c)
{
  ssize_t r = read (c->fd, c->buf + c->len, sizeof c->buf - c->len);
  if (r < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (r < 0)
    {
      client_drop (c);
      return;
    }
  if (r == 0)
    c->eof = true;
  c->len += r > 0 ? (size_t) r : 0;
  client_frames (m, c);
}

/* New clients get a free slot while a terminal exists; otherwise (nothing runs, or
 * SHIM_ATTACH_MAX clients already) they are closed at once: EOF. */
static void
attach_accept (struct monitor *m)
{
  for (;;)
    {
      int fd = libpaas_accept_or_shed (m->attach_fd, SOCK_NONBLOCK | SOCK_CLOEXEC, &m->reserve_fd);
      struct attach_client *c = NULL;
      if (fd < 0)
        return;
      for (int i = 0; m->master_fd >= 0 && i < SHIM_ATTACH_MAX && c == NULL; i++)
        if (m->clients[i].fd < 0)
          c = &m->clients[i];
      if (c == NULL)
        {
          close (fd);
          continue;
        }
      c->fd = fd;
      c->len = 0;
      c->eof = false;
    }
}

/* The terminal has no process left (EIO) or the run is over. */
static void
tty_close (struct monitor *m)
{
  if (m->master_fd >= 0)
    shim_log_flush (&m->log, &out_stream);
  close_fd (&m->master_fd);
  clients_drop_all (m);
  m->tin_len = m->tin_off = 0;
}

enum drain_result
{
  DRAIN_EOF,
  DRAIN_EMPTY, /* nothing more for now */
  DRAIN_MORE,  /* stopped after `budget` reads, to keep the loop fair */
};

static enum drain_result
drain (struct monitor *m, int fd, struct shim_log_stream *stream, int budget)
{
  while (budget-- > 0)
    {
      ssize_t r = read (fd, io_buf, sizeof io_buf);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return errno == EAGAIN ? DRAIN_EMPTY : DRAIN_EOF;
      if (r == 0)
        return DRAIN_EOF;
      shim_log_feed (&m->log, stream, io_buf, r);
      if (fd == m->master_fd)
        broadcast (m, io_buf, r);
    }
  return DRAIN_MORE;
}

static void
stream_eof (struct monitor *m, int *fd, struct shim_log_stream *stream)
{
  shim_log_flush (&m->log, stream);
  close_fd (fd);
}

static void
close_stdio (struct monitor *m, bool keep_output)
{
  if (keep_output)
    {
      /* The init is gone: what it wrote is already in the pipes. Anything still holding
       * the write ends (leftovers without a pid namespace) is killed by `delete --force`. */
      if (m->out_fd >= 0)
        drain (m, m->out_fd, &out_stream, 1 << 20);
      if (m->err_fd >= 0)
        drain (m, m->err_fd, &err_stream, 1 << 20);
      if (m->master_fd >= 0)
        drain (m, m->master_fd, &out_stream, 1 << 20);
      shim_log_flush (&m->log, &out_stream);
      shim_log_flush (&m->log, &err_stream);
    }
  tty_close (m);
  out_stream.len = err_stream.len = 0;
  close_fd (&m->out_fd);
  close_fd (&m->err_fd);
  close_fd (&m->in_fd);
  close_fd (&m->fifo_fd);
  m->in_len = m->in_off = 0;
}

static int
read_pid_file (const char *path, pid_t *pid, libpaas_error_t *err)
{
  char buf[32];
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return libpaas_make_error (err, errno, "open `%s`", path);
  ssize_t n = libpaas_read_all (fd, buf, sizeof buf - 1);
  if (n < 0)
    return libpaas_make_error (err, errno, "read `%s`", path);
  buf[n] = '\0';
  long v = strtol (buf, NULL, 10);
  if (v <= 0)
    return libpaas_make_error (err, 0, "read `%s`: no pid", path);
  *pid = (pid_t) v;
  return 0;
}

/* The runtime's create leaves the init to us only if nothing between us is a subreaper. */
static void
check_parent (pid_t pid)
{
  char path[64], buf[2048];
  snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = libpaas_read_all (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return;
  buf[n] = '\0';
  char *p = strstr (buf, "\nPPid:");
  if (p && strtol (p + 6, NULL, 10) != getpid ())
    shim_warn ("container init %d is not our child (PPid %ld): its exit status will be missed",
               (int) pid, strtol (p + 6, NULL, 10));
}

static int
run_container (struct monitor *m, libpaas_error_t *err)
{
  const struct shim_config *cfg = m->cfg;
  char pid_file[PATH_MAX], console_path[PATH_MAX], msg[1024];
  int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, inp[2] = { -1, -1 };
  cleanup_close int console_fd = -1;
  const char *create_args[10];
  int rc, k = 0;

  if (snprintf (pid_file, sizeof pid_file, "%s/%s", cfg->state_dir, SHIM_FILE_CONTAINER_PID)
      >= (int) sizeof pid_file)
    return libpaas_make_error (err, ENAMETOOLONG, "pid file in `%s`", cfg->state_dir);
  (void) unlink (pid_file);
  out_stream.len = err_stream.len = 0;
  if (cfg->tty)
    {
      console_fd = shim_unix_listen (cfg->state_dir, SHIM_FILE_CONSOLE, console_path,
                                     sizeof console_path, err);
      if (console_fd < 0)
        return libpaas_error_prepend (err, "create container `%s`", cfg->id);
    }

  if (pipe2 (outp, O_CLOEXEC) < 0 || pipe2 (errp, O_CLOEXEC) < 0
      || (cfg->stdin_pipe && pipe2 (inp, O_CLOEXEC) < 0))
    {
      int e = errno;
      for (int i = 0; i < 2; i++)
        {
          close_fd (&outp[i]);
          close_fd (&errp[i]);
          close_fd (&inp[i]);
        }
      return libpaas_make_error (err, e, "create stdio pipes");
    }

  create_args[k++] = "--bundle";
  create_args[k++] = cfg->bundle;
  create_args[k++] = "--pid-file";
  create_args[k++] = pid_file;
  if (cfg->tty)
    {
      create_args[k++] = "--console-socket";
      create_args[k++] = console_path;
    }
  create_args[k++] = cfg->id;
  create_args[k] = NULL;
  rc = shim_runtime_run (&cfg->runtime, "create", create_args,
                         inp[0] >= 0 ? inp[0] : SHIM_FD_NULL, outp[1], errp[1], NULL, 0, err);
  close_fd (&outp[1]);
  close_fd (&errp[1]);
  close_fd (&inp[0]);
  m->out_fd = outp[0];
  m->err_fd = errp[0];
  m->in_fd = inp[1];
  shim_set_nonblock (m->out_fd);
  shim_set_nonblock (m->err_fd);
  if (m->in_fd >= 0)
    shim_set_nonblock (m->in_fd);
  if (cfg->tty)
    {
      if (rc == 0)
        {
          m->master_fd = shim_console_receive (console_fd, err);
          rc = m->master_fd < 0 ? -1 : 0;
          if (m->master_fd >= 0)
            shim_set_nonblock (m->master_fd);
        }
      close_fd (&console_fd);
      (void) unlink (console_path);
    }

  if (rc != 0)
    {
      if (rc > 0)
        {
          /* create's stderr is the container's stderr pipe: its error message is there. */
          ssize_t n = read (m->err_fd, msg, sizeof msg - 1);
          msg[n > 0 ? n : 0] = '\0';
          if (n <= 0)
            {
              n = read (m->out_fd, msg, sizeof msg - 1);
              msg[n > 0 ? n : 0] = '\0';
            }
          one_line (msg);
          if (msg[0] == '\0')
            snprintf (msg, sizeof msg, "runtime exited with status %d", rc);
          libpaas_make_error (err, 0, "%s", msg);
        }
      close_stdio (m, false);
      runtime_delete (m);
      return libpaas_error_prepend (err, "create container `%s`", cfg->id);
    }

  if (read_pid_file (pid_file, &m->pid, err) < 0)
    {
      close_stdio (m, false);
      runtime_delete (m);
      return libpaas_error_prepend (err, "create container `%s`", cfg->id);
    }

  check_parent (m->pid);
  libpaas_error_t cgerr = NULL;
  if (shim_cgroup_find (m->pid, &m->cg, &cgerr) < 0)
    {
      shim_warn ("%s: OOM kills will not be detected", cgerr->msg);
      libpaas_error_release (&cgerr);
    }

  /* A client that connected while the container was created (the engine attaches as the shim
   * starts, as Docker attaches before start) is taken before the process runs: it sees the
   * terminal's first output too. */
  if (m->attach_fd >= 0 && m->master_fd >= 0)
    attach_accept (m);
  const char *start_args[] = { cfg->id, NULL };
  rc = shim_runtime_run (&cfg->runtime, "start", start_args, SHIM_FD_NULL, SHIM_FD_CAPTURE,
                         SHIM_FD_CAPTURE, msg, sizeof msg, err);
  if (rc != 0)
    {
      if (rc > 0)
        {
          one_line (msg);
          if (msg[0] == '\0')
            snprintf (msg, sizeof msg, "runtime exited with status %d", rc);
          libpaas_make_error (err, 0, "%s", msg);
        }
      kill (m->pid, SIGKILL);
      m->pid = 0;
      close_stdio (m, false);
      runtime_delete (m);
      return libpaas_error_prepend (err, "start container `%s`", cfg->id);
    }

  shim_wall_clock (&m->started_at);
  m->started_mono = shim_now_ms ();
  if (cfg->stdin_pipe)
    {
      m->fifo_fd = open (m->fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      if (m->fifo_fd < 0)
        shim_warn ("open `%s`: %s", m->fifo_path, strerror (errno));
    }
  return 0;
}

/* The end of one run, whether the init exited (wstatus valid) or could not be started. */
static void
finish_run (struct monitor *m, int exit_code, int sig, const char *error)
{
  struct shim_exit *ex = &m->last_exit;
  int64_t now = shim_now_ms ();

  if (error == NULL)
    {
      close_stdio (m, true);
      ex->oom_killed = shim_cgroup_oom_killed (&m->cg, sig);
      runtime_delete (m);
    }
  else
    ex->oom_killed = false;
  m->pid = 0;
  m->kill_at = 0;
  m->cg.version = 0;

  ex->exit_code = exit_code;
  ex->signal = sig;
  ex->started_at = m->started_at;
  shim_wall_clock (&ex->exited_at);
  ex->restart_count = m->restart_count;
  ex->error = error;
  ex->restarting = shim_restart_wanted (&m->cfg->restart, exit_code, m->restart_count,
                                        m->stop_requested);
  ex->stopped_by_user = m->stop_requested;
  m->have_exit = true;
  write_exit (m);
  if (error == NULL)
    m->error[0] = '\0';

  if (ex->restarting)
    {
      m->backoff_ms = shim_restart_backoff (m->backoff_ms, now - m->started_mono);
      m->restart_at = now + m->backoff_ms;
      m->phase = PHASE_BACKOFF;
      shim_warn ("container `%s` exited with status %d: restart %u in %u ms", m->cfg->id,
                 exit_code, m->restart_count + 1, m->backoff_ms);
      write_status (m, "restarting");
    }
  else
    {
      m->phase = PHASE_DONE;
      write_status (m, "exited");
    }
}

static void
restart (struct monitor *m)
{
  libpaas_error_t err = NULL;

  m->restart_count++;
  m->phase = PHASE_RUNNING;
  if (run_container (m, &err) < 0)
    {
      shim_warn ("restart %u: %s", m->restart_count, err->msg);
      snprintf (m->error, sizeof m->error, "%s", err->msg);
      libpaas_error_release (&err);
      shim_wall_clock (&m->started_at);
      m->started_mono = shim_now_ms ();
      finish_run (m, -1, 0, m->error);
      return;
    }
  write_status (m, "running");
}

static void
request_stop (struct monitor *m)
{
  bool first = !m->stop_requested;
  m->stop_requested = true;
  if (m->phase == PHASE_BACKOFF)
    {
      /* Nothing runs: the stop is immediate. exit.json said "restarting"; not any more. */
      m->phase = PHASE_DONE;
      m->last_exit.restarting = false;
      m->last_exit.stopped_by_user = true;
      write_exit (m);
      write_status (m, "exited");
      return;
    }
  if (m->pid <= 0)
    return;
  if (kill (m->pid, m->cfg->stop_signal) < 0 && errno != ESRCH)
    shim_warn ("kill %d: %s", (int) m->pid, strerror (errno));
  if (first)
    {
      m->kill_at = shim_now_ms () + (int64_t) m->cfg->stop_timeout_s * 1000;
      write_status (m, "stopping");
    }
}

static void
reap (struct monitor *m)
{
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, WNOHANG);
      if (pid <= 0)
        return;
      if (pid == m->proxy_pid)
        {
          /* loopback clients lose the container; the shim carries on monitoring it */
          shim_warn ("paas-proxy %d exited (status %d)", (int) pid, status);
          m->proxy_pid = 0;
          continue;
        }
      if (pid != m->pid || m->pid <= 0)
        continue; /* a runtime helper orphaned to us */
      if (WIFSIGNALED (status))
        finish_run (m, 128 + WTERMSIG (status), WTERMSIG (status), NULL);
      else if (WIFEXITED (status))
        finish_run (m, WEXITSTATUS (status), 0, NULL);
    }
}

static void
handle_signals (struct monitor *m)
{
  struct signalfd_siginfo si;
  while (read (m->sfd, &si, sizeof si) == sizeof si)
    {
      switch (si.ssi_signo)
        {
        case SIGCHLD:
          reap (m);
          break;
        case SIGTERM:
        case SIGINT:
          request_stop (m);
          break;
        default:
          if (m->pid > 0 && kill (m->pid, (int) si.ssi_signo) < 0 && errno != ESRCH)
            shim_warn ("kill %d: %s", (int) m->pid, strerror (errno));
        }
    }
}

/* <state>/stdin -> the container's stdin. The fifo's first writer closing it is EOF for the
 * container too (like docker's stdin-once). */
static void
pump_stdin (struct monitor *m, short fifo_events, short in_events)
{
  if (m->fifo_fd >= 0 && m->in_len == 0 && (fifo_events & (POLLIN | POLLHUP | POLLERR)))
    {
      ssize_t r = read (m->fifo_fd, m->in_buf, sizeof m->in_buf);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        {
          close_fd (&m->fifo_fd);
          close_fd (&m->in_fd);
          return;
        }
      if (r > 0)
        {
          m->in_len = r;
          m->in_off = 0;
          in_events = POLLOUT;
        }
    }
  if (m->in_fd >= 0 && m->in_len > 0 && (in_events & (POLLOUT | POLLERR | POLLHUP)))
    {
      ssize_t w = write (m->in_fd, m->in_buf + m->in_off, m->in_len - m->in_off);
      if (w < 0 && errno != EAGAIN && errno != EINTR)
        {
          /* EPIPE: the container closed its stdin. */
          close_fd (&m->in_fd);
          close_fd (&m->fifo_fd);
          m->in_len = m->in_off = 0;
          return;
        }
      if (w > 0)
        m->in_off += w;
      if (m->in_off == m->in_len)
        m->in_len = m->in_off = 0;
    }
}

static int
poll_timeout (struct monitor *m)
{
  int64_t now = shim_now_ms (), deadline = -1;
  if (m->pid > 0 && m->kill_at)
    deadline = m->kill_at;
  if (m->phase == PHASE_BACKOFF && (deadline < 0 || m->restart_at < deadline))
    deadline = m->restart_at;
  if (deadline < 0)
    return -1;
  return deadline <= now ? 0 : (int) (deadline - now);
}

static void
loop (struct monitor *m)
{
  while (m->phase != PHASE_DONE)
    {
      struct pollfd pfd[7 + SHIM_ATTACH_MAX];
      int n = 0, i_out = -1, i_err = -1, i_fifo = -1, i_in = -1, i_master = -1, i_attach = -1;
      int i_client[SHIM_ATTACH_MAX];

      pfd[n++] = (struct pollfd){ .fd = m->sfd, .events = POLLIN };
      if (m->out_fd >= 0)
        {
          i_out = n;
          pfd[n++] = (struct pollfd){ .fd = m->out_fd, .events = POLLIN };
        }
      if (m->err_fd >= 0)
        {
          i_err = n;
          pfd[n++] = (struct pollfd){ .fd = m->err_fd, .events = POLLIN };
        }
      if (m->fifo_fd >= 0 && m->in_fd >= 0 && m->in_len == 0)
        {
          i_fifo = n;
          pfd[n++] = (struct pollfd){ .fd = m->fifo_fd, .events = POLLIN };
        }
      if (m->in_fd >= 0 && m->in_len > 0)
        {
          i_in = n;
          pfd[n++] = (struct pollfd){ .fd = m->in_fd, .events = POLLOUT };
        }
      if (m->master_fd >= 0)
        {
          i_master = n;
          pfd[n++] = (struct pollfd){ .fd = m->master_fd,
                                      .events = POLLIN | (m->tin_len > 0 ? POLLOUT : 0) };
        }
      if (m->attach_fd >= 0)
        {
          i_attach = n;
          pfd[n++] = (struct pollfd){ .fd = m->attach_fd, .events = POLLIN };
        }
      for (int i = 0; i < SHIM_ATTACH_MAX; i++)
        {
          struct attach_client *c = &m->clients[i];
          i_client[i] = -1;
          if (c->fd >= 0 && !c->eof && m->tin_len == 0 && c->len < sizeof c->buf)
            {
              i_client[i] = n;
              pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
            }
        }

      int r = poll (pfd, n, poll_timeout (m));
      if (r < 0 && errno != EINTR)
        {
          shim_warn ("poll: %s", strerror (errno));
          sleep (1);
          continue;
        }
      if (r > 0)
        {
          if (i_out >= 0 && pfd[i_out].revents
              && drain (m, m->out_fd, &out_stream, 16) == DRAIN_EOF)
            stream_eof (m, &m->out_fd, &out_stream);
          if (i_err >= 0 && pfd[i_err].revents
              && drain (m, m->err_fd, &err_stream, 16) == DRAIN_EOF)
            stream_eof (m, &m->err_fd, &err_stream);
          if (i_fifo >= 0 || i_in >= 0)
            pump_stdin (m, i_fifo >= 0 ? pfd[i_fifo].revents : 0,
                        i_in >= 0 ? pfd[i_in].revents : 0);
          /* new clients first: output read in this round reaches them too */
          if (i_attach >= 0 && pfd[i_attach].revents)
            attach_accept (m);
          if (i_master >= 0 && m->master_fd >= 0 && pfd[i_master].revents)
            {
              if (pfd[i_master].revents & POLLOUT)
                {
                  tty_flush_input (m);
                  if (m->tin_len == 0)
                    clients_frames_all (m);
                }
              if (drain (m, m->master_fd, &out_stream, 16) == DRAIN_EOF)
                tty_close (m);
            }
          for (int i = 0; i < SHIM_ATTACH_MAX; i++)
            if (i_client[i] >= 0 && m->clients[i].fd >= 0 && pfd[i_client[i]].revents)
              client_read (m, &m->clients[i]);
          if (pfd[0].revents)
            handle_signals (m);
        }

      int64_t now = shim_now_ms ();
      if (m->pid > 0 && m->kill_at && now >= m->kill_at)
        {
          shim_warn ("container `%s` still running %us after the stop signal: SIGKILL",
                     m->cfg->id, m->cfg->stop_timeout_s);
          kill (m->pid, SIGKILL);
          m->kill_at = 0;
        }
      if (m->phase == PHASE_BACKOFF && now >= m->restart_at)
        restart (m);
    }
}

static int
setup (struct monitor *m, libpaas_error_t *err)
{
  const struct shim_config *cfg = m->cfg;
  sigset_t mask;

  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return libpaas_make_error (err, errno, "prctl `PR_SET_CHILD_SUBREAPER`");
  signal (SIGPIPE, SIG_IGN);
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGHUP);
  sigaddset (&mask, SIGQUIT);
  sigaddset (&mask, SIGUSR1);
  sigaddset (&mask, SIGUSR2);
  sigaddset (&mask, SIGWINCH);
  if (sigprocmask (SIG_BLOCK, &mask, NULL) < 0)
    return libpaas_make_error (err, errno, "block signals");
  m->sfd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (m->sfd < 0)
    return libpaas_make_error (err, errno, "create `signalfd`");

  if (shim_log_open (&m->log, cfg->log_path, cfg->log_max_size, cfg->log_max_files, err) < 0)
    return -1;

  if (cfg->stdin_pipe)
    {
      if (snprintf (m->fifo_path, sizeof m->fifo_path, "%s/%s", cfg->state_dir, SHIM_FILE_STDIN)
          >= (int) sizeof m->fifo_path)
        return libpaas_make_error (err, ENAMETOOLONG, "stdin fifo in `%s`", cfg->state_dir);
      if (mkfifo (m->fifo_path, 0600) < 0 && errno != EEXIST)
        return libpaas_make_error (err, errno, "mkfifo `%s`", m->fifo_path);
    }
  if (cfg->tty)
    {
      m->attach_fd = shim_unix_listen (cfg->state_dir, SHIM_FILE_ATTACH, m->attach_path,
                                       sizeof m->attach_path, err);
      if (m->attach_fd < 0)
        return -1;
    }
  return shim_state_write_pid (cfg->state_dir, getpid (), err);
}

int
shim_monitor_run (const struct shim_config *cfg, int sync_fd)
{
  static struct monitor mon;
  struct monitor *m = &mon;
  libpaas_error_t err = NULL;

  m->cfg = cfg;
  m->sync_fd = sync_fd;
  m->sfd = m->out_fd = m->err_fd = m->in_fd = m->fifo_fd = -1;
  m->master_fd = m->attach_fd = m->reserve_fd = -1;
  for (int i = 0; i < SHIM_ATTACH_MAX; i++)
    m->clients[i].fd = -1;
  m->log.fd = -1;
  m->phase = PHASE_RUNNING;
  shim_restart_format (&cfg->restart, m->policy, sizeof m->policy);

  /* One shim per state directory. The lock is held until the shim exits (the fd is never
   * closed; it is CLOEXEC so no runtime or container inherits it). On failure, the state
   * files belong to the other shim: touch none of them. */
  if (shim_state_lock (cfg->state_dir, &err) < 0)
    {
      report (m, "error %s", err->msg);
      libpaas_error_release (&err);
      return 1;
    }
  int rc = setup (m, &err);
  if (rc == 0)
    rc = shim_proxy_start (cfg, &m->proxy_pid, &err);
  if (rc == 0)
    {
      write_status (m, "starting");
      rc = run_container (m, &err);
    }
  if (rc < 0)
    {
      snprintf (m->error, sizeof m->error, "%s", err->msg);
      one_line (m->error);
      libpaas_error_release (&err);
      shim_warn ("%s", m->error);
      shim_proxy_stop (&m->proxy_pid);
      report (m, "error %s", m->error);
      write_status (m, "failed");
      if (m->attach_fd >= 0)
        (void) unlink (m->attach_path);
      shim_state_remove (cfg->state_dir, SHIM_FILE_PID);
      return 1;
    }
  write_status (m, "running");
  report (m, "started pid %d", (int) m->pid);

  loop (m);

  shim_proxy_stop (&m->proxy_pid);
  shim_log_close (&m->log);
  if (cfg->stdin_pipe)
    (void) unlink (m->fifo_path);
  if (m->attach_fd >= 0)
    (void) unlink (m->attach_path);
  shim_state_remove (cfg->state_dir, SHIM_FILE_PID);
  return 0;
}
