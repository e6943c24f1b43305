/* paas-shim: a per-container monitor (the role conmon plays for podman).
 *
 * One shim per container. It double-forks away from its caller, creates and starts the
 * container through an OCI runtime CLI (paas-runtime, runc, crun), holds the container's
 * stdio and writes it as json-file log lines, reaps the container's pid 1 as a child
 * subreaper, records how it exited (exit code, signal, OOM kill) in atomically replaced
 * files of its state directory, and applies the restart policy itself.
 *
 * Error idiom: src/common/error.h (last parameter `libpaas_error_t *err`, < 0 on failure). */
#ifndef PAAS_SHIM_H
#define PAAS_SHIM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"
#include "utils.h"

#define SHIM_MAX_RUNTIME_ARGS 16
#define SHIM_MAX_PUBLISH 64

/* State-directory file names: the engine depends on these (see src/shim/README.md). */
#define SHIM_FILE_PID "shim.pid"
#define SHIM_FILE_LOCK "shim.lock"
#define SHIM_FILE_STATUS "status.json"
#define SHIM_FILE_EXIT "exit.json"
#define SHIM_FILE_CONTAINER_PID "container.pid"
#define SHIM_FILE_STDIN "stdin"
#define SHIM_FILE_SHIM_LOG "shim.log"
#define SHIM_FILE_DEFAULT_LOG "container.log"
#define SHIM_FILE_CONSOLE "console.sock" /* --tty: the runtime's --console-socket, during create */
#define SHIM_FILE_ATTACH "attach.sock"   /* --tty: clients of the terminal */

/* restart.c: restart policy parsing and back-off math (pure functions). */
enum shim_restart_kind
{
  SHIM_RESTART_NO,
  SHIM_RESTART_ON_FAILURE,
  SHIM_RESTART_ALWAYS,
  SHIM_RESTART_UNLESS_STOPPED,
};

struct shim_restart_policy
{
  enum shim_restart_kind kind;
  unsigned max_retries; /* on-failure only; 0 = unlimited */
};

#define SHIM_BACKOFF_MIN_MS 100u
#define SHIM_BACKOFF_MAX_MS 10000u
#define SHIM_HEALTHY_RUN_MS 10000

int shim_restart_parse (const char *text, struct shim_restart_policy *policy, libpaas_error_t *err);
/* Canonical text ("no", "on-failure:3", ...) into buf. */
const char *shim_restart_format (const struct shim_restart_policy *policy, char *buf, size_t len);
/* Whether the container is restarted after exiting with exit_code (128+N for signal N, -1 when
 * it could not even be started), given the restarts already done and whether the user asked
 * the shim to stop. */
bool shim_restart_wanted (const struct shim_restart_policy *policy, int exit_code,
                          unsigned restarts_done, bool stop_requested);
/* Next delay: 100 ms first, doubling up to 10 s; back to 100 ms after a run of >= 10 s. */
unsigned shim_restart_backoff (unsigned previous_ms, int64_t ran_ms);

/* log.c: Docker json-file style writer with size-based rotation. */
#define SHIM_LOG_LINE_MAX (16 * 1024)

struct shim_log
{
  int fd;
  char path[PATH_MAX];
  off_t size;
  off_t max_size; /* 0 = never rotate */
  unsigned max_files;
};

struct shim_log_stream
{
  const char *name; /* "stdout" or "stderr" */
  size_t len;
  char buf[SHIM_LOG_LINE_MAX];
};

int shim_log_open (struct shim_log *log, const char *path, off_t max_size, unsigned max_files,
                   libpaas_error_t *err);
void shim_log_feed (struct shim_log *log, struct shim_log_stream *stream, const char *data,
                    size_t len);
/* Writes out a pending partial line (at EOF of the stream). */
void shim_log_flush (struct shim_log *log, struct shim_log_stream *stream);
void shim_log_close (struct shim_log *log);

/* state.c: the files of the state directory, each replaced atomically. */
struct shim_exit
{
  int exit_code;  /* 128+signal when killed; -1 when the container could not be (re)started */
  int signal;     /* 0 unless killed by a signal */
  bool oom_killed;
  bool restarting;
  bool stopped_by_user;
  unsigned restart_count;
  struct timespec started_at;
  struct timespec exited_at;
  const char *error; /* NULL or why a restart failed */
};

struct shim_status
{
  const char *status; /* running | restarting | stopping | exited | failed */
  const char *id;
  const char *restart_policy;
  const char *log_path;
  pid_t shim_pid;
  pid_t pid; /* container init, 0 when none */
  unsigned restart_count;
  bool stopped_by_user;
  unsigned backoff_ms;      /* when restarting */
  struct timespec started_at; /* tv_sec == 0: none */
  struct timespec finished_at;
  int exit_code; /* valid when finished_at is set */
  const char *error;
};

/* One shim per state directory: an flock held for the shim's life. Returns the lock fd. */
int shim_state_lock (const char *dir, libpaas_error_t *err);
int shim_state_write_pid (const char *dir, pid_t pid, libpaas_error_t *err);
int shim_state_write_status (const char *dir, const struct shim_status *st, libpaas_error_t *err);
int shim_state_write_exit (const char *dir, const struct shim_exit *ex, libpaas_error_t *err);
void shim_state_remove (const char *dir, const char *name);

