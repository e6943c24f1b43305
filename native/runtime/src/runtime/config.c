/* config.json -> struct paas_config. The only file that includes jansson.
 *
 * Validation is complete before the runtime creates anything: every error names the field by
 * its JSON path, so a caller sees one line such as
 *   load `config.json`: invalid `linux.namespaces[2].type`: unknown namespace `foo` */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "utils.h"

#define FIELD_MAX 256

static int
bad (libpaas_error_t *err, const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
bad (libpaas_error_t *err, const char *field, const char *fmt, ...)
{
  va_list ap;
  cleanup_free char *why = NULL;
  va_start (ap, fmt);
  if (vasprintf (&why, fmt, ap) < 0)
    abort ();
  va_end (ap);
  return libpaas_make_error (err, 0, "invalid `%s`: %s", field, why);
}

/* Field names are truncated if absurdly deep; vsnprintf keeps the compiler's truncation
 * analysis (which cannot know our nesting is shallow) out of the way. */
static void
fieldf (char *out, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
fieldf (char *out, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (out, FIELD_MAX, fmt, ap);
  va_end (ap);
}

static void
sub (char *out, const char *parent, const char *key)
{
  fieldf (out, "%s%s%s", parent, *parent ? "." : "", key);
}

static void
idx (char *out, const char *parent, size_t i)
{
  fieldf (out, "%s[%zu]", parent, i);
}

/* Typed getters. A missing key is fine (returns 0, leaves the output); a key of the wrong
 * type is an error naming the field. */
static int
get_string (json_t *obj, const char *parent, const char *key, char **out, bool required,
            libpaas_error_t *err)
{
  char f[FIELD_MAX];
  json_t *v = json_object_get (obj, key);
  sub (f, parent, key);
  if (v == NULL || json_is_null (v))
    return required ? bad (err, f, "missing") : 0;
  if (!json_is_string (v))
    return bad (err, f, "expected a string");
  *out = libpaas_xstrdup (json_string_value (v));
  return 0;
}

static int
get_bool (json_t *obj, const char *parent, const char *key, bool *out, libpaas_error_t *err)
{
  char f[FIELD_MAX];
  json_t *v = json_object_get (obj, key);
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_boolean (v))
    {
      sub (f, parent, key);
      return bad (err, f, "expected a boolean");
    }
  *out = json_is_true (v);
  return 0;
}

/* Integers within [min, max]. *present is set when the key exists. */
static int
get_int (json_t *obj, const char *parent, const char *key, int64_t min, int64_t max,
         int64_t *out, bool *present, libpaas_error_t *err)
{
  char f[FIELD_MAX];
  json_t *v = json_object_get (obj, key);
  if (present)
    *present = false;
  if (v == NULL || json_is_null (v))
    return 0;
  sub (f, parent, key);
  if (!json_is_integer (v))
    return bad (err, f, "expected an integer");
  if (json_integer_value (v) < min || json_integer_value (v) > max)
    return bad (err, f, "%lld out of range", (long long) json_integer_value (v));
  *out = json_integer_value (v);
  if (present)
    *present = true;
  return 0;
}

static int
get_object (json_t *obj, const char *parent, const char *key, json_t **out, bool required,
            libpaas_error_t *err)
{
  char f[FIELD_MAX];
  json_t *v = json_object_get (obj, key);
  *out = NULL;
  sub (f, parent, key);
  if (v == NULL || json_is_null (v))
    return required ? bad (err, f, "missing") : 0;
  if (!json_is_object (v))
    return bad (err, f, "expected an object");
  *out = v;
  return 0;
}

static int
get_array (json_t *obj, const char *parent, const char *key, json_t **out,
           libpaas_error_t *err)
{
  char f[FIELD_MAX];
  json_t *v = json_object_get (obj, key);
  *out = NULL;
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_array (v))
    {
      sub (f, parent, key);
      return bad (err, f, "expected an array");
    }
  *out = v;
  return 0;
}

