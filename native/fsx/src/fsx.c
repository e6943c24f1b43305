/*
 * fsx — the few file-system calls that layers need and Node's fs lacks: mknod for device
 * nodes and overlay whiteouts (0/0 char devices), the l*xattr family, which acts on
 * a symlink itself instead of its target (image layers carry xattrs on symlinks too, and
 * following a link during extraction would be a way out of the root), and mount/umount2
 * for snapshot overlays (a syscall instead of spawning mount(8) on every container start),
 * isMountRoot (statx) to tell whether a container's rootfs is mounted, usernsFd, idmapTree and
 * moveMount for idmapped layers and volumes of containers in user namespaces, and spawn
 * (spawn.c), which runs a program without forking Node.
 *
 * The file-system calls are synchronous: each is one metadata syscall, cheaper than a hop to the
 * libuv thread pool, and the callers (diff, extraction) walk entries one at a time anyway.
 *
 * Errors are thrown like Node's own fs errors: message "ENOENT: No such file or directory,
 * lgetxattr '/x'", with `code`, `errno` (negative, as libuv reports it), `syscall` and `path`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <node_api.h>

#include "spawn.h"

#define PATH_BUF 4096
#define NAME_BUF 256 /* XATTR_NAME_MAX + 1 */
#define XATTR_SMALL 4096

static inline void free_ptr(void *p) { free(*(void **)p); }
#define cleanup_free __attribute__((cleanup(free_ptr)))

/* Throws a Node-style error for errno `err` raised by `syscall` on `path`. */
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  const char *code = strerrorname_np(err);
  if (code == NULL) code = "EUNKNOWN";
  char message[PATH_BUF + 128];
  snprintf(message, sizeof message, "%s: %s, %s '%s'", code, strerror(err), syscall, path);

  napi_value js_code, js_message, error, value;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_message);
  napi_create_error(env, js_code, js_message, &error);
  napi_create_int32(env, -err, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "syscall", value);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "path", value);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

/* Reads `argc` arguments; returns false (with a pending exception) if fewer were given. */
static int get_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv) {
  size_t given = argc;
  if (napi_get_cb_info(env, info, &given, argv, NULL, NULL) != napi_ok || given < argc) {
    throw_type(env, "missing arguments");
    return 0;
  }
  return 1;
}

/*
 * Copies a JS string, or a Buffer's bytes (a file name that is not UTF-8, as Node's fs
 * takes them), into buf; NUL inside is refused, as Node's fs does.
 */
static int get_string(napi_env env, napi_value value, char *buf, size_t size, const char *what) {
  size_t len = 0;
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) == napi_ok && is_buffer) {
    void *data = NULL;
    if (napi_get_buffer_info(env, value, &data, &len) != napi_ok) {
      throw_type(env, what);
      return 0;
    }
    if (len + 1 >= size) {
      throw_errno(env, ENAMETOOLONG, "fsx", "(buffer)");
      return 0;
    }
    memcpy(buf, data, len);
    buf[len] = '\0';
  } else if (napi_get_value_string_utf8(env, value, buf, size, &len) != napi_ok) {
    throw_type(env, what);
    return 0;
  }
  if (len + 1 >= size) {
    throw_errno(env, ENAMETOOLONG, "fsx", buf);
    return 0;
  }
  if (strlen(buf) != len) {
    throw_type(env, "string arguments must not contain NUL bytes");
    return 0;
  }
  return 1;
}

static int get_uint32(napi_env env, napi_value value, uint32_t *out, const char *what) {
  if (napi_get_value_uint32(env, value, out) != napi_ok) {
    throw_type(env, what);
    return 0;
  }
  return 1;
}

/* An id or a count in [1, 2^32 - 2]: napi_get_value_uint32 would wrap -1 and truncate 1.5. */
static int get_id(napi_env env, napi_value value, uint32_t *out, const char *what) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 1 && d <= UINT32_MAX - 1) || d != (double)(uint32_t)d) {
    throw_type(env, what);
    return 0;
  }
  *out = (uint32_t)d;
  return 1;
}

