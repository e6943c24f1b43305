/* The typed form of an OCI runtime-spec config.json. config.c is the only file that knows
 * JSON: it parses, validates every field the runtime honours, and reports the first problem
 * as one line naming the field ("invalid `process.args[1]`: expected a string"). Everything
 * else in the runtime works on these structs and never sees jansson. */
#ifndef PAAS_CONFIG_H
#define PAAS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"

enum paas_ns_kind
{
  PAAS_NS_USER, /* first: it must be created/joined before the others */
  PAAS_NS_PID,
  PAAS_NS_NET,
  PAAS_NS_IPC,
  PAAS_NS_UTS,
  PAAS_NS_MNT,
  PAAS_NS_CGROUP,
  PAAS_NS_COUNT
};

struct paas_namespace
{
  bool present;
  char *path; /* join this namespace instead of creating one */
};

struct paas_id_mapping
{
  uint32_t container_id, host_id, size;
};

struct paas_rlimit
{
  const char *name; /* "RLIMIT_NOFILE": static storage */
  int resource;
  uint64_t soft, hard;
};

struct paas_mount
{
  char *destination; /* absolute path inside the container */
  char *type;        /* may be NULL for binds */
  char *source;
  unsigned long flags;       /* MS_* to set */
  unsigned long clear_flags; /* MS_* explicitly cleared (rw, suid, ...) */
  unsigned long propagation; /* MS_PRIVATE | MS_REC ... or 0 */
  bool bind, recursive;
  char *data; /* filesystem-specific options, comma-joined, or NULL */
};

struct paas_device
{
  char *path;
  char type; /* c, b, u, p */
  int64_t major, minor;
  mode_t mode;
  bool has_mode;
  uid_t uid;
  gid_t gid;
};

struct paas_device_rule
{
  bool allow;
  char type;             /* a, c, b */
  int64_t major, minor;  /* -1 means any */
  char access[4];        /* subset of "rwm" */
};

enum paas_seccomp_action
{
  PAAS_SCMP_KILL_THREAD,
  PAAS_SCMP_KILL_PROCESS,
  PAAS_SCMP_TRAP,
  PAAS_SCMP_ERRNO,
  PAAS_SCMP_TRACE,
  PAAS_SCMP_ALLOW,
  PAAS_SCMP_LOG,
};

enum paas_seccomp_op
{
  PAAS_SCMP_CMP_NE = 1,
  PAAS_SCMP_CMP_LT,
  PAAS_SCMP_CMP_LE,
  PAAS_SCMP_CMP_EQ,
  PAAS_SCMP_CMP_GE,
  PAAS_SCMP_CMP_GT,
  PAAS_SCMP_CMP_MASKED_EQ,
};

struct paas_seccomp_arg
{
  unsigned index;
  uint64_t value, value_two;
  enum paas_seccomp_op op;
};

struct paas_seccomp_rule
{
  char **names;
  size_t n_names;
  enum paas_seccomp_action action;
  uint32_t errno_ret; /* for ERRNO (default EPERM) and TRACE */
  struct paas_seccomp_arg *args;
  size_t n_args;
};

struct paas_seccomp
{
  enum paas_seccomp_action default_action;
  uint32_t default_errno;
  char **architectures; /* e.g. "SCMP_ARCH_X86_64" */
  size_t n_architectures;
  struct paas_seccomp_rule *rules;
  size_t n_rules;
};

struct paas_resources
{
  bool has_memory_limit, has_memory_swap, has_memory_reservation;
  int64_t memory_limit, memory_swap, memory_reservation; /* -1: unlimited */
  bool has_memory_swappiness, disable_oom_killer;
  int64_t memory_swappiness; /* 0..100 */
  bool has_cpu_shares, has_cpu_quota, has_cpu_period;
  uint64_t cpu_shares, cpu_period;
  int64_t cpu_quota;
  char *cpu_cpus, *cpu_mems;
  bool has_pids_limit;
  int64_t pids_limit; /* <= 0: unlimited */
  struct paas_device_rule *device_rules;
  size_t n_device_rules;
};

