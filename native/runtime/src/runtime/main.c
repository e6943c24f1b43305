/* paas-runtime: an OCI runtime CLI (a runc/crun-compatible subset).
 *
 *   paas-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] VERB ...
 *     create [--bundle DIR] [--pid-file F] [--console-socket S] ID
 *                                               set up, block before exec (exec.fifo)
 *     start ID                                  release a created container
 *     state ID                                  OCI state JSON (see state.h, cgroup.h)
 *     kill [--all] ID [SIGNAL]                  TERM/SIGTERM/15 style; default TERM
 *     delete [--force] ID                       remove state and cgroup (kill first with -f)
 *     run [--bundle DIR] [--pid-file F] [--detach] [--console-socket S] ID
 *                                               create+start+wait+delete; exit status of the
 *                                               container (128+N when killed by signal N)
 *     exec [--process F] [--env K=V] [--cwd D] [--user U[:G]] [--detach] [--pid-file F]
 *          [--tty --console-socket S] ID [--] CMD...
 *                                               run a process inside a running container
 *   A terminal (process.terminal, exec --tty) needs --console-socket: the socket receives the
 *   pty master (terminal.h). Unlike runc, run and exec take it in the foreground too (they
 *   wait and return the exit status; the socket's owner does the terminal I/O).
 *     list [-q]
 *   --version. Default root /run/paas-runtime; bundle defaults to the current directory.
 *   --systemd-cgroup is refused (cgroupfs only); --rootless/--criu are accepted and ignored.
 *
 * Errors: one line on stderr, "paas-runtime: verb `object`: reason", exit status 1 (and the
 * same line appended to --log). Each verb parses its own options and calls one
 * paas_container_* function (container.c). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "container.h"
#include "utils.h"

#define PAAS_RUNTIME_VERSION "0.1.0"

struct cli
{
  struct paas_global g;
  const char *log_file;
  bool log_json;
};

/* Matches "--name VALUE", "--name=VALUE" (and a short alias). Advances *i past the value. */
static bool
opt_value (int argc, char **argv, int *i, const char *name, const char *alias, const char **out)
{
  const char *a = argv[*i];
  size_t l = strlen (name);
  if (strncmp (a, name, l) == 0 && a[l] == '=')
    {
      *out = a + l + 1;
      return true;
    }
  if (strcmp (a, name) == 0 || (alias && strcmp (a, alias) == 0))
    {
      if (*i + 1 >= argc)
        {
          fprintf (stderr, "paas-runtime: option `%s` needs a value\n", name);
          exit (1);
        }
      *out = argv[++*i];
      return true;
    }
  return false;
}

static bool
opt_flag (const char *a, const char *name, const char *alias)
{
  return strcmp (a, name) == 0 || (alias && strcmp (a, alias) == 0);
}

static int
usage_error (const char *fmt, const char *arg);

/* A non-negative count (--preserve-fds); exits on anything else. */
static int
parse_count (const char *s)
{
  char *end;
  long n = strtol (s, &end, 10);
  if (*s == '\0' || *end != '\0' || n < 0 || n > 65536)
    exit (usage_error ("invalid count `%s`", s));
  return (int) n;
}

static int
usage_error (const char *fmt, const char *arg)
{
  fprintf (stderr, "paas-runtime: ");
  fprintf (stderr, fmt, arg);
  fputc ('\n', stderr);
  return 1;
}