/* mknod(path, mode, major, minor): mode carries the type (S_IFCHR, S_IFBLK, S_IFIFO). */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[PATH_BUF];
  uint32_t mode, major, minor;
  if (!get_args(env, info, 4, argv) || !get_string(env, argv[0], path, sizeof path, "path must be a string") ||
      !get_uint32(env, argv[1], &mode, "mode must be a number") ||
      !get_uint32(env, argv[2], &major, "major must be a number") ||
      !get_uint32(env, argv[3], &minor, "minor must be a number"))
    return NULL;
  if (mknod(path, (mode_t)mode, makedev(major, minor)) < 0) return throw_errno(env, errno, "mknod", path);
  return NULL;
}

/* lgetxattr(path, name) -> Buffer, or null when the attribute is absent. */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  char path[PATH_BUF], name[NAME_BUF];
  if (!get_args(env, info, 2, argv) || !get_string(env, argv[0], path, sizeof path, "path must be a string") ||
      !get_string(env, argv[1], name, sizeof name, "name must be a string"))
    return NULL;
  char small[XATTR_SMALL];
  cleanup_free char *big = NULL;
  char *value = small;
  ssize_t len = lgetxattr(path, name, small, sizeof small);
  /* Most values (capabilities, ACLs, overlay markers) fit the stack buffer; a larger one
   * is sized and read again, retrying if it grew in between. */
  while (len < 0 && errno == ERANGE) {
    ssize_t need = lgetxattr(path, name, NULL, 0);
    if (need < 0) break;
    free(big);
    big = malloc((size_t)need + 1);
    if (big == NULL) return throw_errno(env, ENOMEM, "lgetxattr", path);
    value = big;
    len = lgetxattr(path, name, big, (size_t)need + 1);
  }
  if (len < 0) {
    if (errno == ENODATA) {
      napi_get_null(env, &result);
      return result;
    }
    return throw_errno(env, errno, "lgetxattr", path);
  }
  napi_create_buffer_copy(env, (size_t)len, value, NULL, &result);
  return result;
}

/* lsetxattr(path, name, value: Buffer). */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_BUF], name[NAME_BUF];
  void *data = NULL;
  size_t len = 0;
  if (!get_args(env, info, 3, argv) || !get_string(env, argv[0], path, sizeof path, "path must be a string") ||
      !get_string(env, argv[1], name, sizeof name, "name must be a string"))
    return NULL;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) return throw_type(env, "value must be a Buffer");
  if (lsetxattr(path, name, len ? data : "", len, 0) < 0) return throw_errno(env, errno, "lsetxattr", path);
  return NULL;
}

/* llistxattr(path) -> string[] in the order the file system keeps them. */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_string(env, argv[0], path, sizeof path, "path must be a string"))
    return NULL;
  napi_create_array(env, &result);
  char small[XATTR_SMALL];
  cleanup_free char *big = NULL;
  char *names = small;
  ssize_t len = llistxattr(path, small, sizeof small);
  /* The list can grow between the sizing call and the read; retry until it fits. */
  while (len < 0 && errno == ERANGE) {
    ssize_t need = llistxattr(path, NULL, 0);
    if (need < 0) break;
    free(big);
    big = malloc((size_t)need + 1);
    if (big == NULL) return throw_errno(env, ENOMEM, "llistxattr", path);
    names = big;
    len = llistxattr(path, big, (size_t)need + 1);
  }
  if (len < 0) {
    if (errno == ENOTSUP) return result; /* a file system without xattrs has none */
    return throw_errno(env, errno, "llistxattr", path);
  }
  uint32_t index = 0;
  for (ssize_t at = 0; at < len;) {
    size_t n = strnlen(names + at, (size_t)(len - at));
    napi_value name;
    napi_create_string_utf8(env, names + at, n, &name);
    napi_set_element(env, result, index++, name);
    at += (ssize_t)n + 1;
  }
  return result;
}

/* lremovexattr(path, name); removing an absent attribute is not an error. */
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_BUF], name[NAME_BUF];
  if (!get_args(env, info, 2, argv) || !get_string(env, argv[0], path, sizeof path, "path must be a string") ||
      !get_string(env, argv[1], name, sizeof name, "name must be a string"))
    return NULL;
  if (lremovexattr(path, name) < 0 && errno != ENODATA) return throw_errno(env, errno, "lremovexattr", path);
  return NULL;
}