enum paas_cap_set
{
  PAAS_CAP_BOUNDING,
  PAAS_CAP_EFFECTIVE,
  PAAS_CAP_PERMITTED,
  PAAS_CAP_INHERITABLE,
  PAAS_CAP_AMBIENT,
  PAAS_CAP_SETS
};

struct paas_process
{
  char **args; /* NULL-terminated */
  size_t n_args;
  char **env; /* NULL-terminated */
  size_t n_env;
  char *cwd;
  bool terminal;
  bool has_console_size; /* process.consoleSize, applied to the terminal */
  unsigned short console_height, console_width;
  uid_t uid;
  gid_t gid;
  gid_t *additional_gids;
  size_t n_additional_gids;
  bool has_umask;
  mode_t umask;
  struct paas_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privileges;
  bool has_capabilities;
  uint64_t caps[PAAS_CAP_SETS];
  bool has_oom_score_adj;
  int oom_score_adj;
  char *apparmor_profile; /* NULL: none */
  char *selinux_label;    /* NULL: none */
};

struct paas_kv
{
  char *key, *value;
};

/* hooks.<kind>[]: run by hooks.c at the lifecycle steps of the runtime spec. */
enum paas_hook_kind
{
  PAAS_HOOK_PRESTART, /* deprecated by the spec, still run (before createRuntime) */
  PAAS_HOOK_CREATE_RUNTIME,
  PAAS_HOOK_CREATE_CONTAINER,
  PAAS_HOOK_START_CONTAINER,
  PAAS_HOOK_POSTSTART,
  PAAS_HOOK_POSTSTOP,
  PAAS_HOOK_KINDS
};

struct paas_hook
{
  char *path;  /* absolute */
  char **args; /* NULL-terminated; args[0] is argv[0]; NULL: argv is { path } */
  size_t n_args;
  char **env; /* NULL-terminated; the hook's whole environment (NULL: empty) */
  size_t n_env;
  int timeout; /* seconds; 0: none */
};

struct paas_hooks
{
  struct paas_hook *list[PAAS_HOOK_KINDS];
  size_t n[PAAS_HOOK_KINDS];
};

struct paas_config
{
  char *oci_version;
  struct paas_process *process;
  char *root_path; /* absolute */
  bool root_readonly;
  char *hostname; /* NULL: leave as is */
  struct paas_mount *mounts;
  size_t n_mounts;
  struct paas_kv *annotations;
  size_t n_annotations;

  struct paas_namespace namespaces[PAAS_NS_COUNT];
  struct paas_id_mapping *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
  struct paas_device *devices;
  size_t n_devices;
  char *cgroups_path; /* NULL: default */
  struct paas_resources resources;
  char **masked_paths, **readonly_paths;
  size_t n_masked_paths, n_readonly_paths;
  struct paas_kv *sysctl;
  size_t n_sysctl;
  struct paas_seccomp *seccomp; /* NULL: none */
  unsigned long rootfs_propagation; /* MS_* or 0 (default: rprivate) */
  char *mount_label;                /* NULL: none (refused otherwise: see container.c) */
  struct paas_hooks hooks;
};

/* Loads `config.json` from bundle (absolute path); root.path is resolved against it and must
 * stay inside the bundle when relative. */
int paas_config_load (const char *bundle, struct paas_config **out, libpaas_error_t *err);
/* Parses a JSON text (used by the fuzzer and for tests); bundle may be "/" */
int paas_config_parse (const char *text, size_t len, const char *bundle, const char *what,
                       struct paas_config **out, libpaas_error_t *err);
/* Parses a process.json (exec --process). */
int paas_process_load (const char *path, struct paas_process **out, libpaas_error_t *err);
void paas_config_free (struct paas_config *c);
void paas_process_free (struct paas_process *p);

const char *paas_ns_name (enum paas_ns_kind k); /* "pid", "network", ... */
int paas_ns_clone_flag (enum paas_ns_kind k);   /* CLONE_NEWPID ... */
const char *paas_hook_kind_name (enum paas_hook_kind k); /* "createRuntime" ... */
void paas_hooks_free (struct paas_hooks *h);

#endif
