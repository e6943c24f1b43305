/*
 * spawn(file, args, input, timeoutMs, maxBuffer) -> Promise<{ pid, code, signal, stdout,
 * stderr, timedOut, overflowed }>: runs a program to completion, as child_process.execFile
 * does, without forking Node.
 *
 * Why not child_process: libuv starts every child with fork(2), which copies the calling
 * process's page tables on the event loop's thread, so each spawn costs in proportion to
 * Node's memory (1.2 ms at 50 MiB, 5 ms at 500 MiB here), and the engine runs several
 * programs per container start (ip, ipset, paas-shim). A node starting a thousand instances
 * spent most of its main thread in fork. posix_spawn(3) in glibc uses clone(CLONE_VM |
 * CLONE_VFORK): no copy, whatever Node's size.
 *
 * Each call gets a thread of its own (not the libuv pool, which file-system calls share: a
 * program that runs for seconds must not hold one of its four threads) that starts the
 * child, feeds its stdin, collects stdout and stderr, enforces the timeout (SIGTERM, as
 * execFile sends, then SIGKILL 5 s later), reaps it, and hands the result back to the event
 * loop through a thread-safe function, which also keeps the loop alive meanwhile, as a
 * child process handle does.
 *
 * The child gets the environment, default signal dispositions (Node ignores SIGPIPE, and an
 * ignored disposition would survive exec), an empty signal mask, and no descriptor but its
 * three pipes (closefrom 3).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>

#include "spawn.h"

extern char **environ;

/* After the SIGTERM of a timeout, how long the child has before SIGKILL. */
#define KILL_GRACE_MS 5000

struct buffer {
  char *data;
  size_t len, cap;
};

struct job {
  char *file;
  char **argv; /* argv[0] = file, NULL-terminated */
  size_t argc;
  char *input; /* NULL: stdin is /dev/null */
  size_t input_len;
  int64_t timeout_ms; /* 0: none */
  size_t max_buffer;
  napi_deferred deferred;
  napi_threadsafe_function tsfn;
  /* results */
  int spawn_errno;
  pid_t pid;
  int status;
  int timed_out, overflowed;
  struct buffer out, err;
};

