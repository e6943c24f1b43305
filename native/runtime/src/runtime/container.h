/* Container lifecycle: the verbs' real work (main.c only parses arguments). */
#ifndef PAAS_CONTAINER_H
#define PAAS_CONTAINER_H

#include <stdbool.h>
#include "error.h"

struct paas_global
{
  const char *root; /* state root, default /run/paas-runtime */
};

struct paas_create_opts
{
  const char *id;
  const char *bundle; /* NULL: cwd */
  const char *pid_file;
  const char *config_file; /* NULL: config.json */
  int preserve_fds;        /* fds 3..3+N-1 are passed to the container; others are closed */
  const char *console_socket; /* receives the pty master when process.terminal (terminal.h) */
};

int paas_container_create (const struct paas_global *g, const struct paas_create_opts *o,
                           libpaas_error_t *err);
int paas_container_start (const struct paas_global *g, const char *id, libpaas_error_t *err);
/* Returns the container's exit status (128+signal when killed), or < 0 on failure. */
int paas_container_run (const struct paas_global *g, const struct paas_create_opts *o,
                        bool detach, libpaas_error_t *err);
int paas_container_state (const struct paas_global *g, const char *id, libpaas_error_t *err);
int paas_container_kill (const struct paas_global *g, const char *id, int sig, bool all,
                         libpaas_error_t *err);
int paas_container_delete (const struct paas_global *g, const char *id, bool force,
                           libpaas_error_t *err);
int paas_container_list (const struct paas_global *g, bool quiet, libpaas_error_t *err);

struct paas_exec_opts
{
  const char *id;
  const char *process_file; /* --process process.json, or NULL */
  char **args;              /* the command, when no process file */
  int n_args;
  char **env;               /* extra --env entries */
  int n_env;
  const char *cwd;
  const char *user; /* "uid[:gid]" or NULL */
  const char *pid_file;
  int preserve_fds;
  bool detach;
  bool tty;                   /* --tty: the process gets a terminal (as process.terminal) */
  const char *console_socket; /* receives its pty master */
};
/* Returns the exec'd process's exit status (or 0 when detached), < 0 on failure. */
int paas_container_exec (const struct paas_global *g, const struct paas_exec_opts *o,
                         libpaas_error_t *err);

int paas_parse_signal (const char *s);

#endif