/* An array of strings, returned NULL-terminated. */
static int
get_strv (json_t *obj, const char *parent, const char *key, char ***out, size_t *n,
          libpaas_error_t *err)
{
  char f[FIELD_MAX], fi[FIELD_MAX];
  json_t *arr, *v;
  size_t i;
  sub (f, parent, key);
  if (get_array (obj, parent, key, &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  json_array_foreach (arr, i, v)
    if (!json_is_string (v))
      {
        idx (fi, f, i);
        return bad (err, fi, "expected a string");
      }
  *out = libpaas_xmalloc0 ((json_array_size (arr) + 1) * sizeof (char *));
  json_array_foreach (arr, i, v)
    (*out)[i] = libpaas_xstrdup (json_string_value (v));
  *n = json_array_size (arr);
  return 0;
}

static void
strv_free (char **v)
{
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free (*p);
  free (v);
}

static int
get_kv (json_t *obj, const char *parent, const char *key, struct paas_kv **out, size_t *n,
        libpaas_error_t *err)
{
  char f[FIELD_MAX], fk[FIELD_MAX];
  json_t *o, *v;
  const char *k;
  size_t i = 0;
  if (get_object (obj, parent, key, &o, false, err) < 0)
    return -1;
  if (o == NULL)
    return 0;
  sub (f, parent, key);
  json_object_foreach (o, k, v)
    if (!json_is_string (v))
      {
        sub (fk, f, k);
        return bad (err, fk, "expected a string");
      }
  *out = libpaas_xmalloc0 (json_object_size (o) * sizeof (**out));
  json_object_foreach (o, k, v)
    {
      (*out)[i].key = libpaas_xstrdup (k);
      (*out)[i].value = libpaas_xstrdup (json_string_value (v));
      i++;
    }
  *n = i;
  return 0;
}

/* --- process --- */

static const char *const cap_names[] = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
  "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
  "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
  "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
  "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

static const struct
{
  const char *name;
  int resource;
} rlimit_names[] = {
  { "RLIMIT_CPU", RLIMIT_CPU },         { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_DATA", RLIMIT_DATA },       { "RLIMIT_STACK", RLIMIT_STACK },
  { "RLIMIT_CORE", RLIMIT_CORE },       { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },     { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

static int
parse_caps (json_t *caps, const char *f, struct paas_process *p, libpaas_error_t *err)
{
  static const char *const sets[PAAS_CAP_SETS]
      = { "bounding", "effective", "permitted", "inheritable", "ambient" };
  char fs[FIELD_MAX], fi[FIELD_MAX];
  p->has_capabilities = true;
  for (int s = 0; s < PAAS_CAP_SETS; s++)
    {
      json_t *arr, *v;
      size_t i;
      if (get_array (caps, f, sets[s], &arr, err) < 0)
        return -1;
      if (arr == NULL)
        continue;
      sub (fs, f, sets[s]);
      json_array_foreach (arr, i, v)
        {
          const char *name;
          idx (fi, fs, i);
          if (!json_is_string (v))
            return bad (err, fi, "expected a string");
          name = json_string_value (v);
          /* Unknown names are skipped like runc does: a newer engine may list capabilities
           * this runtime (or kernel) does not know. */
          for (size_t c = 0; c < sizeof (cap_names) / sizeof (cap_names[0]); c++)
            if (strcasecmp (name, cap_names[c]) == 0
                || (strncasecmp (name, "CAP_", 4) != 0 && strcasecmp (name, cap_names[c] + 4) == 0))
              p->caps[s] |= 1ULL << c;
        }
    }
  return 0;
}

/* {height, width}: both required (runtime-spec), each a terminal dimension (0-65535). */
static int
parse_console_size (json_t *proc, const char *f, struct paas_process *p, libpaas_error_t *err)
{
  char fc[FIELD_MAX], fi[FIELD_MAX];
  json_t *size;
  int64_t h = 0, w = 0;
  bool present = false;
  if (get_object (proc, f, "consoleSize", &size, false, err) < 0)
    return -1;
  if (size == NULL)
    return 0;
  sub (fc, f, "consoleSize");
  if (get_int (size, fc, "height", 0, UINT16_MAX, &h, &present, err) < 0)
    return -1;
  if (!present)
    {
      sub (fi, fc, "height");
      return bad (err, fi, "missing");
    }
  if (get_int (size, fc, "width", 0, UINT16_MAX, &w, &present, err) < 0)
    return -1;
  if (!present)
    {
      sub (fi, fc, "width");
      return bad (err, fi, "missing");
    }
  p->has_console_size = true;
  p->console_height = h;
  p->console_width = w;
  return 0;
}

static int
parse_process (json_t *proc, const char *f, struct paas_process **out, libpaas_error_t *err)
{
  char fu[FIELD_MAX], fi[FIELD_MAX], fr[FIELD_MAX];
  struct paas_process *p = libpaas_xmalloc0 (sizeof (*p));
  json_t *user, *arr, *caps, *v;
  int64_t n = 0;
  bool present = false;
  size_t i;

  *out = p;
  if (get_strv (proc, f, "args", &p->args, &p->n_args, err) < 0)
    return -1;
  if (p->n_args == 0)
    {
      sub (fi, f, "args");
      return bad (err, fi, json_object_get (proc, "args") ? "must not be empty" : "missing");
    }
  if (get_strv (proc, f, "env", &p->env, &p->n_env, err) < 0)
    return -1;
  if (p->env == NULL)
    p->env = libpaas_xmalloc0 (sizeof (char *));
  if (get_string (proc, f, "cwd", &p->cwd, false, err) < 0)
    return -1;
  if (p->cwd == NULL)
    p->cwd = libpaas_xstrdup ("/");
  if (p->cwd[0] != '/')
    {
      sub (fi, f, "cwd");
      return bad (err, fi, "must be an absolute path");
    }
  if (get_bool (proc, f, "terminal", &p->terminal, err) < 0)
    return -1;
  if (parse_console_size (proc, f, p, err) < 0)
    return -1;
  if (get_bool (proc, f, "noNewPrivileges", &p->no_new_privileges, err) < 0
      || get_string (proc, f, "apparmorProfile", &p->apparmor_profile, false, err) < 0
      || get_string (proc, f, "selinuxLabel", &p->selinux_label, false, err) < 0)
    return -1;
  /* An empty label means none (runc). */
  if (p->apparmor_profile && p->apparmor_profile[0] == '\0')
    {
      free (p->apparmor_profile);
      p->apparmor_profile = NULL;
    }
  if (p->selinux_label && p->selinux_label[0] == '\0')
    {
      free (p->selinux_label);
      p->selinux_label = NULL;
    }

  if (get_object (proc, f, "user", &user, false, err) < 0)
    return -1;
  if (user)
    {
      sub (fu, f, "user");
      if (get_int (user, fu, "uid", 0, UINT32_MAX - 1, &n, &present, err) < 0)
        return -1;
      p->uid = present ? n : 0;
      present = false;
      if (get_int (user, fu, "gid", 0, UINT32_MAX - 1, &n, &present, err) < 0)
        return -1;
      p->gid = present ? n : 0;
      present = false;
      if (get_int (user, fu, "umask", 0, 0777, &n, &p->has_umask, err) < 0)
        return -1;
      p->umask = n;
      if (get_array (user, fu, "additionalGids", &arr, err) < 0)
        return -1;
      if (arr)
        {
          p->additional_gids = libpaas_xmalloc0 (json_array_size (arr) * sizeof (gid_t));
          json_array_foreach (arr, i, v)
            {
              fieldf (fi, "%s.additionalGids[%zu]", fu, i);
              if (!json_is_integer (v) || json_integer_value (v) < 0
                  || json_integer_value (v) >= UINT32_MAX)
                return bad (err, fi, "expected a gid");
              p->additional_gids[i] = json_integer_value (v);
            }
          p->n_additional_gids = json_array_size (arr);
        }
    }

  if (get_array (proc, f, "rlimits", &arr, err) < 0)
    return -1;
  if (arr)
    {
      p->rlimits = libpaas_xmalloc0 (json_array_size (arr) * sizeof (*p->rlimits));
      json_array_foreach (arr, i, v)
        {
          cleanup_free char *type = NULL;
          int64_t soft = 0, hard = 0;
          size_t k;
          fieldf (fr, "%s.rlimits[%zu]", f, i);
          if (!json_is_object (v))
            return bad (err, fr, "expected an object");
          if (get_string (v, fr, "type", &type, true, err) < 0
              || get_int (v, fr, "soft", 0, INT64_MAX, &soft, NULL, err) < 0
              || get_int (v, fr, "hard", 0, INT64_MAX, &hard, NULL, err) < 0)
            return -1;
          for (k = 0; k < sizeof (rlimit_names) / sizeof (rlimit_names[0]); k++)
            if (strcmp (type, rlimit_names[k].name) == 0)
              break;
          if (k == sizeof (rlimit_names) / sizeof (rlimit_names[0]))
            {
              sub (fi, fr, "type");
              return bad (err, fi, "unknown rlimit `%s`", type);
            }
          p->rlimits[i].name = rlimit_names[k].name;
          p->rlimits[i].resource = rlimit_names[k].resource;
          p->rlimits[i].soft = soft;
          p->rlimits[i].hard = hard;
        }
      p->n_rlimits = json_array_size (arr);
    }

  if (get_object (proc, f, "capabilities", &caps, false, err) < 0)
    return -1;
  if (caps)
    {
      sub (fi, f, "capabilities");
      if (parse_caps (caps, fi, p, err) < 0)
        return -1;
    }
  if (get_int (proc, f, "oomScoreAdj", -1000, 1000, &n, &p->has_oom_score_adj, err) < 0)
    return -1;
  p->oom_score_adj = n;
  return 0;
}

/* --- mounts --- */

static const struct
{
  const char *name;
  bool clear;
  unsigned long flag;
} mount_flags[] = {
  { "defaults", false, 0 },         { "ro", false, MS_RDONLY },
  { "rw", true, MS_RDONLY },        { "nosuid", false, MS_NOSUID },
  { "suid", true, MS_NOSUID },      { "nodev", false, MS_NODEV },
  { "dev", true, MS_NODEV },        { "noexec", false, MS_NOEXEC },
  { "exec", true, MS_NOEXEC },      { "sync", false, MS_SYNCHRONOUS },
  { "async", true, MS_SYNCHRONOUS }, { "dirsync", false, MS_DIRSYNC },
  { "remount", false, MS_REMOUNT }, { "mand", false, MS_MANDLOCK },
  { "nomand", true, MS_MANDLOCK },  { "atime", true, MS_NOATIME },
  { "noatime", false, MS_NOATIME }, { "diratime", true, MS_NODIRATIME },
  { "nodiratime", false, MS_NODIRATIME }, { "relatime", false, MS_RELATIME },
  { "norelatime", true, MS_RELATIME }, { "strictatime", false, MS_STRICTATIME },
  { "nostrictatime", true, MS_STRICTATIME },
};

static const struct
{
  const char *name;
  unsigned long flags;
} propagations[] = {
  { "private", MS_PRIVATE },     { "rprivate", MS_PRIVATE | MS_REC },
  { "shared", MS_SHARED },       { "rshared", MS_SHARED | MS_REC },
  { "slave", MS_SLAVE },         { "rslave", MS_SLAVE | MS_REC },
  { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

static int
parse_propagation (const char *s, unsigned long *out)
{
  for (size_t k = 0; k < sizeof (propagations) / sizeof (propagations[0]); k++)
    if (strcmp (s, propagations[k].name) == 0)
      {
        *out = propagations[k].flags;
        return 0;
      }
  return -1;
}

static int
parse_mount (json_t *m, const char *f, struct paas_mount *out, libpaas_error_t *err)
{
  char fo[FIELD_MAX], fi[FIELD_MAX];
  char **opts = NULL;
  size_t n_opts = 0;
  size_t datalen = 0;
  int ret = -1;

  if (!json_is_object (m))
    return bad (err, f, "expected an object");
  if (get_string (m, f, "destination", &out->destination, true, err) < 0
      || get_string (m, f, "type", &out->type, false, err) < 0
      || get_string (m, f, "source", &out->source, false, err) < 0
      || get_strv (m, f, "options", &opts, &n_opts, err) < 0)
    goto out;
  if (out->destination[0] != '/')
    {
      sub (fi, f, "destination");
      bad (err, fi, "must be an absolute path");
      goto out;
    }
  if (out->type && strcmp (out->type, "bind") == 0)
    out->bind = true;
  sub (fo, f, "options");
  for (size_t i = 0; i < n_opts; i++)
    {
      const char *o = opts[i];
      size_t k;
      unsigned long prop;
      if (strcmp (o, "bind") == 0 || strcmp (o, "rbind") == 0)
        {
          out->bind = true;
          out->recursive = o[0] == 'r';
          continue;
        }
      if (parse_propagation (o, &prop) == 0)
        {
          out->propagation = prop;
          continue;
        }
      /* Options some engines pass that have no meaning for us. */
      if (strcmp (o, "tmpcopyup") == 0 || strcmp (o, "notmpcopyup") == 0
          || strcmp (o, "copy-symlink") == 0)
        continue;
      for (k = 0; k < sizeof (mount_flags) / sizeof (mount_flags[0]); k++)
        if (strcmp (o, mount_flags[k].name) == 0)
          break;
      if (k < sizeof (mount_flags) / sizeof (mount_flags[0]))
        {
          if (mount_flags[k].clear)
            {
              out->flags &= ~mount_flags[k].flag;
              out->clear_flags |= mount_flags[k].flag;
            }
          else
            out->flags |= mount_flags[k].flag;
          continue;
        }
      /* Anything else is filesystem data (size=, mode=, gid=, newinstance...). */
      {
        size_t l = strlen (o);
        out->data = realloc (out->data, datalen + l + 2);
        if (out->data == NULL)
          abort ();
        if (datalen)
          out->data[datalen++] = ',';
        memcpy (out->data + datalen, o, l + 1);
        datalen += l;
      }
    }
  if (!out->bind && out->type == NULL)
    {
      sub (fi, f, "type");
      bad (err, fi, "missing (required unless the mount is a bind)");
      goto out;
    }
  if (out->bind && out->source == NULL)
    {
      sub (fi, f, "source");
      bad (err, fi, "missing for a bind mount");
      goto out;
    }
  if (out->source == NULL)
    out->source = libpaas_xstrdup (out->type);
  ret = 0;
out:
  strv_free (opts);
  return ret;
}

/* --- linux --- */

static const char *const ns_names[PAAS_NS_COUNT]
    = { "user", "pid", "network", "ipc", "uts", "mount", "cgroup" };
static const int ns_flags[PAAS_NS_COUNT] = { CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
                                             CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWNS,
                                             CLONE_NEWCGROUP };

const char *
paas_ns_name (enum paas_ns_kind k)
{
  return ns_names[k];
}

int
paas_ns_clone_flag (enum paas_ns_kind k)
{
  return ns_flags[k];
}

static int
parse_namespaces (json_t *linux_, struct paas_config *c, libpaas_error_t *err)
{
  char f[FIELD_MAX], fi[FIELD_MAX];
  json_t *arr, *v;
  size_t i;
  if (get_array (linux_, "linux", "namespaces", &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  json_array_foreach (arr, i, v)
    {
      cleanup_free char *type = NULL;
      char *path = NULL;
      int k;
      fieldf (f, "linux.namespaces[%zu]", i);
      if (!json_is_object (v))
        return bad (err, f, "expected an object");
      if (get_string (v, f, "type", &type, true, err) < 0)
        return -1;
      for (k = 0; k < PAAS_NS_COUNT; k++)
        if (strcmp (type, ns_names[k]) == 0)
          break;
      sub (fi, f, "type");
      if (k == PAAS_NS_COUNT)
        return bad (err, fi, "unknown namespace `%s`", type);
      if (c->namespaces[k].present)
        return bad (err, fi, "duplicate namespace `%s`", type);
      if (get_string (v, f, "path", &path, false, err) < 0)
        return -1;
      if (path && path[0] != '/')
        {
          free (path);
          sub (fi, f, "path");
          return bad (err, fi, "must be an absolute path");
        }
      c->namespaces[k].present = true;
      c->namespaces[k].path = path;
    }
  return 0;
}

static int
parse_id_mappings (json_t *linux_, const char *key, struct paas_id_mapping **out, size_t *n,
                   libpaas_error_t *err)
{
  char f[FIELD_MAX];
  json_t *arr, *v;
  size_t i;
  if (get_array (linux_, "linux", key, &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  *out = libpaas_xmalloc0 (json_array_size (arr) * sizeof (**out));
  json_array_foreach (arr, i, v)
    {
      int64_t a = -1, b = -1, s = -1;
      fieldf (f, "linux.%s[%zu]", key, i);
      if (!json_is_object (v))
        return bad (err, f, "expected an object");
      if (get_int (v, f, "containerID", 0, UINT32_MAX, &a, NULL, err) < 0
          || get_int (v, f, "hostID", 0, UINT32_MAX, &b, NULL, err) < 0
          || get_int (v, f, "size", 1, UINT32_MAX, &s, NULL, err) < 0)
        return -1;
      if (a < 0 || b < 0 || s < 0)
        return bad (err, f, "containerID, hostID and size are required");
      (*out)[i] = (struct paas_id_mapping) { a, b, s };
    }
  *n = json_array_size (arr);
  return 0;
}

static int
parse_devices (json_t *linux_, struct paas_config *c, libpaas_error_t *err)
{
  char f[FIELD_MAX], fi[FIELD_MAX];
  json_t *arr, *v;
  size_t i;
  if (get_array (linux_, "linux", "devices", &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  c->devices = libpaas_xmalloc0 (json_array_size (arr) * sizeof (*c->devices));
  c->n_devices = json_array_size (arr);
  json_array_foreach (arr, i, v)
    {
      struct paas_device *d = &c->devices[i];
      cleanup_free char *type = NULL;
      int64_t mode = 0, uid = 0, gid = 0;
      fieldf (f, "linux.devices[%zu]", i);
      if (!json_is_object (v))
        return bad (err, f, "expected an object");
      if (get_string (v, f, "path", &d->path, true, err) < 0
          || get_string (v, f, "type", &type, true, err) < 0
          || get_int (v, f, "major", 0, UINT32_MAX, &d->major, NULL, err) < 0
          || get_int (v, f, "minor", 0, UINT32_MAX, &d->minor, NULL, err) < 0
          || get_int (v, f, "fileMode", 0, 07777, &mode, &d->has_mode, err) < 0
          || get_int (v, f, "uid", 0, UINT32_MAX - 1, &uid, NULL, err) < 0
          || get_int (v, f, "gid", 0, UINT32_MAX - 1, &gid, NULL, err) < 0)
        return -1;
      sub (fi, f, "type");
      if (strlen (type) != 1 || strchr ("cbup", type[0]) == NULL)
        return bad (err, fi, "unknown device type `%s`", type);
      if (d->path[0] != '/')
        {
          sub (fi, f, "path");
          return bad (err, fi, "must be an absolute path");
        }
      d->type = type[0];
      d->mode = mode;
      d->uid = uid;
      d->gid = gid;
    }
  return 0;
}

static int
parse_mem_value (json_t *mem, const char *key, int64_t *out, bool *present, libpaas_error_t *err)
{
  char f[FIELD_MAX];
  if (get_int (mem, "linux.resources.memory", key, INT64_MIN, INT64_MAX, out, present, err) < 0)
    return -1;
  if (*present && *out < -1)
    {
      sub (f, "linux.resources.memory", key);
      return bad (err, f, "must be -1 (unlimited) or a positive number of bytes");
    }
  return 0;
}

static int
parse_resources (json_t *linux_, struct paas_config *c, libpaas_error_t *err)
{
  struct paas_resources *r = &c->resources;
  json_t *res, *mem, *cpu, *pids, *arr, *v;
  char f[FIELD_MAX];
  size_t i;
  int64_t n = 0;

  if (get_object (linux_, "linux", "resources", &res, false, err) < 0)
    return -1;
  if (res == NULL)
    return 0;
  if (get_object (res, "linux.resources", "memory", &mem, false, err) < 0
      || get_object (res, "linux.resources", "cpu", &cpu, false, err) < 0
      || get_object (res, "linux.resources", "pids", &pids, false, err) < 0
      || get_array (res, "linux.resources", "devices", &arr, err) < 0)
    return -1;
  if (mem
      && (parse_mem_value (mem, "limit", &r->memory_limit, &r->has_memory_limit, err) < 0
          || parse_mem_value (mem, "swap", &r->memory_swap, &r->has_memory_swap, err) < 0
          || parse_mem_value (mem, "reservation", &r->memory_reservation,
                              &r->has_memory_reservation, err) < 0
          || get_bool (mem, "linux.resources.memory", "disableOOMKiller", &r->disable_oom_killer,
                       err) < 0
          || get_int (mem, "linux.resources.memory", "swappiness", INT64_MIN, INT64_MAX,
                      &r->memory_swappiness, &r->has_memory_swappiness, err) < 0))
    return -1;
  /* The kernel's range; runc refuses anything above it too. */
  if (r->has_memory_swappiness && (r->memory_swappiness < 0 || r->memory_swappiness > 100))
    return bad (err, "linux.resources.memory.swappiness", "%lld out of range (0 to 100)",
                (long long) r->memory_swappiness);
  if (cpu)
    {
      const char *p = "linux.resources.cpu";
      if (get_int (cpu, p, "shares", 0, 262144, &n, &r->has_cpu_shares, err) < 0)
        return -1;
      r->cpu_shares = n;
      if (get_int (cpu, p, "quota", -1, INT64_MAX, &r->cpu_quota, &r->has_cpu_quota, err) < 0)
        return -1;
      if (get_int (cpu, p, "period", 0, INT64_MAX, &n, &r->has_cpu_period, err) < 0)
        return -1;
      r->cpu_period = n;
      if (get_string (cpu, p, "cpus", &r->cpu_cpus, false, err) < 0
          || get_string (cpu, p, "mems", &r->cpu_mems, false, err) < 0)
        return -1;
    }
  if (pids
      && get_int (pids, "linux.resources.pids", "limit", INT64_MIN, INT64_MAX, &r->pids_limit,
                  &r->has_pids_limit, err) < 0)
    return -1;
  if (arr)
    {
      r->device_rules = libpaas_xmalloc0 (json_array_size (arr) * sizeof (*r->device_rules));
      r->n_device_rules = json_array_size (arr);
      json_array_foreach (arr, i, v)
        {
          struct paas_device_rule *d = &r->device_rules[i];
          cleanup_free char *type = NULL, *access = NULL;
          bool has;
          fieldf (f, "linux.resources.devices[%zu]", i);
          if (!json_is_object (v))
            return bad (err, f, "expected an object");
          d->major = d->minor = -1;
          if (get_bool (v, f, "allow", &d->allow, err) < 0
              || get_string (v, f, "type", &type, false, err) < 0
              || get_string (v, f, "access", &access, false, err) < 0
              || get_int (v, f, "major", -1, UINT32_MAX, &d->major, &has, err) < 0
              || get_int (v, f, "minor", -1, UINT32_MAX, &d->minor, &has, err) < 0)
            return -1;
          d->type = type ? type[0] : 'a';
          if (type && (strlen (type) != 1 || strchr ("acb", type[0]) == NULL))
            return bad (err, f, "unknown device type `%s`", type);
          snprintf (d->access, sizeof (d->access), "%s", access ? access : "rwm");
          if (strspn (d->access, "rwm") != strlen (d->access))
            return bad (err, f, "invalid access `%s`", d->access);
        }
    }
  return 0;
}

static const struct
{
  const char *name;
  enum paas_seccomp_action action;
} seccomp_actions[] = {
  { "SCMP_ACT_KILL", PAAS_SCMP_KILL_THREAD },
  { "SCMP_ACT_KILL_THREAD", PAAS_SCMP_KILL_THREAD },
  { "SCMP_ACT_KILL_PROCESS", PAAS_SCMP_KILL_PROCESS },
  { "SCMP_ACT_TRAP", PAAS_SCMP_TRAP },
  { "SCMP_ACT_ERRNO", PAAS_SCMP_ERRNO },
  { "SCMP_ACT_TRACE", PAAS_SCMP_TRACE },
  { "SCMP_ACT_ALLOW", PAAS_SCMP_ALLOW },
  { "SCMP_ACT_LOG", PAAS_SCMP_LOG },
};

static const char *const seccomp_ops[]
    = { NULL,          "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",
        "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ" };

static int
get_action (json_t *o, const char *f, const char *key, bool required,
            enum paas_seccomp_action *out, libpaas_error_t *err)
{
  cleanup_free char *s = NULL;
  char fa[FIELD_MAX];
  if (get_string (o, f, key, &s, required, err) < 0)
    return -1;
  if (s == NULL)
    return 0;
  for (size_t k = 0; k < sizeof (seccomp_actions) / sizeof (seccomp_actions[0]); k++)
    if (strcmp (s, seccomp_actions[k].name) == 0)
      {
        *out = seccomp_actions[k].action;
        return 0;
      }
  sub (fa, f, key);
  return bad (err, fa, "unknown seccomp action `%s`", s);
}

static int
parse_seccomp (json_t *linux_, struct paas_config *c, libpaas_error_t *err)
{
  json_t *sc, *arr, *v, *a;
  char f[FIELD_MAX], fa[FIELD_MAX];
  size_t i, j;
  int64_t n = 0;
  bool has;
  struct paas_seccomp *s;

  if (get_object (linux_, "linux", "seccomp", &sc, false, err) < 0)
    return -1;
  if (sc == NULL)
    return 0;
  s = c->seccomp = libpaas_xmalloc0 (sizeof (*s));
  s->default_errno = EPERM;
  if (get_action (sc, "linux.seccomp", "defaultAction", true, &s->default_action, err) < 0)
    return -1;
  if (get_int (sc, "linux.seccomp", "defaultErrnoRet", 0, 4095, &n, &has, err) < 0)
    return -1;
  if (has)
    s->default_errno = n;
  if (get_strv (sc, "linux.seccomp", "architectures", &s->architectures, &s->n_architectures,
                err) < 0)
    return -1;
  if (get_array (sc, "linux.seccomp", "syscalls", &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  s->rules = libpaas_xmalloc0 (json_array_size (arr) * sizeof (*s->rules));
  s->n_rules = json_array_size (arr);
  json_array_foreach (arr, i, v)
    {
      struct paas_seccomp_rule *r = &s->rules[i];
      json_t *args;
      fieldf (f, "linux.seccomp.syscalls[%zu]", i);
      if (!json_is_object (v))
        return bad (err, f, "expected an object");
      if (get_strv (v, f, "names", &r->names, &r->n_names, err) < 0
          || get_action (v, f, "action", true, &r->action, err) < 0)
        return -1;
      if (r->names == NULL)
        {
          sub (fa, f, "names");
          return bad (err, fa, "missing");
        }
      r->errno_ret = EPERM;
      if (get_int (v, f, "errnoRet", 0, 4095, &n, &has, err) < 0)
        return -1;
      if (has)
        r->errno_ret = n;
      if (get_array (v, f, "args", &args, err) < 0)
        return -1;
      if (args == NULL)
        continue;
      r->args = libpaas_xmalloc0 (json_array_size (args) * sizeof (*r->args));
      r->n_args = json_array_size (args);
      json_array_foreach (args, j, a)
        {
          cleanup_free char *op = NULL;
          int64_t index = -1, value = 0, value2 = 0;
          size_t k;
          fieldf (fa, "%s.args[%zu]", f, j);
          if (!json_is_object (a))
            return bad (err, fa, "expected an object");
          if (get_int (a, fa, "index", 0, 5, &index, NULL, err) < 0
              || get_int (a, fa, "value", INT64_MIN, INT64_MAX, &value, NULL, err) < 0
              || get_int (a, fa, "valueTwo", INT64_MIN, INT64_MAX, &value2, NULL, err) < 0
              || get_string (a, fa, "op", &op, true, err) < 0)
            return -1;
          if (index < 0)
            return bad (err, fa, "missing `index`");
          for (k = 1; k < sizeof (seccomp_ops) / sizeof (seccomp_ops[0]); k++)
            if (strcmp (op, seccomp_ops[k]) == 0)
              break;
          if (k == sizeof (seccomp_ops) / sizeof (seccomp_ops[0]))
            return bad (err, fa, "unknown operator `%s`", op);
          r->args[j] = (struct paas_seccomp_arg) { index, value, value2, k };
        }
    }
  return 0;
}

static int
parse_linux (json_t *root, struct paas_config *c, libpaas_error_t *err)
{
  json_t *linux_;
  cleanup_free char *prop = NULL;
  if (get_object (root, "", "linux", &linux_, false, err) < 0)
    return -1;
  if (linux_ == NULL)
    return 0;
  if (parse_namespaces (linux_, c, err) < 0
      || parse_id_mappings (linux_, "uidMappings", &c->uid_mappings, &c->n_uid_mappings, err) < 0
      || parse_id_mappings (linux_, "gidMappings", &c->gid_mappings, &c->n_gid_mappings, err) < 0
      || parse_devices (linux_, c, err) < 0
      || get_string (linux_, "linux", "cgroupsPath", &c->cgroups_path, false, err) < 0
      || parse_resources (linux_, c, err) < 0
      || get_strv (linux_, "linux", "maskedPaths", &c->masked_paths, &c->n_masked_paths, err) < 0
      || get_strv (linux_, "linux", "readonlyPaths", &c->readonly_paths, &c->n_readonly_paths,
                   err) < 0
      || get_kv (linux_, "linux", "sysctl", &c->sysctl, &c->n_sysctl, err) < 0
      || parse_seccomp (linux_, c, err) < 0
      || get_string (linux_, "linux", "rootfsPropagation", &prop, false, err) < 0
      || get_string (linux_, "linux", "mountLabel", &c->mount_label, false, err) < 0)
    return -1;
  if (c->mount_label && c->mount_label[0] == '\0')
    {
      free (c->mount_label);
      c->mount_label = NULL;
    }
  for (size_t i = 0; i < c->n_masked_paths; i++)
    if (c->masked_paths[i][0] != '/')
      return bad (err, "linux.maskedPaths", "`%s` is not an absolute path", c->masked_paths[i]);
  for (size_t i = 0; i < c->n_readonly_paths; i++)
    if (c->readonly_paths[i][0] != '/')
      return bad (err, "linux.readonlyPaths", "`%s` is not an absolute path",
                  c->readonly_paths[i]);
  /* A sysctl key becomes a path under /proc/sys: keep it to one. */
  for (size_t i = 0; i < c->n_sysctl; i++)
    {
      const char *k = c->sysctl[i].key;
      if (*k == '\0' || *k == '.' || *k == '/' || strstr (k, "..") || strstr (k, "/.")
          || strspn (k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./")
                 != strlen (k))
        return bad (err, "linux.sysctl", "invalid key `%s`", k);
    }
  if (prop && parse_propagation (prop, &c->rootfs_propagation) < 0)
    return bad (err, "linux.rootfsPropagation", "unknown propagation `%s`", prop);
  if (c->namespaces[PAAS_NS_USER].present && c->namespaces[PAAS_NS_USER].path == NULL
      && (c->n_uid_mappings == 0 || c->n_gid_mappings == 0))
    return bad (err, "linux.uidMappings", "a new user namespace needs uidMappings and gidMappings");
  if (c->cgroups_path && c->cgroups_path[0] != '/' && strchr (c->cgroups_path, ':'))
    return bad (err, "linux.cgroupsPath", "`%s` looks like a systemd slice; the systemd cgroup "
                "manager is not supported", c->cgroups_path);
  if (c->cgroups_path)
    for (const char *p = c->cgroups_path; *p; p = strchrnul (p, '/'), p += *p == '/')
      if (strncmp (p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
        return bad (err, "linux.cgroupsPath", "`..` components are not allowed");
  return 0;
}

/* --- hooks --- */

static const char *const hook_kind_names[PAAS_HOOK_KINDS]
    = { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" };

const char *
paas_hook_kind_name (enum paas_hook_kind k)
{
  return hook_kind_names[k];
}

static int
parse_hook (json_t *v, const char *f, struct paas_hook *h, libpaas_error_t *err)
{
  char fp[FIELD_MAX];
  int64_t timeout = 0;
  bool present = false;
  if (!json_is_object (v))
    return bad (err, f, "expected an object");
  if (get_string (v, f, "path", &h->path, true, err) < 0
      || get_strv (v, f, "args", &h->args, &h->n_args, err) < 0
      || get_strv (v, f, "env", &h->env, &h->n_env, err) < 0
      || get_int (v, f, "timeout", INT64_MIN, INT32_MAX, &timeout, &present, err) < 0)
    return -1;
  if (h->path[0] != '/')
    {
      sub (fp, f, "path");
      return bad (err, fp, "`%s` is not an absolute path", h->path);
    }
  if (present && timeout <= 0)
    {
      sub (fp, f, "timeout");
      return bad (err, fp, "must be greater than zero (got %lld)", (long long) timeout);
    }
  h->timeout = (int) timeout;
  return 0;
}

/* Kinds this runtime does not know are ignored, as the spec asks of unknown properties. */
static int
parse_hooks (json_t *top, struct paas_hooks *hooks, libpaas_error_t *err)
{
  json_t *obj;
  char fk[FIELD_MAX], fi[FIELD_MAX];
  if (get_object (top, "", "hooks", &obj, false, err) < 0)
    return -1;
  if (obj == NULL)
    return 0;
  for (int k = 0; k < PAAS_HOOK_KINDS; k++)
    {
      json_t *arr, *v;
      size_t i;
      if (get_array (obj, "hooks", hook_kind_names[k], &arr, err) < 0)
        return -1;
      if (arr == NULL || json_array_size (arr) == 0)
        continue;
      sub (fk, "hooks", hook_kind_names[k]);
      hooks->list[k] = libpaas_xmalloc0 (json_array_size (arr) * sizeof (struct paas_hook));
      hooks->n[k] = json_array_size (arr);
      json_array_foreach (arr, i, v)
        {
          idx (fi, fk, i);
          if (parse_hook (v, fi, &hooks->list[k][i], err) < 0)
            return -1;
        }
    }
  return 0;
}

/* root.path: a relative path must stay inside the bundle (checked lexically; a rootfs that
 * is a symlink is resolved later by the kernel under the same rule of trust as runc, whose
 * bundle author controls it anyway). Absolute paths are allowed, as runc does. */
static int
resolve_root (const char *bundle, const char *path, char **out, libpaas_error_t *err)
{
  int depth = 0;
  if (path[0] == '\0')
    return bad (err, "root.path", "must not be empty");
  if (path[0] != '/')
    {
      const char *p = path;
      while (*p)
        {
          size_t l = strcspn (p, "/");
          if (l == 2 && strncmp (p, "..", 2) == 0)
            depth--;
          else if (l > 0 && !(l == 1 && p[0] == '.'))
            depth++;
          if (depth < 0)
            return bad (err, "root.path", "`%s` escapes the bundle", path);
          p += l;
          while (*p == '/')
            p++;
        }
      *out = libpaas_xasprintf ("%s/%s", bundle, path);
    }
  else
    *out = libpaas_xstrdup (path);
  return 0;
}

static int
parse_root (json_t *top, const char *bundle, struct paas_config *c, libpaas_error_t *err)
{
  json_t *root, *proc;
  cleanup_free char *path = NULL;

  if (get_string (top, "", "ociVersion", &c->oci_version, true, err) < 0)
    return -1;
  if (strncmp (c->oci_version, "1.", 2) != 0)
    return bad (err, "ociVersion", "unsupported version `%s`", c->oci_version);
  if (get_object (top, "", "process", &proc, true, err) < 0
      || parse_process (proc, "process", &c->process, err) < 0)
    return -1;
  if (get_object (top, "", "root", &root, true, err) < 0
      || get_string (root, "root", "path", &path, true, err) < 0
      || get_bool (root, "root", "readonly", &c->root_readonly, err) < 0
      || resolve_root (bundle, path, &c->root_path, err) < 0)
    return -1;
  if (get_string (top, "", "hostname", &c->hostname, false, err) < 0
      || get_kv (top, "", "annotations", &c->annotations, &c->n_annotations, err) < 0)
    return -1;
  {
    json_t *arr, *v;
    size_t i;
    char f[FIELD_MAX];
    if (get_array (top, "", "mounts", &arr, err) < 0)
      return -1;
    if (arr)
      {
        c->mounts = libpaas_xmalloc0 (json_array_size (arr) * sizeof (*c->mounts));
        c->n_mounts = json_array_size (arr);
        json_array_foreach (arr, i, v)
          {
            fieldf (f, "mounts[%zu]", i);
            if (parse_mount (v, f, &c->mounts[i], err) < 0)
              return -1;
          }
      }
  }
  if (parse_linux (top, c, err) < 0 || parse_hooks (top, &c->hooks, err) < 0)
    return -1;
  if (c->hostname && !c->namespaces[PAAS_NS_UTS].present)
    return bad (err, "hostname", "setting the hostname needs a uts namespace");
  return 0;
}

int
paas_config_parse (const char *text, size_t len, const char *bundle, const char *what,
                   struct paas_config **out, libpaas_error_t *err)
{
  json_error_t jerr;
  json_t *top = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  struct paas_config *c;
  int ret;

  if (top == NULL)
    return libpaas_make_error (err, 0, "parse `%s`: line %d column %d: %s", what, jerr.line,
                               jerr.column, jerr.text);
  if (!json_is_object (top))
    {
      json_decref (top);
      return libpaas_make_error (err, 0, "parse `%s`: expected a JSON object", what);
    }
  c = libpaas_xmalloc0 (sizeof (*c));
  ret = parse_root (top, bundle, c, err);
  json_decref (top);
  if (ret < 0)
    {
      paas_config_free (c);
      return libpaas_error_prepend (err, "load `%s`", what);
    }
  *out = c;
  return 0;
}

int
paas_config_load (const char *bundle, struct paas_config **out, libpaas_error_t *err)
{
  cleanup_free char *path = libpaas_xasprintf ("%s/config.json", bundle);
  cleanup_free char *text = NULL;
  size_t len;
  if (libpaas_read_file (path, &text, &len, err) < 0)
    {
      libpaas_error_release (err);
      return libpaas_make_error (err, errno, "open `config.json`");
    }
  return paas_config_parse (text, len, bundle, "config.json", out, err);
}

int
paas_process_load (const char *path, struct paas_process **out, libpaas_error_t *err)
{
  json_error_t jerr;
  json_t *top = json_load_file (path, JSON_REJECT_DUPLICATES, &jerr);
  int ret;
  if (top == NULL)
    return libpaas_make_error (err, 0, "parse `%s`: line %d column %d: %s", path, jerr.line,
                               jerr.column, jerr.text);
  if (!json_is_object (top))
    {
      json_decref (top);
      return libpaas_make_error (err, 0, "parse `%s`: expected a JSON object", path);
    }
  ret = parse_process (top, "", out, err);
  json_decref (top);
  if (ret < 0)
    {
      paas_process_free (*out);
      *out = NULL;
      return libpaas_error_prepend (err, "load `%s`", path);
    }
  return 0;
}

void
paas_process_free (struct paas_process *p)
{
  if (p == NULL)
    return;
  strv_free (p->args);
  strv_free (p->env);
  free (p->cwd);
  free (p->additional_gids);
  free (p->rlimits);
  free (p->apparmor_profile);
  free (p->selinux_label);
  free (p);
}

void
paas_hooks_free (struct paas_hooks *h)
{
  for (int k = 0; k < PAAS_HOOK_KINDS; k++)
    {
      for (size_t i = 0; i < h->n[k]; i++)
        {
          free (h->list[k][i].path);
          strv_free (h->list[k][i].args);
          strv_free (h->list[k][i].env);
        }
      free (h->list[k]);
    }
  memset (h, 0, sizeof (*h));
}

static void
kv_free (struct paas_kv *kv, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (kv[i].key);
      free (kv[i].value);
    }
  free (kv);
}

void
paas_config_free (struct paas_config *c)
{
  if (c == NULL)
    return;
  free (c->oci_version);
  paas_process_free (c->process);
  free (c->root_path);
  free (c->hostname);
  free (c->mount_label);
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      free (c->mounts[i].destination);
      free (c->mounts[i].type);
      free (c->mounts[i].source);
      free (c->mounts[i].data);
    }
  free (c->mounts);
  kv_free (c->annotations, c->n_annotations);
  for (int k = 0; k < PAAS_NS_COUNT; k++)
    free (c->namespaces[k].path);
  free (c->uid_mappings);
  free (c->gid_mappings);
  for (size_t i = 0; i < c->n_devices; i++)
    free (c->devices[i].path);
  free (c->devices);
  free (c->cgroups_path);
  free (c->resources.cpu_cpus);
  free (c->resources.cpu_mems);
  free (c->resources.device_rules);
  strv_free (c->masked_paths);
  strv_free (c->readonly_paths);
  kv_free (c->sysctl, c->n_sysctl);
  if (c->seccomp)
    {
      strv_free (c->seccomp->architectures);
      for (size_t i = 0; i < c->seccomp->n_rules; i++)
        {
          strv_free (c->seccomp->rules[i].names);
          free (c->seccomp->rules[i].args);
        }
      free (c->seccomp->rules);
      free (c->seccomp);
    }
  paas_hooks_free (&c->hooks);
  free (c);
}
