/* The device cgroup on cgroup v2: linux.resources.devices compiled into an eBPF program
 * (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the container's cgroup, as runc and crun do.
 * v2 has no devices.allow/devices.deny files: without the program every device is open to
 * a process with CAP_MKNOD (mknod a node for the host's disk, then read it).
 *
 * Semantics (the same policy as the v1 writer in cgroup-v1.c gives the kernel):
 *   - rules are read in order and the LAST rule matching a request decides; no match denies;
 *   - a rule of type 'a' stands for every device and access whatever its major, minor and
 *     access say (the kernel's v1 "a"): it resets the policy to allow-all or deny-all;
 *   - an allow rule matches a request whose accesses it all grants ("rw" open of a device
 *     allowed "r" only is not matched), a deny rule one it refuses any access of; so a
 *     request is never allowed unless one allow rule grants all of it, later than any deny;
 *   - a major or minor above INT32_MAX names no device (the kernel's dev_t has 12 + 20 bits)
 *     and such a rule is dropped; so is a rule with an empty access.
 * The program tests the rules from last to first and returns at the first that matches.
 *
 * Compiling is separate from installing: paas_devices_compile is pure (the unit test checks
 * its instructions), paas_devices_install does the bpf(2) calls. A program that cannot be
 * loaded or attached is an error: the container is never created without its policy. */
#ifndef PAAS_CGROUP_V2_DEVICES_H
#define PAAS_CGROUP_V2_DEVICES_H

#include <linux/bpf.h>
#include <stddef.h>
#include "config.h"
#include "error.h"

/* Name given to the programs this runtime loads: a later install on the same cgroup detaches
 * the programs of that name it finds there (and leaves other programs alone). */
#define PAAS_DEVICES_PROG_NAME "paas_devices"

/* The devices every container gets after its own rules (the spec's default devices plus
 * pts/ptmx, and mknod of anything): one list for the v1 and the v2 backends. */
extern const struct paas_device_rule paas_default_device_rules[];
extern const size_t paas_n_default_device_rules;

struct paas_devices_prog
{
  struct bpf_insn *insns;
  size_t len;
};

int paas_devices_compile (const struct paas_device_rule *rules, size_t n,
                          struct paas_devices_prog *out, libpaas_error_t *err);
void paas_devices_prog_release (struct paas_devices_prog *prog);

/* Loads prog and attaches it to the cgroup directory open at cgroup_fd (BPF_CGROUP_DEVICE,
 * BPF_F_ALLOW_MULTI), then detaches the programs named PAAS_DEVICES_PROG_NAME that were
 * attached there before (while both are attached, both apply: never a looser window). */
int paas_devices_install (const struct paas_devices_prog *prog, int cgroup_fd,
                          libpaas_error_t *err);

/* The v2 backend's hook: the container's rules followed by the defaults, compiled and
 * installed on the cgroup directory `dir`. No rules: nothing is installed (as on v1). */
int paas_cgroup_v2_set_devices (const char *dir, const struct paas_resources *r,
                                libpaas_error_t *err);

#endif