/* mount(source, target, fstype, flags, data): fstype and data may be null. */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char source[PATH_BUF], target[PATH_BUF], fstype[64];
  cleanup_free char *data = NULL;
  napi_valuetype type;
  int64_t flags = 0;
  if (!get_args(env, info, 5, argv) || !get_string(env, argv[0], source, sizeof source, "source must be a string") ||
      !get_string(env, argv[1], target, sizeof target, "target must be a string"))
    return NULL;
  napi_typeof(env, argv[2], &type);
  int have_fstype = type == napi_string;
  if (have_fstype && !get_string(env, argv[2], fstype, sizeof fstype, "fstype must be a string")) return NULL;
  if (napi_get_value_int64(env, argv[3], &flags) != napi_ok) return throw_type(env, "flags must be a number");
  napi_typeof(env, argv[4], &type);
  if (type == napi_string) {
    size_t len = 0;
    napi_get_value_string_utf8(env, argv[4], NULL, 0, &len);
    data = malloc(len + 1);
    if (data == NULL) return throw_errno(env, ENOMEM, "mount", target);
    napi_get_value_string_utf8(env, argv[4], data, len + 1, &len);
  }
  if (mount(source, target, have_fstype ? fstype : NULL, (unsigned long)flags, data) < 0)
    return throw_errno(env, errno, "mount", target);
  return NULL;
}

/* umount2(target, flags) */
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char target[PATH_BUF];
  int32_t flags = 0;
  if (!get_args(env, info, 2, argv) || !get_string(env, argv[0], target, sizeof target, "target must be a string"))
    return NULL;
  if (napi_get_value_int32(env, argv[1], &flags) != napi_ok) return throw_type(env, "flags must be a number");
  if (umount2(target, flags) < 0) return throw_errno(env, errno, "umount2", target);
  return NULL;
}

/*
 * isMountRoot(path) -> true/false, or null where the kernel cannot tell (before Linux 5.8):
 * whether path is the root of a mount, from statx's STATX_ATTR_MOUNT_ROOT. The alternative,
 * reading /proc/self/mountinfo, reads a line per mount on the host (two per container).
 */
static napi_value js_is_mount_root(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char path[PATH_BUF];
  struct statx stx;
  if (!get_args(env, info, 1, argv) || !get_string(env, argv[0], path, sizeof path, "path must be a string"))
    return NULL;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0) return throw_errno(env, errno, "statx", path);
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
    napi_get_null(env, &result);
    return result;
  }
  napi_get_boolean(env, (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0, &result);
  return result;
}

/* The child of usernsFd: holds its new user namespace until the parent closes the pipe. */
static int hold_userns(void *arg) {
  const int *pipefd = arg;
  char c;
  /* raw syscalls only: the child shares Node's memory (CLONE_VM); its copy of the write end
     is closed so that the parent's close is the end of file */
  syscall(SYS_close, pipefd[1]);
  syscall(SYS_read, pipefd[0], &c, 1);
  syscall(SYS_exit, 0);
  return 0;
}

static int write_map(pid_t pid, const char *file, const char *map) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, map, strlen(map));
  int saved = errno;
  close(fd);
  errno = saved;
  return n < 0 ? -1 : 0;
}

/*
 * usernsFd(hostUid, hostGid, size[, hostRootAs]) -> fd of a new user namespace mapping 0..size-1
 * to the host ids from hostUid/hostGid, for MOUNT_ATTR_IDMAP. With hostRootAs (>= size), the
 * host's root is mapped too, to that id: an overlay's upper dir idmapped through it lets the
 * mounter (host root) create its work dir and whiteouts, which a mapping without 0 refuses. A namespace needs a process to be made and
 * mapped: a child cloned into it (CLONE_VM, as posix_spawn does: no copy of Node's page
 * tables) waits on a pipe while its maps are written and the namespace is opened, then exits.
 */
