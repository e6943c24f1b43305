import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImageConfig } from '@paas/oci';
import { DEFAULT_CAPABILITIES, defaultSeccompProfile } from './defaults';
import { type RunOptions, SpecError, availableCapabilities, buildSpec, processArgs, processEnv } from './spec';
import { UserError, resolveUser } from './user';

const image: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/custom/bin', 'A=image'], Entrypoint: ['/entry'], Cmd: ['default'], WorkingDir: '/app' },
  rootfs: { type: 'layers', diff_ids: [] },
};

const run = (over: Partial<RunOptions> = {}): RunOptions => ({ env: [], binds: [], resources: {}, ...over });
const ctx = {
  rootfs: '/r',
  user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
  cgroupsPath: '/paas/abc',
  network: { kind: 'none' as const },
  etcFiles: [{ source: '/state/hosts', destination: '/etc/hosts' }],
};

describe('process args and env', () => {
  it('combines entrypoint and cmd as docker run does', () => {
    assert.deepEqual(processArgs(image.config, {}), ['/entry', 'default']);
    assert.deepEqual(processArgs(image.config, { cmd: ['x', 'y'] }), ['/entry', 'x', 'y']);
    assert.deepEqual(processArgs(image.config, { entrypoint: ['/other'] }), ['/other']);
    assert.deepEqual(processArgs(image.config, { entrypoint: ['/other'], cmd: ['z'] }), ['/other', 'z']);
    assert.deepEqual(processArgs(image.config, { entrypoint: [], cmd: ['sh'] }), ['sh']);
    assert.throws(
      () => processArgs({}, {}),
      (e: unknown) => e instanceof SpecError && e.message === 'No command specified',
    );
  });

  it('merges env with later values winning and Docker defaults filled in', () => {
    const env = processEnv(image.config, { env: ['A=run', 'B=1'] }, 'host1', '/root');
    assert.deepEqual(env, ['PATH=/custom/bin', 'HOSTNAME=host1', 'A=run', 'B=1', 'HOME=/root']);
  });
});

