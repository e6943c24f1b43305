#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "utils.h"

int
paas_state_check_id (const char *id, libpaas_error_t *err)
{
  if (id == NULL || *id == '\0')
    return libpaas_make_error (err, 0, "container id missing");
  if (strlen (id) > 1024 || strcmp (id, ".") == 0 || strcmp (id, "..") == 0
      || strspn (id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")
             != strlen (id))
    return libpaas_make_error (err, 0, "invalid container id `%s`", id);
  return 0;
}

int
paas_state_create_dir (const char *root, const char *id, int *dirfd, libpaas_error_t *err)
{
  cleanup_free char *dir = libpaas_xasprintf ("%s/%s", root, id);
  int fd;
  if (mkdir (dir, 0700) < 0)
    {
      if (errno == ENOENT)
        {
          if (libpaas_mkdir_p (root, 0700, err) < 0)
            return -1;
          if (mkdir (dir, 0700) == 0)
            goto made;
        }
      if (errno == EEXIST)
        return libpaas_make_error (err, 0, "container `%s` already exists", id);
      return libpaas_make_error (err, errno, "mkdir `%s`", dir);
    }
made:
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || flock (fd, LOCK_EX) < 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      rmdir (dir);
      return libpaas_make_error (err, e, "lock `%s`", dir);
    }
  *dirfd = fd;
  return 0;
}

int
paas_state_lock (const char *root, const char *id, int *dirfd, libpaas_error_t *err)
{
  cleanup_free char *dir = libpaas_xasprintf ("%s/%s", root, id);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return libpaas_make_error (err, 0, "container `%s` does not exist", id);
      return libpaas_make_error (err, errno, "open `%s`", dir);
    }
  if (flock (fd, LOCK_EX) < 0)
    {
      int e = errno;
      close (fd);
      return libpaas_make_error (err, e, "lock `%s`", dir);
    }
  *dirfd = fd;
  return 0;
}

static void
set_str (json_t *o, const char *k, const char *v)
{
  if (v)
    json_object_set_new (o, k, json_string (v));
}

static json_t *
strv_json (char **v)
{
  json_t *a = json_array ();
  for (; v && *v; v++)
    json_array_append_new (a, json_string (*v));
  return a;
}

/* The same shape as config.json's "hooks" (read back by hooks_from_json). */
static json_t *
hooks_json (const struct paas_hooks *h)
{
  json_t *o = json_object ();
  for (int k = 0; k < PAAS_HOOK_KINDS; k++)
    {
      json_t *arr;
      if (h->n[k] == 0)
        continue;
      arr = json_array ();
      for (size_t i = 0; i < h->n[k]; i++)
        {
          const struct paas_hook *hk = &h->list[k][i];
          json_t *e = json_object ();
          json_object_set_new (e, "path", json_string (hk->path));
          if (hk->args)
            json_object_set_new (e, "args", strv_json (hk->args));
          if (hk->env)
            json_object_set_new (e, "env", strv_json (hk->env));
          if (hk->timeout > 0)
            json_object_set_new (e, "timeout", json_integer (hk->timeout));
          json_array_append_new (arr, e);
        }
      json_object_set_new (o, paas_hook_kind_name (k), arr);
    }
  return o;
}

int
paas_state_write (const char *root, const struct paas_state *s, libpaas_error_t *err)
{
  cleanup_free char *path = libpaas_xasprintf ("%s/%s/state.json", root, s->id);
  cleanup_free char *text = NULL;
  json_t *o = json_object (), *ann = json_object ();
  for (size_t i = 0; i < s->n_annotations; i++)
    json_object_set_new (ann, s->annotations[i].key, json_string (s->annotations[i].value));
  set_str (o, "id", s->id);
  json_object_set_new (o, "pid", json_integer (s->pid));
  json_object_set_new (o, "pidStartTime", json_integer ((json_int_t) s->start_time));
  set_str (o, "bundle", s->bundle);
  set_str (o, "rootfs", s->rootfs);
  set_str (o, "created", s->created);
  json_object_set_new (o, "cgroupVersion", json_integer (s->cgroup_version));
  set_str (o, "cgroupPath", s->cgroup_path);
  set_str (o, "memoryEventsPath", s->oom_events_path);
  set_str (o, "procsPath", s->procs_path);
  if (s->host_mount_id > 0)
    json_object_set_new (o, "hostMountId", json_integer (s->host_mount_id));
  json_object_set_new (o, "annotations", ann);
  for (int k = 0; k < PAAS_HOOK_KINDS; k++)
    if (s->hooks.n[k])
      {
        json_object_set_new (o, "hooks", hooks_json (&s->hooks));
        break;
      }
  text = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  if (text == NULL)
    return libpaas_make_error (err, ENOMEM, "encode `state.json`");
  return libpaas_write_file_atomic (path, text, strlen (text), 0600, err);
}