static void free_job(struct job *job) {
  if (job == NULL) return;
  for (size_t i = 0; i < job->argc; i++) free(job->argv[i]);
  free(job->argv);
  free(job->input);
  free(job->out.data);
  free(job->err.data);
  free(job);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends what `fd` has to `buf` (up to max); 0 at EOF or error, 1 while it stays open. */
static int drain(int fd, struct buffer *buf, size_t max, int *overflowed) {
  char chunk[65536];
  ssize_t n = read(fd, chunk, sizeof chunk);
  if (n < 0) return errno == EINTR || errno == EAGAIN ? 1 : 0;
  if (n == 0) return 0;
  size_t keep = (size_t)n;
  if (buf->len + keep > max) {
    keep = max - buf->len;
    *overflowed = 1;
  }
  if (buf->len + keep > buf->cap) {
    size_t cap = buf->cap ? buf->cap : 4096;
    while (cap < buf->len + keep) cap *= 2;
    char *data = realloc(buf->data, cap);
    if (data == NULL) {
      *overflowed = 1;
      return 1;
    }
    buf->data = data;
    buf->cap = cap;
  }
  memcpy(buf->data + buf->len, chunk, keep);
  buf->len += keep;
  return 1;
}

/* Starts the child with pipes for its stdio; the parent's ends land in fds[0..2]. */
static int start(struct job *job, int fds[3]) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  int rc = 0;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  if ((job->input && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
    rc = errno;
    goto close_pipes;
  }
  posix_spawn_file_actions_init(&actions);
  if (job->input)
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  else
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  rc = posix_spawnp(&job->pid, job->file, &actions, &attr, job->argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc == 0) {
    fds[0] = in[1];
    fds[1] = out[0];
    fds[2] = err[0];
    in[1] = out[0] = err[0] = -1;
  }
close_pipes:
  for (int i = 0; i < 2; i++) {
    if (in[i] >= 0) close(in[i]);
    if (out[i] >= 0) close(out[i]);
    if (err[i] >= 0) close(err[i]);
  }
  return rc;
}

static void *run(void *arg) {
  struct job *job = arg;
  int fds[3] = {-1, -1, -1};
  job->spawn_errno = start(job, fds);
  if (job->spawn_errno == 0) {
    size_t written = 0;
    if (fds[0] >= 0) {
      fcntl(fds[0], F_SETFL, O_NONBLOCK);
      if (job->input_len == 0) {
        close(fds[0]);
        fds[0] = -1;
      }
    }
    int64_t deadline = job->timeout_ms > 0 ? now_ms() + job->timeout_ms : 0, killed_at = 0;
    while (fds[1] >= 0 || fds[2] >= 0) {
      struct pollfd p[3] = {{fds[0], POLLOUT, 0}, {fds[1], POLLIN, 0}, {fds[2], POLLIN, 0}};
      int wait = -1;
      if (deadline) {
        int64_t left = (killed_at ? killed_at + KILL_GRACE_MS : deadline) - now_ms();
        wait = left > 0 ? (int)left : 0;
      }
      int n = poll(p, 3, wait);
      if (n < 0 && errno != EINTR) break;
      if (n == 0 && deadline) {
        if (!killed_at) {
          job->timed_out = 1;
          kill(job->pid, SIGTERM);
          killed_at = now_ms();
        } else {
          kill(job->pid, SIGKILL);
          deadline = 0; /* the pipes close with it (unless a grandchild holds them: see below) */
        }
        continue;
      }
      if (fds[0] >= 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t w = write(fds[0], job->input + written, job->input_len - written);
        if (w > 0) written += (size_t)w;
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == job->input_len) {
          close(fds[0]);
          fds[0] = -1;
        }
      }
      for (int i = 1; i <= 2; i++) {
        if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
        int overflowed = 0;
        if (!drain(fds[i], i == 1 ? &job->out : &job->err, job->max_buffer, &overflowed)) {
          close(fds[i]);
          fds[i] = -1;
        }
        if (overflowed && !job->overflowed) {
          /* execFile's maxBuffer: the child is killed and the call fails */
          job->overflowed = 1;
          kill(job->pid, SIGTERM);
        }
      }
    }
    /* a child that leaves its pipes to a grandchild (a daemon) has closed them or exited by now */
    for (int i = 0; i < 3; i++)
      if (fds[i] >= 0) close(fds[i]);
    while (waitpid(job->pid, &job->status, 0) < 0 && errno == EINTR) {
    }
  }
  napi_threadsafe_function tsfn = job->tsfn; /* settle() frees the job */
  napi_call_threadsafe_function(tsfn, job, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

static napi_value buffer_of(napi_env env, const struct buffer *buf) {
  napi_value value;
  napi_create_buffer_copy(env, buf->len, buf->len ? buf->data : "", NULL, &value);
  return value;
}

/* On the event loop: settles the promise with what the thread found. */
static void settle(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  struct job *job = data;
  if (env == NULL) { /* the environment is going away */
    free_job(job);
    return;
  }
  napi_value result, value;
  if (job->spawn_errno != 0) {
    const char *code = strerrorname_np(job->spawn_errno);
    if (code == NULL) code = "EUNKNOWN";
    char message[4352];
    snprintf(message, sizeof message, "spawn %s %s", job->file, code);
    napi_value js_code, js_message;
    napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code);
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_message);
    napi_create_error(env, js_code, js_message, &result);
    napi_create_int32(env, -job->spawn_errno, &value);
    napi_set_named_property(env, result, "errno", value);
    napi_create_string_utf8(env, "spawn", NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, result, "syscall", value);
    napi_create_string_utf8(env, job->file, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, result, "path", value);
    napi_reject_deferred(env, job->deferred, result);
    free_job(job);
    return;
  }
  napi_create_object(env, &result);
  napi_create_int32(env, job->pid, &value);
  napi_set_named_property(env, result, "pid", value);
  if (WIFEXITED(job->status))
    napi_create_int32(env, WEXITSTATUS(job->status), &value);
  else
    napi_get_null(env, &value);
  napi_set_named_property(env, result, "code", value);
  if (WIFSIGNALED(job->status)) {
    const char *abbrev = sigabbrev_np(WTERMSIG(job->status));
    char name[32];
    snprintf(name, sizeof name, "SIG%s", abbrev ? abbrev : "UNKNOWN");
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &value);
  } else {
    napi_get_null(env, &value);
  }
  napi_set_named_property(env, result, "signal", value);
  napi_set_named_property(env, result, "stdout", buffer_of(env, &job->out));
  napi_set_named_property(env, result, "stderr", buffer_of(env, &job->err));
  napi_get_boolean(env, job->timed_out, &value);
  napi_set_named_property(env, result, "timedOut", value);
  napi_get_boolean(env, job->overflowed, &value);
  napi_set_named_property(env, result, "overflowed", value);
  napi_resolve_deferred(env, job->deferred, result);
  free_job(job);
}