/* cgroup.c: the container's memory cgroup and its OOM-kill counter. */
struct shim_cgroup
{
  char dir[PATH_MAX]; /* "" when unknown */
  int version;        /* 1, 2, or 0 when unknown */
  uint64_t oom_kills_at_start;
};

/* Resolves the memory cgroup directory of a live process. */
int shim_cgroup_find (pid_t pid, struct shim_cgroup *cg, libpaas_error_t *err);
/* After the container exited and before `delete`: did the kernel OOM-kill in it? */
bool shim_cgroup_oom_killed (const struct shim_cgroup *cg, int term_signal);

/* runtime.c: invoking the OCI runtime CLI. */
struct shim_runtime
{
  const char *path;
  const char *root; /* --root, or NULL */
  const char *extra[SHIM_MAX_RUNTIME_ARGS];
  int n_extra;
  unsigned timeout_s; /* per command; 0 = none */
};

#define SHIM_FD_NULL (-1)    /* /dev/null */
#define SHIM_FD_CAPTURE (-2) /* a pipe read into the capture buffer */

/* Runs `runtime [--root R] [extra...] verb args...` and waits for it. Returns its exit status
 * (128+N when killed by signal N), or < 0 when it could not be spawned. */
int shim_runtime_run (const struct shim_runtime *rt, const char *verb, const char *const *args,
                      int fd_in, int fd_out, int fd_err, char *capture, size_t capture_len,
                      libpaas_error_t *err);

/* tty.c: the container's terminal (--tty). */
#define SHIM_ATTACH_MAX 8            /* attach clients at once */
#define SHIM_ATTACH_HEADER 3         /* type, payload length (big-endian u16) */
#define SHIM_ATTACH_PAYLOAD_MAX 4096
#define SHIM_ATTACH_DATA 'd'   /* client -> shim: bytes typed into the terminal */
#define SHIM_ATTACH_RESIZE 'w' /* client -> shim: rows, cols (big-endian u16 each) */

struct shim_attach_frame
{
  char type;
  const unsigned char *payload;
  size_t len;
  unsigned short rows, cols; /* SHIM_ATTACH_RESIZE */
};

/* A listening unix socket DIR/NAME (non-blocking, close-on-exec); its path into path. */
int shim_unix_listen (const char *dir, const char *name, char *path, size_t path_len,
                      libpaas_error_t *err);
/* After the runtime's create returned: accepts its connection and returns the pty master it
 * sent (SCM_RIGHTS). */
int shim_console_receive (int listen_fd, libpaas_error_t *err);
/* Parses one client frame at buf: its size (> 0), 0 when incomplete, -1 when malformed
 * (unknown type, payload over the maximum, a resize that is not 4 bytes). */
int shim_attach_frame (const unsigned char *buf, size_t len, struct shim_attach_frame *frame);

/* util.c */
int64_t shim_now_ms (void); /* CLOCK_MONOTONIC */
void shim_wall_clock (struct timespec *ts);
/* RFC 3339 with nanoseconds, UTC: "2006-01-02T15:04:05.999999999Z"; buf >= 32 bytes. */
char *shim_format_time (char *buf, size_t len, const struct timespec *ts);
/* JSON string body of in[0..len) into out (>= 6 * len bytes); invalid UTF-8 becomes U+FFFD. */
size_t shim_json_escape (char *out, const char *in, size_t len);
/* Bytes at the end of buf[0..len) that start an incomplete UTF-8 sequence (0..3). */
size_t shim_utf8_incomplete_tail (const char *buf, size_t len);
int shim_signal_parse (const char *text);
const char *shim_signal_name (int sig);
int shim_set_nonblock (int fd);
void shim_close_from (int lowfd);
/* Diagnostics to the shim's own stderr (its shim.log once detached). */
void shim_warn (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* monitor.c */
struct shim_config
{
  struct shim_runtime runtime;
  const char *bundle;
  const char *id;
  const char *state_dir;
  const char *log_path;
  off_t log_max_size;
  unsigned log_max_files;
  struct shim_restart_policy restart;
  bool stdin_pipe;
  bool tty; /* the container has a terminal (process.terminal in its config.json) */
  int stop_signal;
  unsigned stop_timeout_s;
  const char *proxy_path;                /* paas-proxy; NULL: next to the shim */
  const char *publish[SHIM_MAX_PUBLISH]; /* tcp:LISTEN_IP:PORT:TARGET_IP:PORT for the proxy */
  int n_publish;
};

/* proxy.c: the container's paas-proxy for loopback clients of its published ports. Starts
 * it (a no-op without --publish) and waits until every port is bound; *pid is 0 if none. */
int shim_proxy_start (const struct shim_config *cfg, pid_t *pid, libpaas_error_t *err);
/* SIGTERM and reap; a no-op when *pid is 0. */
void shim_proxy_stop (pid_t *pid);

/* Runs the container until the shim is done with it; sync_fd receives "started pid N\n" or
 * "error MESSAGE\n" once. Returns the shim's exit status. */
int shim_monitor_run (const struct shim_config *cfg, int sync_fd);

#endif