static char *
dup_str (json_t *o, const char *k)
{
  json_t *v = json_object_get (o, k);
  return json_is_string (v) ? libpaas_xstrdup (json_string_value (v)) : NULL;
}

static char **
strv_from_json (json_t *a, size_t *n)
{
  char **v;
  size_t i, m = 0;
  json_t *e;
  if (!json_is_array (a))
    return NULL;
  v = libpaas_xmalloc0 ((json_array_size (a) + 1) * sizeof (char *));
  json_array_foreach (a, i, e)
    if (json_is_string (e))
      v[m++] = libpaas_xstrdup (json_string_value (e));
  *n = m;
  return v;
}

/* Our own file, written by hooks_json: entries without a path are skipped, not refused. */
static void
hooks_from_json (json_t *o, struct paas_hooks *h)
{
  for (int k = 0; k < PAAS_HOOK_KINDS; k++)
    {
      json_t *arr = json_object_get (o, paas_hook_kind_name (k)), *e;
      size_t i;
      if (!json_is_array (arr) || json_array_size (arr) == 0)
        continue;
      h->list[k] = libpaas_xmalloc0 (json_array_size (arr) * sizeof (struct paas_hook));
      json_array_foreach (arr, i, e)
        {
          struct paas_hook *hk = &h->list[k][h->n[k]];
          if (!json_is_string (json_object_get (e, "path")))
            continue;
          hk->path = libpaas_xstrdup (json_string_value (json_object_get (e, "path")));
          hk->args = strv_from_json (json_object_get (e, "args"), &hk->n_args);
          hk->env = strv_from_json (json_object_get (e, "env"), &hk->n_env);
          hk->timeout = json_integer_value (json_object_get (e, "timeout"));
          h->n[k]++;
        }
    }
}

int
paas_state_read (const char *root, const char *id, struct paas_state *s, libpaas_error_t *err)
{
  cleanup_free char *path = NULL;
  json_error_t jerr;
  json_t *o, *ann, *v;
  const char *k;
  size_t i = 0;

  memset (s, 0, sizeof (*s));
  if (paas_state_check_id (id, err) < 0)
    return -1;
  path = libpaas_xasprintf ("%s/%s/state.json", root, id);
  o = json_load_file (path, 0, &jerr);
  if (o == NULL)
    {
      struct stat st;
      cleanup_free char *dir = libpaas_xasprintf ("%s/%s", root, id);
      if (stat (dir, &st) < 0)
        return libpaas_make_error (err, 0, "container `%s` does not exist", id);
      return libpaas_make_error (err, 0, "read `%s`: %s", path, jerr.text);
    }
  s->id = libpaas_xstrdup (id);
  s->pid = json_integer_value (json_object_get (o, "pid"));
  s->start_time = json_integer_value (json_object_get (o, "pidStartTime"));
  s->bundle = dup_str (o, "bundle");
  s->rootfs = dup_str (o, "rootfs");
  s->created = dup_str (o, "created");
  s->cgroup_version = json_integer_value (json_object_get (o, "cgroupVersion"));
  s->cgroup_path = dup_str (o, "cgroupPath");
  s->oom_events_path = dup_str (o, "memoryEventsPath");
  s->procs_path = dup_str (o, "procsPath");
  s->host_mount_id = json_integer_value (json_object_get (o, "hostMountId"));
  ann = json_object_get (o, "annotations");
  if (json_is_object (ann) && json_object_size (ann))
    {
      s->annotations = libpaas_xmalloc0 (json_object_size (ann) * sizeof (*s->annotations));
      json_object_foreach (ann, k, v)
        if (json_is_string (v))
          {
            s->annotations[i].key = libpaas_xstrdup (k);
            s->annotations[i].value = libpaas_xstrdup (json_string_value (v));
            i++;
          }
      s->n_annotations = i;
    }
  if (json_is_object (json_object_get (o, "hooks")))
    hooks_from_json (json_object_get (o, "hooks"), &s->hooks);
  json_decref (o);
  return 0;
}