static int
fail (struct cli *cli, libpaas_error_t *err)
{
  if (cli->log_file && *err)
    {
      FILE *f = fopen (cli->log_file, "ae");
      if (f)
        {
          char ts[64];
          time_t t = time (NULL);
          struct tm tm;
          gmtime_r (&t, &tm);
          strftime (ts, sizeof (ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
          if (cli->log_json)
            {
              fprintf (f, "{\"level\":\"error\",\"time\":\"%s\",\"msg\":\"", ts);
              for (const char *p = (*err)->msg; *p; p++)
                if (*p == '"' || *p == '\\')
                  fprintf (f, "\\%c", *p);
                else if ((unsigned char) *p < 0x20)
                  fprintf (f, "\\u%04x", *p);
                else
                  fputc (*p, f);
              fprintf (f, "\"}\n");
            }
          else
            fprintf (f, "%s error: %s\n", ts, (*err)->msg);
          fclose (f);
        }
    }
  return libpaas_error_print ("paas-runtime", err);
}

/* Options shared by create and run. Returns the index of the container id. */
static int
parse_create (int argc, char **argv, struct paas_create_opts *o, bool *detach)
{
  int i;
  const char *ignored;
  for (i = 1; i < argc && argv[i][0] == '-'; i++)
    {
      if (opt_value (argc, argv, &i, "--bundle", "-b", &o->bundle)
          || opt_value (argc, argv, &i, "--pid-file", NULL, &o->pid_file))
        continue;
      if (opt_value (argc, argv, &i, "--preserve-fds", NULL, &ignored))
        {
          o->preserve_fds = parse_count (ignored);
          continue;
        }
      if (opt_value (argc, argv, &i, "--console-socket", NULL, &o->console_socket))
        continue;
      if (detach && opt_flag (argv[i], "--detach", "-d"))
        {
          *detach = true;
          continue;
        }
      if (opt_flag (argv[i], "--no-pivot", NULL) || opt_flag (argv[i], "--no-new-keyring", NULL)
          || opt_flag (argv[i], "--keep", NULL))
        continue;
      exit (usage_error ("unknown option `%s`", argv[i]));
    }
  if (i != argc - 1)
    exit (usage_error ("%s: expected exactly one container id", argv[0]));
  o->id = argv[i];
  return i;
}

static int
cmd_create (struct cli *cli, int argc, char **argv)
{
  struct paas_create_opts o = { 0 };
  libpaas_error_t err = NULL;
  parse_create (argc, argv, &o, NULL);
  if (paas_container_create (&cli->g, &o, &err) < 0)
    return fail (cli, &err);
  return 0;
}

static int
cmd_run (struct cli *cli, int argc, char **argv)
{
  struct paas_create_opts o = { 0 };
  libpaas_error_t err = NULL;
  bool detach = false;
  int code;
  parse_create (argc, argv, &o, &detach);
  code = paas_container_run (&cli->g, &o, detach, &err);
  if (code < 0)
    return fail (cli, &err);
  return code;
}

static const char *
one_id (int argc, char **argv, int first)
{
  if (first != argc - 1)
    exit (usage_error ("%s: expected exactly one container id", argv[0]));
  return argv[first];
}

static int
cmd_start (struct cli *cli, int argc, char **argv)
{
  libpaas_error_t err = NULL;
  if (paas_container_start (&cli->g, one_id (argc, argv, 1), &err) < 0)
    return fail (cli, &err);
  return 0;
}

static int
cmd_state (struct cli *cli, int argc, char **argv)
{
  libpaas_error_t err = NULL;
  if (paas_container_state (&cli->g, one_id (argc, argv, 1), &err) < 0)
    return fail (cli, &err);
  return 0;
}

static int
cmd_kill (struct cli *cli, int argc, char **argv)
{
  libpaas_error_t err = NULL;
  bool all = false;
  int i, sig = 15;
  for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++)
    {
      if (opt_flag (argv[i], "--all", "-a"))
        all = true;
      else
        return usage_error ("unknown option `%s`", argv[i]);
    }
  if (i >= argc || argc - i > 2)
    return usage_error ("%s: usage: kill [--all] ID [SIGNAL]", argv[0]);
  if (argc - i == 2)
    {
      sig = paas_parse_signal (argv[i + 1]);
      if (sig < 0)
        return usage_error ("unknown signal `%s`", argv[i + 1]);
    }
  if (paas_container_kill (&cli->g, argv[i], sig, all, &err) < 0)
    return fail (cli, &err);
  return 0;
}

static int
cmd_delete (struct cli *cli, int argc, char **argv)
{
  libpaas_error_t err = NULL;
  bool force = false;
  int i;
  for (i = 1; i < argc && argv[i][0] == '-'; i++)
    {
      if (opt_flag (argv[i], "--force", "-f"))
        force = true;
      else
        return usage_error ("unknown option `%s`", argv[i]);
    }
  if (paas_container_delete (&cli->g, one_id (argc, argv, i), force, &err) < 0)
    return fail (cli, &err);
  return 0;
}

static int
cmd_list (struct cli *cli, int argc, char **argv)
{
  libpaas_error_t err = NULL;
  bool quiet = false;
  const char *ignored;
  for (int i = 1; i < argc; i++)
    {
      if (opt_flag (argv[i], "--quiet", "-q"))
        quiet = true;
      else if (!opt_value (argc, argv, &i, "--format", "-f", &ignored))
        return usage_error ("unknown option `%s`", argv[i]);
    }
  if (paas_container_list (&cli->g, quiet, &err) < 0)
    return fail (cli, &err);
  return 0;
}

static int
cmd_exec (struct cli *cli, int argc, char **argv)
{
  struct paas_exec_opts o = { 0 };
  libpaas_error_t err = NULL;
  cleanup_free char **env = libpaas_xmalloc0 (argc * sizeof (char *));
  const char *v;
  int i, code;
  o.env = env;
  for (i = 1; i < argc && argv[i][0] == '-'; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        break;
      if (opt_value (argc, argv, &i, "--process", "-p", &o.process_file)
          || opt_value (argc, argv, &i, "--cwd", NULL, &o.cwd)
          || opt_value (argc, argv, &i, "--user", "-u", &o.user)
          || opt_value (argc, argv, &i, "--pid-file", NULL, &o.pid_file)
          || opt_value (argc, argv, &i, "--console-socket", NULL, &o.console_socket))
        continue;
      if (opt_value (argc, argv, &i, "--preserve-fds", NULL, &v))
        {
          o.preserve_fds = parse_count (v);
          continue;
        }
      if (opt_value (argc, argv, &i, "--env", "-e", &v))
        {
          env[o.n_env++] = (char *) v;
          continue;
        }
      if (opt_flag (argv[i], "--detach", "-d"))
        {
          o.detach = true;
          continue;
        }
      if (opt_flag (argv[i], "--tty", "-t"))
        {
          o.tty = true;
          continue;
        }
      if (opt_flag (argv[i], "--no-new-privs", NULL))
        continue;
      return usage_error ("unknown option `%s`", argv[i]);
    }
  if (i < argc && strcmp (argv[i], "--") == 0)
    i++;
  if (i >= argc)
    return usage_error ("%s: container id missing", argv[0]);
  o.id = argv[i++];
  if (i < argc && strcmp (argv[i], "--") == 0)
    i++;
  o.args = argv + i;
  o.n_args = argc - i;
  code = paas_container_exec (&cli->g, &o, &err);
  if (code < 0)
    return fail (cli, &err);
  return code;
}

static const struct
{
  const char *name;
  int (*fn) (struct cli *, int, char **);
} verbs[] = {
  { "create", cmd_create }, { "start", cmd_start },   { "state", cmd_state },
  { "kill", cmd_kill },     { "delete", cmd_delete }, { "run", cmd_run },
  { "exec", cmd_exec },     { "list", cmd_list },
};

int
main (int argc, char **argv)
{
  struct cli cli = { .g = { .root = "/run/paas-runtime" } };
  const char *v;
  int i;

  for (i = 1; i < argc && argv[i][0] == '-'; i++)
    {
      if (opt_value (argc, argv, &i, "--root", NULL, &cli.g.root)
          || opt_value (argc, argv, &i, "--log", NULL, &cli.log_file)
          || opt_value (argc, argv, &i, "--rootless", NULL, &v)
          || opt_value (argc, argv, &i, "--criu", NULL, &v))
        continue;
      if (opt_value (argc, argv, &i, "--log-format", NULL, &v))
        {
          if (strcmp (v, "json") != 0 && strcmp (v, "text") != 0)
            return usage_error ("invalid `--log-format`: unknown format `%s`", v);
          cli.log_json = strcmp (v, "json") == 0;
          continue;
        }
      if (opt_flag (argv[i], "--debug", NULL))
        continue;
      if (opt_flag (argv[i], "--systemd-cgroup", NULL))
        return usage_error ("%s: the systemd cgroup manager is not supported; use cgroupfs "
                            "(drop --systemd-cgroup)", argv[i]);
      if (opt_flag (argv[i], "--version", "-v"))
        {
          printf ("paas-runtime version %s\nspec: 1.0.2\n", PAAS_RUNTIME_VERSION);
          return 0;
        }
      if (opt_flag (argv[i], "--help", "-h"))
        break;
      return usage_error ("unknown option `%s`", argv[i]);
    }
  if (i >= argc || strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
    {
      fprintf (i >= argc ? stderr : stdout,
               "usage: paas-runtime [--root DIR] [--log FILE] [--log-format text|json] "
               "COMMAND\ncommands: create start state kill delete run exec list\n");
      return i >= argc ? 1 : 0;
    }
  if (strcmp (argv[i], "version") == 0)
    {
      printf ("paas-runtime version %s\nspec: 1.0.2\n", PAAS_RUNTIME_VERSION);
      return 0;
    }
  for (size_t k = 0; k < sizeof (verbs) / sizeof (verbs[0]); k++)
    if (strcmp (argv[i], verbs[k].name) == 0)
      return verbs[k].fn (&cli, argc - i, argv + i);
  return usage_error ("unknown command `%s`", argv[i]);
}
