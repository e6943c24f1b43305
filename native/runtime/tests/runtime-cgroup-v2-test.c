/* Unit test of the cgroup v2 writer against a plain directory tree (PAAS_CGROUP_ROOT).
 * Built and run by runtime-cgroup-v2.t; prints TAP-ish lines. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "utils.h"

static int failures;

static void
expect_file (const char *root, const char *rel, const char *want)
{
  cleanup_free char *path = libpaas_xasprintf ("%s/%s", root, rel);
  cleanup_free char *got = NULL;
  libpaas_error_t err = NULL;
  if (want == NULL)
    {
      struct stat st;
      bool absent = stat (path, &st) < 0;
      printf ("%s - %s not written\n", absent ? "ok" : "not ok", rel);
      failures += !absent;
      return;
    }
  if (libpaas_read_file (path, &got, NULL, &err) < 0)
    {
      printf ("not ok - %s = \"%s\" (%s)\n", rel, want, err->msg);
      libpaas_error_release (&err);
      failures++;
      return;
    }
  if (strcmp (got, want) == 0)
    printf ("ok - %s = \"%s\"\n", rel, want);
  else
    {
      printf ("not ok - %s = \"%s\" (got \"%s\")\n", rel, want, got);
      failures++;
    }
}

static void
expect (int cond, const char *desc)
{
  printf ("%s - %s\n", cond ? "ok" : "not ok", desc);
  failures += !cond;
}

static struct paas_config *
parse (const char *resources, const char *cgroups_path)
{
  cleanup_free char *json = libpaas_xasprintf (
      "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"rootfs\"},"
      "\"linux\":{\"cgroupsPath\":\"%s\",\"resources\":%s}}",
      cgroups_path, resources);
  struct paas_config *c = NULL;
  libpaas_error_t err = NULL;
  if (paas_config_parse (json, strlen (json), "/bundle", "config.json", &c, &err) < 0)
    {
      printf ("not ok - parse config (%s)\n", err->msg);
      exit (1);
    }
  return c;
}

static void
run_case (const char *root, const char *id, const char *resources, const char *cgpath,
          const char *const *files)
{
  struct paas_config *c = parse (resources, cgpath);
  struct paas_cgroup cg;
  libpaas_error_t err = NULL;
  int r = paas_cgroup_init (&cg, c->cgroups_path, id, 0, &err);
  expect (r == 0 && cg.ops == &paas_cgroup_v2_ops && cg.fake,
          "PAAS_CGROUP_ROOT selects the v2 writer");
  r = cg.ops->create (&cg, &c->resources, &err);
  expect (r == 0, "create the cgroup tree");
  if (r < 0)
    {
      printf ("# %s\n", err->msg);
      libpaas_error_release (&err);
    }
  r = cg.ops->enter (&cg, 4242, &err);
  expect (r == 0, "enter writes cgroup.procs");
  for (size_t i = 0; files[i]; i += 2)
    expect_file (root, files[i], files[i + 1]);
  {
    char *p = cg.ops->oom_events_path (&cg);
    cleanup_free char *events = libpaas_xasprintf ("%s%s/memory.events", root, cg.path);
    const char *text = "low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\noom_group_kill 0\n";
    expect (p && strcmp (p, events) == 0, "OOM events file is <cgroup>/memory.events");
    libpaas_write_file (events, text, strlen (text), 1, &err);
    expect (paas_cgroup_read_oom_kills (p) == 2, "oom_kill counter read from memory.events");
    unlink (events);
    free (p);
  }
  r = cg.ops->destroy (&cg, &err);
  {
    cleanup_free char *leaf = libpaas_xasprintf ("%s%s", root, cg.path);
    struct stat st;
    expect (r == 0 && stat (leaf, &st) < 0, "destroy removes the leaf");
  }
  libpaas_error_release (&err);
  paas_cgroup_release (&cg);
  paas_config_free (c);
}

int
main (void)
{
  char tmpl[] = "/tmp/paas-cgroup-v2.XXXXXX";
  char *root = mkdtemp (tmpl);
  if (root == NULL)
    return 1;
  setenv ("PAAS_CGROUP_ROOT", root, 1);

  {
    static const char *const files[] = {
      "cgroup.subtree_control", "+memory +cpu +cpuset +pids",
      "paas-unit/cgroup.subtree_control", "+memory +cpu +cpuset +pids",
      "paas-unit/c1/memory.max", "33554432",
      "paas-unit/c1/memory.swap.max", "33554432",
      "paas-unit/c1/memory.low", "16777216",
      "paas-unit/c1/cpu.weight", "39",
      "paas-unit/c1/cpu.max", "50000 100000",
      "paas-unit/c1/cpuset.cpus", "0-1",
      "paas-unit/c1/cpuset.mems", "0",
      "paas-unit/c1/pids.max", "64",
      "paas-unit/c1/cgroup.procs", "4242",
      NULL,
    };
    run_case (root, "c1",
              "{\"memory\":{\"limit\":33554432,\"swap\":67108864,\"reservation\":16777216},"
              "\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000,\"cpus\":\"0-1\","
              "\"mems\":\"0\"},\"pids\":{\"limit\":64}}",
              "/paas-unit/c1", files);
  }
  {
    static const char *const files[] = {
      "paas/c2/memory.max", "max",
      "paas/c2/memory.swap.max", "max",
      "paas/c2/cpu.max", "max 250000",
      "paas/c2/pids.max", "max",
      "paas/c2/cgroup.procs", "4242",
      NULL,
    };
    /* Unlimited values, and the default cgroups path /paas/<id>. */
    run_case (root, "c2",
              "{\"memory\":{\"limit\":-1,\"swap\":-1},\"cpu\":{\"quota\":-1,\"period\":250000},"
              "\"pids\":{\"limit\":0}}",
              "", files);
  }
  {
    static const char *const files[] = {
      "paas/c3/memory.max", "33554432",
      "paas/c3/memory.swappiness", NULL,
      "paas/c3/memory.oom_control", NULL,
      NULL,
    };
    /* v1-only memory settings: v2 has no file for them; ignored as runc does (cgroup-v2.c). */
    run_case (root, "c3",
              "{\"memory\":{\"limit\":33554432,\"swappiness\":10,\"disableOOMKiller\":true}}",
              "", files);
  }
  expect (paas_cgroup_shares_to_weight (2) == 1 && paas_cgroup_shares_to_weight (262144) == 10000
              && paas_cgroup_shares_to_weight (1024) == 39,
          "cpu.shares -> cpu.weight conversion (2->1, 1024->39, 262144->10000)");

  {
    cleanup_free char *cmd = libpaas_xasprintf ("rm -rf '%s'", root);
    if (system (cmd) != 0)
      failures++;
  }
  return failures ? 1 : 0;
}
