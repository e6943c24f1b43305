/* paas-shim CLI: parse options, detach, hand over to the monitor.
 *
 * Detaching: the caller's process forks; the child starts a new session and forks again;
 * the grandchild is the shim (not a session leader, parent gone: init or a subreaper adopts
 * it). The caller waits on a sync pipe until the shim writes "started pid N" (exit 0, the
 * line is printed on stdout) or "error MESSAGE" (printed on stderr, exit 1). */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHIM_VERSION "0.1.0"

static const char usage_text[] =
    "Usage: paas-shim --runtime PATH --bundle DIR --id ID --state-dir DIR [OPTIONS]\n"
    "\n"
    "Starts container ID from bundle DIR through an OCI runtime (paas-runtime, runc, crun),\n"
    "detached, and monitors it: stdio to a JSON-lines log, exit status and OOM kill to\n"
    "DIR/exit.json, current state to DIR/status.json, restarts by policy.\n"
    "Returns once the container started: prints \"started pid N\", or the error, exit 1.\n"
    "\n"
    "  --runtime PATH          OCI runtime binary (searched in PATH without a slash)\n"
    "  --runtime-root DIR      passed as --root DIR to every runtime call\n"
    "  --runtime-arg ARG       extra global runtime option (repeatable)\n"
    "  --runtime-timeout SECS  kill a runtime command running longer (default 60, 0 = never)\n"
    "  --bundle DIR            OCI bundle (config.json + rootfs)\n"
    "  --id ID                 container id\n"
    "  --state-dir DIR         shim state (created if missing): shim.pid, status.json, exit.json\n"
    "  --log FILE              container log (default STATE-DIR/container.log)\n"
    "  --log-max-size BYTES    rotate at this size (k/m/g suffixes; default 0 = never)\n"
    "  --log-max-files N       files kept including the current one (default 1)\n"
    "  --restart POLICY        no | on-failure[:N] | always | unless-stopped (default no)\n"
    "  --stdin                 give the container a stdin pipe fed from the fifo STATE-DIR/stdin\n"
    "  --tty                   the config has process.terminal: take the pty master from the\n"
    "                          runtime (--console-socket), log its output, serve it to clients\n"
    "                          of STATE-DIR/attach.sock (input, output, resize)\n"
    "  --stop-signal SIG       signal forwarded on SIGTERM/SIGINT to the shim (default TERM)\n"
    "  --stop-timeout SECS     SIGKILL this long after the stop signal (default 10)\n"
    "  --publish SPEC          tcp:LISTEN_IP:PORT:TARGET_IP:PORT served by a paas-proxy the\n"
    "                          shim runs while it monitors the container (repeatable)\n"
    "  --proxy PATH            the paas-proxy binary (default: next to paas-shim)\n"
    "  --foreground            do not detach (debugging)\n"
    "\n"
    "Signals: SIGTERM or SIGINT = stop (forward the stop signal, never restart, exit after\n"
    "the container). SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH are forwarded as they are.\n";

enum
{
  OPT_RUNTIME = 256,
  OPT_RUNTIME_ROOT,
  OPT_RUNTIME_ARG,
  OPT_RUNTIME_TIMEOUT,
  OPT_BUNDLE,
  OPT_ID,
  OPT_STATE_DIR,
  OPT_LOG,
  OPT_LOG_MAX_SIZE,
  OPT_LOG_MAX_FILES,
  OPT_RESTART,
  OPT_STDIN,
  OPT_TTY,
  OPT_STOP_SIGNAL,
  OPT_STOP_TIMEOUT,
  OPT_FOREGROUND,
  OPT_PUBLISH,
  OPT_PROXY,
  OPT_VERSION,
};

