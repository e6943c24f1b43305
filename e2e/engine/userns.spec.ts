/**
 * `paas run --userns=auto` through the real CLI, paas-shim and paas-runtime: root inside is
 * an unprivileged range of the host, the image's layers are idmapped (shared, never
 * chowned), volumes keep the ids they have inside, host files stay the host's; ports, logs
 * and exec work inside. The pool is this suite's own (PAAS_USERNS_POOL), so the host ids it
 * checks are known. `after` removes everything and checks that no mount or range is left.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliFor, mountsUnder, tempRoots } from '../support/cli';

// a pool of two ranges, far above anything else on the host
const POOL_START = 3_000_000_000 - (process.pid % 1000) * 2 * 65536;
const roots = tempRoots();
const env = { ...roots.env, PAAS_USERNS_POOL: `${POOL_START}:${2 * 65536}` };
const { run, ok, removeAll } = cliFor(env);

const hostUid = (pid: number): number =>
  Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const ranges = (): Array<{ key: string; start: number }> => {
  try {
    return (JSON.parse(readFileSync(join(roots.root, 'userns', 'ranges.json'), 'utf8')) as { ranges: [] }).ranges;
  } catch {
    return [];
  }
};
const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

describe('containers in user namespaces', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'paas-e2e-userns-'));
  before(() => {
    ok('image', 'bootstrap', 'busybox');
  });
  after(() => {
    const left = removeAll();
    const volumes = run('volume', 'ls', '-q').stdout.split('\n').filter(Boolean);
    if (volumes.length) run('volume', 'rm', '-f', ...volumes);
    const mounts = mountsUnder(roots.root);
    const held = ranges();
    roots.cleanup();
    rmSync(scratch, { recursive: true, force: true });
    assert.deepEqual(left, [], 'containers left behind');
    assert.deepEqual(mounts, [], 'mounts left behind');
    assert.deepEqual(held, [], 'ranges left behind');
  });

  it("maps root inside to the range's first host id; the image's files are root's inside; exec and logs work", () => {
    ok(
      'run',
      '-d',
      '--name',
      'u1',
      '--network',
      'none',
      '--userns=auto',
      'busybox',
      'sh',
      '-c',
      'echo up; touch /mine; sleep 300',
    );
    const pid = Number(ok('inspect', '-f', '{{.State.Pid}}', 'u1').trim());
    assert.equal(hostUid(pid), POOL_START);
    // the pool is reserved in the subid files (this suite's own: tempRoots gives them)
    for (const file of [roots.env['PAAS_SUBUID_FILE'] ?? '', roots.env['PAAS_SUBGID_FILE'] ?? ''])
      assert.equal(readFileSync(file, 'utf8'), `paas:${POOL_START}:${2 * 65536}\n`);
    assert.equal(ok('exec', 'u1', 'id', '-u'), '0\n');
    assert.equal(ok('exec', 'u1', 'stat', '-c', '%u:%g', '/bin/busybox', '/etc/passwd'), '0:0\n0:0\n');
    assert.equal(ok('exec', 'u1', 'cat', '/proc/self/uid_map').trim().split(/\s+/).join(' '), `0 ${POOL_START} 65536`);
    assert.equal(ok('logs', 'u1'), 'up\n');
    const host = JSON.parse(ok('inspect', '-f', '{{json .HostConfig}}', 'u1')) as Record<string, unknown>;
    assert.equal(host['UsernsMode'], 'auto');
    assert.deepEqual(host['IDMappings'], {
      UidMap: [`0:${POOL_START}:65536`],
      GidMap: [`0:${POOL_START}:65536`],
    });
    // what root wrote lands in the container's upper dir as the range's root on the host
    const id = ok('inspect', '-f', '{{.Id}}', 'u1').trim();
    assert.equal(statSync(join(roots.root, 'containers', id, 'upper', 'mine')).uid, POOL_START);
    // the shared layers themselves were not chowned: a host-namespace container sees root's files
    assert.equal(ok('run', '--rm', '--network', 'none', 'busybox', 'stat', '-c', '%u', '/bin/busybox'), '0\n');
    const plain = ok('create', '--network', 'none', 'busybox').trim();
    assert.equal(ok('inspect', '-f', '{{.HostConfig.UsernsMode}}', plain), 'host\n');
    ok('rm', plain);
  });

  it('gives each container its own range, and rm gives it back', () => {
    ok('run', '-d', '--name', 'u2', '--network', 'none', '--userns=auto', 'busybox', 'sleep', '300');
    const pid = Number(ok('inspect', '-f', '{{.State.Pid}}', 'u2').trim());
    assert.equal(hostUid(pid), POOL_START + 65536);
    // the pool (two ranges) is exhausted: refused, naming it, and nothing is left of the attempt
    const before = ok('ps', '-aq');
    const refused = run('run', '--network', 'none', '--userns=auto', 'busybox', 'true');
    assert.equal(refused.status, 125);
    assert.match(refused.stderr, /user namespace pool exhausted: all 2 ranges of PAAS_USERNS_POOL=/);
    assert.equal(ok('ps', '-aq'), before);
    assert.equal(ranges().length, 2);
    ok('rm', '-f', 'u1');
    assert.deepEqual(
      ranges().map((r) => r.start),
      [POOL_START + 65536],
    );
    ok('rm', '-f', 'u2');
    assert.deepEqual(ranges(), []);
  });

  it("keeps a volume's files with the ids they have inside; a host file stays out of reach", () => {
    chmodSync(scratch, 0o711); // reachable: the file's own mode is what must refuse
    const secret = join(scratch, 'secret');
    writeFileSync(secret, 'host only\n', { mode: 0o600 });
    const r = run(
      'run',
      '--rm',
      '--network',
      'none',
      '--userns=auto',
      '-v',
      'uvol:/data',
      '-v',
      `${secret}:/secret:ro`,
      'busybox',
      'sh',
      '-c',
      'touch /data/byroot; stat -c %u /data/byroot; cat /secret || echo refused',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^0\nrefused\n$/);
    assert.match(r.stderr, /Permission denied/);
    assert.equal(statSync(join(roots.root, 'volumes', 'uvol', '_data', 'byroot')).uid, 0);
    // a host-root container reads it, so the user namespace is what refused
    assert.equal(
      ok('run', '--rm', '--network', 'none', '-v', `${secret}:/secret:ro`, 'busybox', 'cat', '/secret'),
      'host only\n',
    );
    // the same volume reads the same to a host-namespace container
    assert.equal(
      ok('run', '--rm', '--network', 'none', '-v', 'uvol:/data', 'busybox', 'stat', '-c', '%u', '/data/byroot'),
      '0\n',
    );
    ok('volume', 'rm', 'uvol');
    // Docker's copy-up into an empty volume goes through its idmapped view: the image's ids on disk
    const copied = ok(
      'run',
      '--rm',
      '--network',
      'none',
      '--userns=auto',
      '-v',
      'ucopy:/etc',
      'busybox',
      'stat',
      '-c',
      '%u',
      '/etc/passwd',
    );
    assert.equal(copied, '0\n');
    assert.equal(statSync(join(roots.root, 'volumes', 'ucopy', '_data', 'passwd')).uid, 0);
    ok('volume', 'rm', 'ucopy');
  });

  it('answers on a published port (below 1024 inside) on the bridge', async () => {
    const port = await freePort();
    ok(
      'run',
      '-d',
      '--name',
      'web',
      '--userns=auto',
      '-p',
      `127.0.0.1:${port}:80`,
      'busybox',
      'sh',
      '-c',
      'mkdir /w && echo hello > /w/index.html && exec httpd -f -p 80 -h /w',
    );
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${port}/`)
        .then((res) => res.text())
        .catch(() => '');
      if (body === '') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, 'hello\n');
    assert.equal(ok('exec', 'web', 'id', '-u'), '0\n');
    // the exec joined the user namespace, not only became uid 0
    const pid = Number(ok('inspect', '-f', '{{.State.Pid}}', 'web').trim());
    assert.equal(
      ok('exec', 'web', 'cat', '/proc/self/uid_map').trim().split(/\s+/).join(' '),
      `0 ${hostUid(pid)} 65536`,
    );
    // a sysfs of its own netns: not the host's interfaces and veths, nor the host's cgroup
    // tree (every container's /paas/<id>), and read-only with nothing below it writable
    assert.equal(ok('exec', 'web', 'ls', '/sys/class/net'), 'eth0\nlo\n');
    assert.equal(ok('exec', 'web', 'ls', '-A', '/sys/fs/cgroup'), '');
    const sys = ok('exec', 'web', 'cat', '/proc/self/mountinfo')
      .split('\n')
      .map((line) => line.split(' '))
      .filter((f) => f[4] === '/sys' || f[4]?.startsWith('/sys/'));
    assert.deepEqual(
      sys.filter((f) => f[4] === '/sys').map((f) => [f[5], f[f.indexOf('-') + 1]]),
      [['ro,nosuid,nodev,noexec,relatime', 'sysfs']],
    );
    // below /sys only the masked paths (read-only tmpfs or /dev/null binds)
    for (const f of sys.filter((m) => m[4] !== '/sys')) assert.match(f[5] ?? '', /^ro,/, f.join(' '));
    ok('rm', '-f', 'web');
  });

  it('runs --init from a build under a directory others cannot search (a clone under /root)', () => {
    const hidden = mkdtempSync(join(tmpdir(), 'paas-hidden-init-')); // 0700, as /root is
    try {
      const init = join(hidden, 'paas-init');
      writeFileSync(init, readFileSync(join(__dirname, '..', '..', 'native', 'runtime', 'build', 'paas-init')));
      chmodSync(init, 0o755);
      const r = paasWith(
        { PAAS_INIT: init },
        'run',
        '--rm',
        '--init',
        '--network',
        'none',
        '--userns=auto',
        'busybox',
        'sh',
        '-c',
        'cat /proc/1/comm; id -u',
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'docker-init\n0\n');
      assert.equal(statSync(hidden).mode & 0o777, 0o700, 'the build directory was left as it was');
    } finally {
      rmSync(hidden, { recursive: true, force: true });
    }
  });

  it('refuses a bad --userns, a bad pool setting and --network host, leaving nothing behind', () => {
    const before = ok('ps', '-aq');
    const bad = run('run', '--network', 'none', '--userns=private', 'busybox', 'true');
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /invalid argument "private" for "--userns" flag: use "auto" or "host"/);
    const pool = paasWith(
      { PAAS_USERNS_POOL: '100000' },
      'run',
      '--network',
      'none',
      '--userns=auto',
      'busybox',
      'true',
    );
    assert.equal(pool.status, 125);
    assert.match(pool.stderr, /invalid PAAS_USERNS_POOL "100000": expected START:COUNT/);
    // a pool overlapping ids /etc/subuid gives another user: refused, naming the file, line and user
    const subuid = join(scratch, 'subuid-alice');
    writeFileSync(subuid, `# rootless users\nalice:${POOL_START + 65536}:65536\n`);
    const clash = paasWith(
      { PAAS_SUBUID_FILE: subuid },
      'run',
      '--network',
      'none',
      '--userns=auto',
      'busybox',
      'true',
    );
    assert.equal(clash.status, 125);
    assert.ok(
      clash.stderr.includes(
        `invalid PAAS_USERNS_POOL "${POOL_START}:${2 * 65536}": it overlaps ${subuid} line 2 ` +
          `("alice:${POOL_START + 65536}:65536"): ids ${POOL_START + 65536}..${POOL_START + 2 * 65536 - 1} are user alice's`,
      ),
      clash.stderr,
    );
    assert.equal(readFileSync(subuid, 'utf8'), `# rootless users\nalice:${POOL_START + 65536}:65536\n`);
    const host = run('run', '--network', 'host', '--userns=auto', 'busybox', 'true');
    assert.equal(host.status, 125);
    assert.match(host.stderr, /--userns=auto cannot share the host network/);
    // runc refuses the container's own sysfs on the bridge, crun binds the host's: refused up front
    const runc = paasWith({ PAAS_RUNTIME: 'runc' }, 'run', '--userns=auto', 'busybox', 'true');
    assert.equal(runc.status, 125);
    assert.match(runc.stderr, /--userns=auto on the bridge needs paas-runtime, not runc/);
    assert.equal(ok('ps', '-aq'), before);
    assert.deepEqual(ranges(), []);
  });
});

function paasWith(extra: Record<string, string>, ...args: string[]) {
  return cliFor({ ...env, ...extra }).run(...args);
}

describe('user namespaces where the layers cannot be idmapped', () => {
  // the image's snapshots on overlayfs, which refuses idmapped mounts (mount_setattr: EINVAL)
  const roots2 = tempRoots();
  const cli = cliFor({ ...roots2.env, PAAS_USERNS_POOL: `${POOL_START - 4 * 65536}:65536` });
  const snapshots = join(roots2.root, 'snapshots');
  const backing = `${roots2.root}-backing`;
  before(() => {
    for (const d of [snapshots, `${backing}/lower`, `${backing}/upper`, `${backing}/work`])
      mkdirSync(d, { recursive: true });
    const r = spawnSync('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${backing}/lower,upperdir=${backing}/upper,workdir=${backing}/work`,
      snapshots,
    ]);
    assert.equal(r.status, 0, r.stderr?.toString());
    cli.ok('image', 'bootstrap', 'busybox');
  });
  after(() => {
    const left = cli.removeAll();
    spawnSync('umount', [snapshots]);
    const mounts = mountsUnder(roots2.root);
    roots2.cleanup();
    rmSync(backing, { recursive: true, force: true });
    assert.deepEqual(left, [], 'containers left behind');
    assert.deepEqual(mounts, [], 'mounts left behind');
  });

  it("falls back to a chowned copy of the container's layers, and says so", () => {
    const r = cli.run('run', '-d', '--name', 'copied', '--network', 'none', '--userns=auto', 'busybox', 'sleep', '300');
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /UsernsWarning: mount .*idmapped layers: EINVAL.*got a chowned copy of its 1 layers instead \(\d+ ms\)/,
    );
    const pid = Number(cli.ok('inspect', '-f', '{{.State.Pid}}', 'copied').trim());
    assert.equal(hostUid(pid), POOL_START - 4 * 65536);
    assert.equal(cli.ok('exec', 'copied', 'stat', '-c', '%u:%g', '/bin/busybox'), '0:0\n');
    // the shared snapshot itself keeps root's ids
    const id = cli.ok('inspect', '-f', '{{.Id}}', 'copied').trim();
    assert.equal(
      statSync(join(roots2.root, 'containers', id, 'lowers', '0', 'bin', 'busybox')).uid,
      POOL_START - 4 * 65536,
    );
    assert.equal(cli.ok('run', '--rm', '--network', 'none', 'busybox', 'stat', '-c', '%u', '/bin/busybox'), '0\n');
    cli.ok('rm', '-f', 'copied');
  });
});