describe('buildSpec', () => {
  it("applies Docker's defaults: caps, masked paths, seccomp, namespaces", () => {
    const spec = buildSpec(image, run(), 'h', ctx);
    assert.deepEqual(spec.process.capabilities?.bounding, [...DEFAULT_CAPABILITIES]);
    assert.ok(spec.linux.maskedPaths?.includes('/proc/kcore'));
    assert.ok(spec.linux.readonlyPaths?.includes('/proc/sys'));
    assert.equal(spec.linux.seccomp?.defaultAction, 'SCMP_ACT_ALLOW');
    assert.deepEqual(
      spec.linux.namespaces.map((n) => n.type),
      ['pid', 'ipc', 'uts', 'mount', 'network'],
    );
    assert.equal(spec.process.cwd, '/app');
    assert.equal(spec.process.noNewPrivileges, true);
    assert.ok(spec.mounts.some((m) => m.destination === '/etc/hosts' && m.source === '/state/hosts'));
  });

  it('joins a prepared network namespace or shares the host one', () => {
    const joined = buildSpec(image, run(), 'h', { ...ctx, network: { kind: 'path', path: '/run/netns/x' } });
    assert.deepEqual(joined.linux.namespaces.at(-1), { type: 'network', path: '/run/netns/x' });
    const host = buildSpec(image, run(), 'h', { ...ctx, network: { kind: 'host' } });
    assert.equal(
      host.linux.namespaces.some((n) => n.type === 'network'),
      false,
    );
  });

  it('maps a user namespace, asks for a read-only sysfs on the bridge too, and lets its root bind low ports', () => {
    const userns = { hostId: 196608, size: 65536 };
    const bridge = buildSpec(image, run(), 'h', { ...ctx, userns, network: { kind: 'path', path: '/run/netns/x' } });
    assert.ok(bridge.linux.namespaces.some((n) => n.type === 'user' && n.path === undefined));
    assert.deepEqual(bridge.linux.uidMappings, [{ containerID: 0, hostID: 196608, size: 65536 }]);
    assert.deepEqual(bridge.linux.gidMappings, [{ containerID: 0, hostID: 196608, size: 65536 }]);
    // never the host's /sys: it lists every interface and the host's cgroup tree
    assert.deepEqual(
      bridge.mounts.find((m) => m.destination === '/sys'),
      {
        destination: '/sys',
        type: 'sysfs',
        source: 'sysfs',
        options: ['nosuid', 'noexec', 'nodev', 'ro'],
      },
    );
    assert.deepEqual(bridge.linux.sysctl, {
      'net.ipv4.ping_group_range': '0 2147483647',
      'net.ipv4.ip_unprivileged_port_start': '0',
    });
    // a netns of its own belongs to its user namespace: sysfs mounts, the range is its own gids
    const own = buildSpec(image, run(), 'h', { ...ctx, userns });
    assert.equal(own.mounts.find((m) => m.destination === '/sys')?.type, 'sysfs');
    assert.deepEqual(own.linux.sysctl, { 'net.ipv4.ping_group_range': '0 65535' });
    // without one: none of it
    const plain = buildSpec(image, run(), 'h', { ...ctx, network: { kind: 'path', path: '/run/netns/x' } });
    assert.equal(plain.linux.uidMappings, undefined);
    assert.equal(plain.mounts.find((m) => m.destination === '/sys')?.type, 'sysfs');
  });

  it('leaves NET_RAW out (Podman) and lets ping work through ping_group_range in its own netns only', () => {
    const spec = buildSpec(image, run(), 'h', ctx);
    assert.equal(spec.process.capabilities?.bounding?.includes('CAP_NET_RAW'), false);
    assert.deepEqual(spec.linux.sysctl, { 'net.ipv4.ping_group_range': '0 2147483647' });
    const bridged = buildSpec(image, run(), 'h', { ...ctx, network: { kind: 'path', path: '/run/netns/x' } });
    assert.equal(bridged.linux.sysctl?.['net.ipv4.ping_group_range'], '0 2147483647');
    const host = buildSpec(image, run(), 'h', { ...ctx, network: { kind: 'host' } });
    assert.equal(host.linux.sysctl, undefined, "the host's own sysctl is never written");
    const raw = buildSpec(image, run({ capAdd: ['NET_RAW'] }), 'h', ctx);
    assert.ok(raw.process.capabilities?.bounding?.includes('CAP_NET_RAW'));
  });

  it('gives the process a terminal with -t, at the size asked for, with /dev/pts mounted', () => {
    assert.equal(buildSpec(image, run(), 'h', ctx).process.terminal, false);
    assert.equal(buildSpec(image, run(), 'h', ctx).process.consoleSize, undefined);
    const spec = buildSpec(image, run({ tty: true, consoleSize: { rows: 40, cols: 120 } }), 'h', ctx);
    assert.equal(spec.process.terminal, true);
    assert.deepEqual(spec.process.consoleSize, { height: 40, width: 120 });
    assert.ok(spec.mounts.some((m) => m.destination === '/dev/pts' && m.type === 'devpts'));
    assert.equal(
      buildSpec(image, run({ consoleSize: { rows: 40, cols: 120 } }), 'h', ctx).process.consoleSize,
      undefined,
      'a size without a terminal means nothing',
    );
    assert.throws(
      () => buildSpec(image, run({ tty: true, consoleSize: { rows: 0, cols: 70000 } }), 'h', ctx),
      (err: unknown) =>
        err instanceof SpecError &&
        err.message === 'invalid console size 0x70000: rows and columns must be integers from 1 to 65535',
    );
  });

  it('translates resources', () => {
    const spec = buildSpec(image, run({ resources: { memory: 32 << 20, cpus: 1.5, pidsLimit: 50 } }), 'h', ctx);
    assert.deepEqual(spec.linux.resources, {
      devices: [{ allow: false, access: 'rwm' }],
      memory: { limit: 32 << 20, swap: 64 << 20 },
      cpu: { quota: 150000, period: 100000 },
      pids: { limit: 50 },
    });
  });

  it('gives CPU weight as shares, and a quota and period as asked (--cpu-shares, --cpu-quota, --cpu-period)', () => {
    const weighted = buildSpec(image, run({ resources: { cpuShares: 512 } }), 'h', ctx);
    assert.deepEqual(weighted.linux.resources?.cpu, { shares: 512 }, 'a weight alone sets no quota');
    const both = buildSpec(image, run({ resources: { cpuShares: 256, cpuQuota: 25000, cpuPeriod: 50000 } }), 'h', ctx);
    assert.deepEqual(both.linux.resources?.cpu, { shares: 256, quota: 25000, period: 50000 });
    const none = buildSpec(image, run(), 'h', ctx);
    assert.equal(none.linux.resources?.cpu, undefined, 'no CPU setting: the kernel default weight, no quota');
  });

  it('gives --privileged and --cap-add ALL the capabilities of the bounding set, as Docker', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-caps-'));
    try {
      // CAP_CHOWN (0), CAP_KILL (5), CAP_SYS_ADMIN (21) and nothing else
      writeFileSync(join(dir, 'status'), 'Name:\tx\nCapBnd:\t0000000000200021\n');
      assert.deepEqual(availableCapabilities(join(dir, 'status')), ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const privileged = buildSpec(image, run({ privileged: true }), 'h', ctx).process.capabilities?.bounding;
    assert.deepEqual(privileged, availableCapabilities());
    const all = buildSpec(image, run({ capAdd: ['ALL'], capDrop: ['NET_ADMIN'] }), 'h', ctx);
    assert.ok(!all.process.capabilities?.bounding.includes('CAP_NET_ADMIN'));
    assert.ok(all.process.capabilities?.bounding.includes('CAP_SYS_ADMIN'));
  });

  it('denies every device but the runtime defaults, unless privileged (as Docker)', () => {
    assert.deepEqual(buildSpec(image, run(), 'h', ctx).linux.resources?.devices, [{ allow: false, access: 'rwm' }]);
    const privileged = buildSpec(image, run({ privileged: true }), 'h', ctx);
    assert.deepEqual(privileged.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
  });

  it('adds and drops capabilities, and rejects unknown ones', () => {
    const spec = buildSpec(image, run({ capDrop: ['ALL'], capAdd: ['net_admin', 'CAP_CHOWN'] }), 'h', ctx);
    assert.deepEqual(spec.process.capabilities?.effective, ['CAP_NET_ADMIN', 'CAP_CHOWN']);
    assert.throws(() => buildSpec(image, run({ capAdd: ['FLY'] }), 'h', ctx), /unknown capability: "FLY"/);
  });

  it('refuses relative working dirs and mount paths', () => {
    assert.throws(() => buildSpec(image, run({ workdir: 'rel' }), 'h', ctx), /needs to be an absolute path/);
    assert.throws(
      () => buildSpec(image, run({ binds: [{ source: '/x', destination: 'y', readonly: false }] }), 'h', ctx),
      /mount path must be absolute/,
    );
  });

  it('mounts binds and volumes once each, a parent before what is mounted below it', () => {
    const spec = buildSpec(
      image,
      run({ binds: [{ source: '/host/logs', destination: '/data/logs/', readonly: true }] }),
      'h',
      { ...ctx, volumes: [{ source: '/v/db/_data', destination: '/data', readonly: false }] },
    );
    const user = spec.mounts.filter((m) => m.source === '/host/logs' || m.source === '/v/db/_data');
    assert.deepEqual(
      user.map((m) => [m.destination, m.source, m.options]),
      [
        ['/data', '/v/db/_data', ['rbind', 'rprivate', 'rw']],
        ['/data/logs', '/host/logs', ['rbind', 'rprivate', 'ro']],
      ],
    );
    assert.throws(
      () =>
        buildSpec(image, run({ binds: [{ source: '/a', destination: '/data/', readonly: false }] }), 'h', {
          ...ctx,
          volumes: [{ source: '/v', destination: '/data', readonly: false }],
        }),
      (e: unknown) => e instanceof SpecError && e.message === 'Duplicate mount point: /data',
    );
  });

  it('ships a seccomp profile that blocks what Docker blocks', () => {
    const profile = defaultSeccompProfile();
    const blocked = profile.syscalls.flatMap((s) => (s.errnoRet === 1 && !s.args ? s.names : []));
    for (const name of ['mount', 'unshare', 'keyctl', 'add_key', 'init_module', 'reboot', 'setns', 'bpf']) {
      assert.ok(blocked.includes(name), name);
    }
  });
});

describe('resolveUser', () => {
  let rootfs: string;
  before(() => {
    rootfs = mkdtempSync(join(tmpdir(), 'paas-user-'));
    mkdirSync(join(rootfs, 'etc'));
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\nwheel:x:10:app\n');
  });
  after(() => rmSync(rootfs, { recursive: true, force: true }));

  it('resolves names, numbers and groups from the container files', () => {
    assert.deepEqual(resolveUser(rootfs, undefined), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
    assert.deepEqual(resolveUser(rootfs, 'app'), { uid: 1000, gid: 1000, additionalGids: [10], home: '/home/app' });
    assert.deepEqual(resolveUser(rootfs, '1000:wheel'), { uid: 1000, gid: 10, additionalGids: [], home: '/home/app' });
    assert.deepEqual(resolveUser(rootfs, '4242:4343'), { uid: 4242, gid: 4343, additionalGids: [], home: '/' });
    assert.throws(() => resolveUser(rootfs, 'ghost'), UserError);
    assert.throws(() => resolveUser(rootfs, 'app:nogroup'), /unable to find group nogroup/);
  });

  it('never reads the host through a symlinked /etc/passwd', () => {
    const evil = mkdtempSync(join(tmpdir(), 'paas-user-evil-'));
    try {
      mkdirSync(join(evil, 'etc'));
      symlinkSync('../../../../../../etc/passwd', join(evil, 'etc/passwd'));
      // resolves to <rootfs>/etc/passwd, which is the link itself: a loop, not the host file
      assert.throws(() => resolveUser(evil, 'root'), /unable to find user root/);
      symlinkSync('/etc/group', join(evil, 'etc/group'));
      assert.deepEqual(resolveUser(evil, '0:0').additionalGids, []);
    } finally {
      rmSync(evil, { recursive: true, force: true });
    }
  });
});