static const struct option options[] = {
  { "runtime", required_argument, NULL, OPT_RUNTIME },
  { "runtime-root", required_argument, NULL, OPT_RUNTIME_ROOT },
  { "runtime-arg", required_argument, NULL, OPT_RUNTIME_ARG },
  { "runtime-timeout", required_argument, NULL, OPT_RUNTIME_TIMEOUT },
  { "bundle", required_argument, NULL, OPT_BUNDLE },
  { "id", required_argument, NULL, OPT_ID },
  { "state-dir", required_argument, NULL, OPT_STATE_DIR },
  { "log", required_argument, NULL, OPT_LOG },
  { "log-max-size", required_argument, NULL, OPT_LOG_MAX_SIZE },
  { "log-max-files", required_argument, NULL, OPT_LOG_MAX_FILES },
  { "restart", required_argument, NULL, OPT_RESTART },
  { "stdin", no_argument, NULL, OPT_STDIN },
  { "tty", no_argument, NULL, OPT_TTY },
  { "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
  { "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
  { "foreground", no_argument, NULL, OPT_FOREGROUND },
  { "publish", required_argument, NULL, OPT_PUBLISH },
  { "proxy", required_argument, NULL, OPT_PROXY },
  { "version", no_argument, NULL, OPT_VERSION },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static int
parse_size (const char *text, off_t *out, libpaas_error_t *err)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull (text, &end, 10);
  unsigned long long mult = 1;
  if (end == text || errno != 0 || *text == '-')
    return libpaas_make_error (err, 0, "parse size `%s`", text);
  switch (*end)
    {
    case '\0':
      break;
    case 'k':
    case 'K':
      mult = 1024ULL;
      end++;
      break;
    case 'm':
    case 'M':
      mult = 1024ULL * 1024;
      end++;
      break;
    case 'g':
    case 'G':
      mult = 1024ULL * 1024 * 1024;
      end++;
      break;
    default:
      return libpaas_make_error (err, 0, "parse size `%s`", text);
    }
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end != '\0' || v > (1ULL << 50) / mult)
    return libpaas_make_error (err, 0, "parse size `%s`", text);
  *out = (off_t) (v * mult);
  return 0;
}

static int
parse_uint (const char *what, const char *text, unsigned max, unsigned *out, libpaas_error_t *err)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul (text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || *text == '-' || v > max)
    return libpaas_make_error (err, 0, "parse %s `%s`", what, text);
  *out = (unsigned) v;
  return 0;
}

/* The shim does chdir("/"): every path it keeps must be absolute. */
static char *
absolute (const char *path)
{
  char cwd[PATH_MAX];
  if (path[0] == '/' || getcwd (cwd, sizeof cwd) == NULL)
    return libpaas_xstrdup (path);
  return libpaas_xasprintf ("%s/%s", cwd, path);
}

static int
parse_args (int argc, char **argv, struct shim_config *cfg, bool *foreground,
            libpaas_error_t *err)
{
  const char *log_path = NULL;
  int c;

  memset (cfg, 0, sizeof *cfg);
  cfg->log_max_files = 1;
  cfg->stop_signal = SIGTERM;
  cfg->stop_timeout_s = 10;
  cfg->runtime.timeout_s = 60;
  *foreground = false;

  while ((c = getopt_long (argc, argv, "h", options, NULL)) != -1)
    {
      switch (c)
        {
        case OPT_RUNTIME:
          cfg->runtime.path = strchr (optarg, '/') ? absolute (optarg) : optarg;
          break;
        case OPT_RUNTIME_ROOT:
          cfg->runtime.root = absolute (optarg);
          break;
        case OPT_RUNTIME_ARG:
          if (cfg->runtime.n_extra >= SHIM_MAX_RUNTIME_ARGS)
            return libpaas_make_error (err, 0, "too many `--runtime-arg` (max %d)",
                                       SHIM_MAX_RUNTIME_ARGS);
          cfg->runtime.extra[cfg->runtime.n_extra++] = optarg;
          break;
        case OPT_RUNTIME_TIMEOUT:
          if (parse_uint ("--runtime-timeout", optarg, 86400, &cfg->runtime.timeout_s, err) < 0)
            return -1;
          break;
        case OPT_BUNDLE:
          cfg->bundle = absolute (optarg);
          break;
        case OPT_ID:
          cfg->id = optarg;
          break;
        case OPT_STATE_DIR:
          cfg->state_dir = absolute (optarg);
          break;
        case OPT_LOG:
          log_path = optarg;
          break;
        case OPT_LOG_MAX_SIZE:
          if (parse_size (optarg, &cfg->log_max_size, err) < 0)
            return -1;
          break;
        case OPT_LOG_MAX_FILES:
          if (parse_uint ("--log-max-files", optarg, 1000, &cfg->log_max_files, err) < 0)
            return -1;
          if (cfg->log_max_files == 0)
            cfg->log_max_files = 1;
          break;
        case OPT_RESTART:
          if (shim_restart_parse (optarg, &cfg->restart, err) < 0)
            return -1;
          break;
        case OPT_STDIN:
          cfg->stdin_pipe = true;
          break;
        case OPT_TTY:
          cfg->tty = true;
          break;
        case OPT_STOP_SIGNAL:
          cfg->stop_signal = shim_signal_parse (optarg);
          if (cfg->stop_signal < 0)
            return libpaas_make_error (err, 0, "parse signal `%s`", optarg);
          break;
        case OPT_STOP_TIMEOUT:
          if (parse_uint ("--stop-timeout", optarg, 86400, &cfg->stop_timeout_s, err) < 0)
            return -1;
          break;
        case OPT_FOREGROUND:
          *foreground = true;
          break;
        case OPT_PUBLISH:
          if (cfg->n_publish >= SHIM_MAX_PUBLISH)
            return libpaas_make_error (err, 0, "too many `--publish` (max %d)", SHIM_MAX_PUBLISH);
          cfg->publish[cfg->n_publish++] = optarg;
          break;
        case OPT_PROXY:
          cfg->proxy_path = absolute (optarg);
          break;
        case OPT_VERSION:
          printf ("paas-shim %s\n", SHIM_VERSION);
          exit (0);
        case 'h':
          fputs (usage_text, stdout);
          exit (0);
        default:
          return libpaas_make_error (err, 0, "bad usage (see `paas-shim --help`)");
        }
    }
  if (optind < argc)
    return libpaas_make_error (err, 0, "unexpected argument `%s`", argv[optind]);
  if (!cfg->runtime.path || !cfg->bundle || !cfg->id || !cfg->state_dir)
    return libpaas_make_error (err, 0,
                               "--runtime, --bundle, --id and --state-dir are required");
  if (cfg->id[0] == '\0' || strlen (cfg->id) > 1024)
    return libpaas_make_error (err, 0, "bad container id `%s`", cfg->id);
  if (cfg->tty && cfg->stdin_pipe)
    return libpaas_make_error (err, 0, "`--stdin` with `--tty`: a terminal's input comes "
                               "through the attach socket");
  if (cfg->n_publish > 0 && cfg->proxy_path == NULL)
    {
      char self[PATH_MAX];
      ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
      if (n <= 0)
        return libpaas_make_error (err, errno, "readlink `/proc/self/exe`");
      self[n] = '\0';
      char *slash = strrchr (self, '/');
      *(slash ? slash + 1 : self) = '\0';
      cfg->proxy_path = libpaas_xasprintf ("%spaas-proxy", self);
    }
  cfg->log_path = log_path ? absolute (log_path)
                           : libpaas_xasprintf ("%s/%s", cfg->state_dir, SHIM_FILE_DEFAULT_LOG);
  return 0;
}