/* A JS string argument, copied; NULL (with a pending exception) if it is not one or holds NUL. */
static char *dup_string(napi_env env, napi_value value, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (s == NULL) {
    napi_throw_error(env, "ENOMEM", "spawn: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, value, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "spawn arguments must not contain NUL bytes");
    return NULL;
  }
  return s;
}

napi_value fsx_spawn(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t given = 5;
  if (napi_get_cb_info(env, info, &given, argv, NULL, NULL) != napi_ok || given < 5) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawn(file, args, input, timeoutMs, maxBuffer)");
    return NULL;
  }
  struct job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "spawn: out of memory");
    return NULL;
  }
  bool is_array = false, is_buffer = false;
  uint32_t nargs = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    free_job(job);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "args must be an array of strings");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &nargs);
  job->argv = calloc((size_t)nargs + 2, sizeof *job->argv);
  if (job->argv == NULL || (job->file = dup_string(env, argv[0], "file must be a string")) == NULL) {
    if (job->argv == NULL) napi_throw_error(env, "ENOMEM", "spawn: out of memory");
    free_job(job);
    return NULL;
  }
  job->argv[0] = strdup(job->file);
  job->argc = 1;
  for (uint32_t i = 0; i < nargs; i++) {
    napi_value item;
    napi_get_element(env, argv[1], i, &item);
    char *s = dup_string(env, item, "args must be an array of strings");
    if (s == NULL) {
      free_job(job);
      return NULL;
    }
    job->argv[job->argc++] = s;
  }
  if (napi_is_buffer(env, argv[2], &is_buffer) == napi_ok && is_buffer) {
    void *data = NULL;
    size_t len = 0;
    napi_get_buffer_info(env, argv[2], &data, &len);
    job->input = malloc(len ? len : 1);
    if (job->input == NULL) {
      free_job(job);
      napi_throw_error(env, "ENOMEM", "spawn: out of memory");
      return NULL;
    }
    if (len) memcpy(job->input, data, len);
    job->input_len = len;
  }
  double max_buffer = 0;
  if (napi_get_value_int64(env, argv[3], &job->timeout_ms) != napi_ok || job->timeout_ms < 0 ||
      napi_get_value_double(env, argv[4], &max_buffer) != napi_ok || !(max_buffer >= 0)) {
    free_job(job);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "timeoutMs and maxBuffer must be numbers of at least 0");
    return NULL;
  }
  job->max_buffer = max_buffer > (double)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)max_buffer;

  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "fsx.spawn", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, settle, &job->tsfn) != napi_ok) {
    napi_value err, msg;
    napi_create_string_utf8(env, "spawn: cannot create a thread-safe function", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
    free_job(job);
    return promise;
  }
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int rc = pthread_create(&thread, &attr, run, job);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    napi_release_threadsafe_function(job->tsfn, napi_tsfn_abort);
    napi_value err, msg;
    napi_create_string_utf8(env, "spawn: cannot start a thread", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
    free_job(job);
  }
  return promise;
}