int
paas_state_write_cgroup (int dirfd, int version, const char *path, libpaas_error_t *err)
{
  cleanup_free char *text = libpaas_xasprintf ("%d %s\n", version, path);
  cleanup_close int fd = openat (dirfd, "cgroup", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  /* No fsync: it only matters while the runtime lives, and dies with the machine anyway. */
  if (fd < 0 || libpaas_write_all (fd, text, strlen (text)) < 0)
    return libpaas_make_error (err, errno, "write `cgroup` in the state directory");
  return 0;
}

int
paas_state_read_cgroup (const char *root, const char *id, int *version, char **path)
{
  cleanup_free char *file = libpaas_xasprintf ("%s/%s/cgroup", root, id);
  cleanup_free char *text = NULL;
  libpaas_error_t err = NULL;
  char *sp, *nl;
  if (libpaas_read_file (file, &text, NULL, &err) < 0)
    {
      libpaas_error_release (&err);
      return -1;
    }
  sp = strchr (text, ' ');
  if (sp == NULL || (text[0] != '1' && text[0] != '2'))
    return -1;
  nl = strchr (sp, '\n');
  if (nl)
    *nl = '\0';
  *version = text[0] - '0';
  *path = libpaas_xstrdup (sp + 1);
  return 0;
}

int
paas_state_remove (const char *root, const char *id, libpaas_error_t *err)
{
  /* Everything in it is ours: state.json, exec.fifo, cgroup, and the temp file of a
   * state.json write that a killed runtime left behind. */
  cleanup_free char *dir = libpaas_xasprintf ("%s/%s", root, id);
  DIR *d = opendir (dir);
  struct dirent *de;
  if (d == NULL)
    {
      if (errno == ENOENT)
        return 0;
      return libpaas_make_error (err, errno, "open `%s`", dir);
    }
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0
        && unlinkat (dirfd (d), de->d_name, 0) < 0 && errno != ENOENT)
      {
        int e = errno;
        closedir (d);
        return libpaas_make_error (err, e, "unlink `%s/%s`", dir, de->d_name);
      }
  closedir (d);
  if (rmdir (dir) < 0 && errno != ENOENT)
    return libpaas_make_error (err, errno, "rmdir `%s`", dir);
  return 0;
}

void
paas_state_release (struct paas_state *s)
{
  free (s->id);
  free (s->bundle);
  free (s->rootfs);
  free (s->created);
  free (s->cgroup_path);
  free (s->oom_events_path);
  free (s->procs_path);
  for (size_t i = 0; i < s->n_annotations; i++)
    {
      free (s->annotations[i].key);
      free (s->annotations[i].value);
    }
  free (s->annotations);
  paas_hooks_free (&s->hooks);
  memset (s, 0, sizeof (*s));
}

unsigned long long
paas_state_pid_start_time (pid_t pid)
{
  char path[64], buf[1024];
  cleanup_close int fd = -1;
  ssize_t n;
  char *p;
  unsigned long long start = 0;
  if (pid <= 0)
    return 0;
  snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read (fd, buf, sizeof (buf) - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* The command name may contain spaces and parentheses: fields start after the last ')'. */
  p = strrchr (buf, ')');
  if (p == NULL || p[1] != ' ')
    return 0;
  p += 2;
  if (*p == 'Z' || *p == 'X')
    return 0;
  /* state is field 3; starttime is field 22. */
  for (int field = 3; field < 22 && p; field++)
    {
      p = strchr (p, ' ');
      if (p)
        p++;
    }
  if (p)
    start = strtoull (p, NULL, 10);
  return start;
}

const char *
paas_state_status (const char *root, const struct paas_state *s)
{
  unsigned long long st = paas_state_pid_start_time (s->pid);
  cleanup_free char *fifo = NULL;
  if (st == 0 || st != s->start_time)
    return "stopped";
  fifo = libpaas_xasprintf ("%s/%s/exec.fifo", root, s->id);
  return access (fifo, F_OK) == 0 ? "created" : "running";
}

char *
paas_state_to_json (const struct paas_state *s, const char *status)
{
  json_t *o = json_object (), *ann = json_object ();
  char *text;
  int64_t ooms = paas_cgroup_read_oom_kills (s->oom_events_path);
  json_object_set_new (o, "ociVersion", json_string ("1.0.2"));
  set_str (o, "id", s->id);
  set_str (o, "status", status);
  json_object_set_new (o, "pid", json_integer (strcmp (status, "stopped") == 0 ? 0 : s->pid));
  set_str (o, "bundle", s->bundle);
  set_str (o, "rootfs", s->rootfs);
  set_str (o, "created", s->created);
  for (size_t i = 0; i < s->n_annotations; i++)
    json_object_set_new (ann, s->annotations[i].key, json_string (s->annotations[i].value));
  if (ooms >= 0)
    {
      char buf[32];
      snprintf (buf, sizeof (buf), "%lld", (long long) ooms);
      json_object_set_new (ann, "paas.oom_kill", json_string (buf));
    }
  json_object_set_new (o, "annotations", ann);
  text = json_dumps (o, JSON_INDENT (2));
  json_decref (o);
  return text;
}

int
paas_state_foreach (const char *root, int (*fn) (const char *id, void *arg), void *arg,
                    libpaas_error_t *err)
{
  DIR *d = opendir (root);
  struct dirent *de;
  if (d == NULL)
    {
      if (errno == ENOENT)
        return 0;
      return libpaas_make_error (err, errno, "opendir `%s`", root);
    }
  while ((de = readdir (d)))
    {
      if (de->d_name[0] == '.')
        continue;
      if (fn (de->d_name, arg) < 0)
        break;
    }
  closedir (d);
  return 0;
}