/* In the caller: wait for the shim's verdict on the sync pipe. */
static int
wait_for_shim (pid_t child, int fd)
{
  char buf[4096];
  ssize_t n;
  int status;

  while (waitpid (child, &status, 0) < 0 && errno == EINTR)
    ;
  n = libpaas_read_all (fd, buf, sizeof buf - 1);
  close (fd);
  if (n < 0)
    n = 0;
  buf[n] = '\0';
  if (strncmp (buf, "started ", 8) == 0)
    {
      fputs (buf, stdout);
      return 0;
    }
  if (strncmp (buf, "error ", 6) == 0)
    fprintf (stderr, "paas-shim: %s", buf + 6);
  else
    fprintf (stderr, "paas-shim: the shim exited before the container started\n");
  return 1;
}

static int
redirect_stdio (const char *state_dir, libpaas_error_t *err)
{
  char path[PATH_MAX];
  cleanup_close int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0)
    return libpaas_make_error (err, errno, "open `/dev/null`");
  snprintf (path, sizeof path, "%s/%s", state_dir, SHIM_FILE_SHIM_LOG);
  cleanup_close int log = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log < 0)
    return libpaas_make_error (err, errno, "open `%s`", path);
  if (dup2 (null, STDIN_FILENO) < 0 || dup2 (null, STDOUT_FILENO) < 0
      || dup2 (log, STDERR_FILENO) < 0)
    return libpaas_make_error (err, errno, "redirect stdio");
  return 0;
}

int
main (int argc, char **argv)
{
  static struct shim_config cfg;
  libpaas_error_t err = NULL;
  bool foreground;
  int sync_fd = -1;

  /* Nothing inherited from the caller may leak into the shim or the containers. */
  shim_close_from (3);

  if (parse_args (argc, argv, &cfg, &foreground, &err) < 0)
    return libpaas_error_print ("paas-shim", &err);
  if (libpaas_mkdir_p (cfg.state_dir, 0700, &err) < 0)
    return libpaas_error_print ("paas-shim", &err);

  if (!foreground)
    {
      int p[2];
      if (pipe2 (p, O_CLOEXEC) < 0)
        {
          libpaas_make_error (&err, errno, "create sync pipe");
          return libpaas_error_print ("paas-shim", &err);
        }
      fflush (NULL);
      pid_t child = fork ();
      if (child < 0)
        {
          libpaas_make_error (&err, errno, "fork");
          return libpaas_error_print ("paas-shim", &err);
        }
      if (child > 0)
        {
          close (p[1]);
          return wait_for_shim (child, p[0]);
        }
      close (p[0]);
      if (setsid () < 0)
        _exit (1);
      child = fork ();
      if (child < 0)
        {
          dprintf (p[1], "error fork: %s\n", strerror (errno));
          _exit (1);
        }
      if (child > 0)
        _exit (0);
      sync_fd = p[1];
      if (redirect_stdio (cfg.state_dir, &err) < 0)
        {
          dprintf (sync_fd, "error %s\n", err->msg);
          _exit (1);
        }
      if (chdir ("/") < 0)
        _exit (1);
    }
  else
    sync_fd = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  return shim_monitor_run (&cfg, sync_fd);
}