static napi_value js_userns_fd(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  uint32_t uid, gid, size, root_as = 0;
  size_t given = 4;
  if (napi_get_cb_info(env, info, &given, argv, NULL, NULL) != napi_ok || given < 3) {
    throw_type(env, "missing arguments");
    return NULL;
  }
  if (!get_id(env, argv[0], &uid, "hostUid must be an integer >= 1") ||
      !get_id(env, argv[1], &gid, "hostGid must be an integer >= 1") ||
      !get_id(env, argv[2], &size, "size must be an integer >= 1"))
    return NULL;
  napi_valuetype root_type = napi_undefined;
  if (given > 3) napi_typeof(env, argv[3], &root_type);
  if (root_type != napi_undefined && !get_id(env, argv[3], &root_as, "hostRootAs must be an integer >= 1"))
    return NULL;
  /* (uid_t)-1 is "no id": no mapping may reach it */
  if ((uint64_t)uid + size > UINT32_MAX || (uint64_t)gid + size > UINT32_MAX) {
    throw_type(env, "hostUid/hostGid + size must be at most 4294967295");
    return NULL;
  }
  /* the extents may not overlap: inside, root_as lies above 0..size-1 (outside, 0 < uid) */
  if (root_as != 0 && root_as < size) {
    throw_type(env, "hostRootAs must be at least size");
    return NULL;
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) return throw_errno(env, errno, "pipe2", "userns");
  size_t stack_size = 64 * 1024;
  char *stack = malloc(stack_size);
  if (stack == NULL) {
    close(pipefd[0]);
    close(pipefd[1]);
    return throw_errno(env, ENOMEM, "clone", "userns");
  }
  /* every signal blocked across the clone, as posix_spawn does: a handler of Node's must not
     run in the child, on its stack, in memory it shares with Node (CLONE_VM) */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(hold_userns, stack + stack_size, CLONE_VM | CLONE_NEWUSER | SIGCHLD, pipefd);
  int err = pid < 0 ? errno : 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  const char *failed = "clone";
  int ns = -1;
  if (pid > 0) {
    char map[96], path[64];
    char root_line[32] = "";
    if (root_as != 0) snprintf(root_line, sizeof root_line, "%u 0 1\n", root_as);
    snprintf(map, sizeof map, "0 %u %u\n%s", uid, size, root_line);
    if (write_map(pid, "uid_map", map) < 0) {
      err = errno;
      failed = "uid_map";
    } else {
      snprintf(map, sizeof map, "0 %u %u\n%s", gid, size, root_line);
      if (write_map(pid, "gid_map", map) < 0) {
        err = errno;
        failed = "gid_map";
      } else {
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        ns = open(path, O_RDONLY | O_CLOEXEC);
        if (ns < 0) {
          err = errno;
          failed = "open ns/user";
        }
      }
    }
  }
  close(pipefd[1]);
  if (pid > 0)
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  close(pipefd[0]);
  free(stack);
  if (ns < 0) return throw_errno(env, err, failed, "userns");
  napi_create_int32(env, ns, &result);
  return result;
}

/*
 * idmapTree(path, usernsFd, recursive) -> fd of a detached copy of the mount at path
 * (open_tree OPEN_TREE_CLONE) idmapped through the user namespace (mount_setattr
 * MOUNT_ATTR_IDMAP): files owned by id N on disk appear owned by the namespace's mapping of N.
 * Nothing is attached: closing the fd drops it; overlay takes it as a lower dir through
 * /proc/self/fd/N, and moveMount attaches it.
 */
static napi_value js_idmap_tree(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  char path[PATH_BUF];
  int32_t userns = -1;
  bool recursive = false;
  if (!get_args(env, info, 3, argv) || !get_string(env, argv[0], path, sizeof path, "path must be a string"))
    return NULL;
  if (napi_get_value_int32(env, argv[1], &userns) != napi_ok) return throw_type(env, "usernsFd must be a number");
  if (napi_get_value_bool(env, argv[2], &recursive) != napi_ok) return throw_type(env, "recursive must be a boolean");
  int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path,
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  if (fd < 0) return throw_errno(env, errno, "open_tree", path);
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "mount_setattr", path);
  }
  napi_create_int32(env, fd, &result);
  return result;
}

/* moveMount(fd, target): attaches a detached mount (idmapTree's) at target. */
static napi_value js_move_mount(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char target[PATH_BUF];
  int32_t fd = -1;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return throw_type(env, "fd must be a number");
  if (!get_string(env, argv[1], target, sizeof target, "target must be a string")) return NULL;
  if (syscall(SYS_move_mount, fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return throw_errno(env, errno, "move_mount", target);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lremovexattr", NULL, js_lremovexattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isMountRoot", NULL, js_is_mount_root, NULL, NULL, NULL, napi_enumerable, NULL},
      {"usernsFd", NULL, js_userns_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"idmapTree", NULL, js_idmap_tree, NULL, NULL, NULL, napi_enumerable, NULL},
      {"moveMount", NULL, js_move_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawn", NULL, fsx_spawn, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(fsx, init)
