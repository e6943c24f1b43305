/**
 * Containers through the real CLI, paas-shim and paas-runtime, in a temporary PAAS_ROOT.
 * Every test removes what it made; `after` checks that no container, mount or shim is left.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliFor, isAlive, containersUnder, mountsUnder, PAAS, removeAllAndCheck, tempRoots } from '../support/cli';

const roots = tempRoots();
const suiteStart = Date.now();
const { run, ok, removeAll } = cliFor(roots.env);

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('containers', () => {
  before(() => {
    ok('image', 'bootstrap', 'busybox');
  });
  after(() => removeAllAndCheck(roots, { removeAll }, suiteStart));

  it('runs a command attached and removes the container with --rm', () => {
    const r = run('run', '--rm', 'busybox', 'echo', 'hi');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    assert.equal(ok('ps', '-aq'), '');
  });

  it("exits with the container's code, keeps stdout and stderr apart, and 126/127 like docker", () => {
    const r = run('run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3');
    assert.equal(r.status, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    const missing = run('run', '--rm', 'busybox', '/no/such/binary');
    assert.equal(missing.status, 127, missing.stderr);
    const notExec = run('run', '--rm', 'busybox', '/etc/passwd');
    assert.equal(notExec.status, 126, notExec.stderr);
    assert.equal(ok('ps', '-aq'), '');
  });

  it('runs detached: ps, logs, stop, start, exec, rm', async () => {
    const id = ok(
      'run',
      '-d',
      '--name',
      'ticker',
      'busybox',
      'sh',
      '-c',
      'echo hello; echo x > /tmp/f; exec sleep 300',
    ).trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    assert.match(ok('ps'), new RegExp(`${id.slice(0, 12)}\\s+busybox\\s+"sh -c echo hello; …"\\s+.*Up .*ticker`));
    await until('the log line', () => ok('logs', 'ticker') === 'hello\n');
    assert.equal(ok('exec', 'ticker', 'cat', '/tmp/f'), 'x\n');
    assert.match(ok('exec', '-u', 'nobody', 'ticker', 'id'), /uid=65534\(nobody\)/);
    // docker's codes when the command cannot run; the command's own codes pass through
    const missing = run('exec', 'ticker', '/no/such/binary');
    assert.equal(missing.status, 127, missing.stderr);
    assert.match(missing.stderr, /exec `\/no\/such\/binary`: No such file or directory/);
    assert.equal(run('exec', 'ticker', '/etc/passwd').status, 126);
    assert.equal(run('exec', 'ticker', 'sh', '-c', 'echo err >&2; exit 1').status, 1);
    assert.equal(run('exec', 'ticker', 'sh', '-c', 'echo err >&2; exit 1').stderr, 'err\n');
    assert.equal(ok('stop', '-t', '1', 'ticker'), 'ticker\n');
    assert.match(ok('ps', '-a'), /Exited \(137\)/);
    assert.equal(ok('inspect', '-f', '{{.State.Status}}', 'ticker'), 'exited\n');
    assert.equal(ok('start', 'ticker'), 'ticker\n');
    assert.equal(ok('inspect', '-f', '{{.State.Running}}', 'ticker'), 'true\n');
    const refused = run('rm', 'ticker');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /You cannot remove a running container/);
    assert.equal(ok('rm', '-f', 'ticker'), 'ticker\n');
    assert.equal(existsSync(join(roots.root, 'containers', id)), false);
  });

  it("keeps a container's environment host root's alone: its record and bundle config are 0600", () => {
    const id = ok(
      'create',
      '--name',
      'secret-env',
      '-e',
      'DATABASE_URL=postgres://u:hunter2@db/x',
      'busybox',
      'true',
    ).trim();
    for (const file of ['container.json', 'config.json']) {
      const mode = statSync(join(roots.root, 'containers', id, file)).mode & 0o777;
      assert.equal(mode.toString(8), '600', file);
    }
    assert.equal(run('start', '-a', 'secret-env').status, 0, 'the runtime still reads it');
    ok('rm', 'secret-env');
  });

  it('runs an init as pid 1 with --init, passing the exit code through', () => {
    const r = run('run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; exit 5');
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.stdout, /^\/sbin\/docker-init -- sh -c /);
  });

  it('shows processes (top) and cgroup figures (stats), renames, and prunes stopped containers', () => {
    ok('run', '-d', '--name', 'busy', '-m', '64m', '--pids-limit', '20', 'busybox', 'sh', '-c', 'sleep 300 & wait');
    assert.match(ok('top', 'busy'), /UID\s+PID\s+PPID[\s\S]*sleep 300/);
    const stats = ok('stats', '--no-stream', 'busy');
    assert.match(stats, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS\n/);
    assert.match(stats, /busy\s+\d+\.\d\d%\s+[\d.]+[KMG]?i?B \/ 64MiB\s+[\d.]+%\s+.*\s2\n$/);
    ok('rename', 'busy', 'calm');
    assert.match(ok('ps'), /\scalm\n/);
    assert.equal(run('inspect', 'busy').status, 1);
    ok('create', '--name', 'never-started', 'busybox', 'true');
    ok('run', '--name', 'writer', 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /data');
    const pruned = ok('container', 'prune', '-f');
    assert.match(pruned, /^Deleted Containers:\n[a-f0-9]{64}\n[a-f0-9]{64}\n/);
    assert.match(pruned, /Total reclaimed space: 100kB\n$/);
    assert.match(ok('ps', '-a'), /calm/);
    assert.doesNotMatch(ok('ps', '-a'), /never-started/);
    ok('rm', '-f', 'calm');
  });

  it('follows logs with -f until the container exits, and tails with -n', () => {
    ok('run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done');
    const followed = spawnSync(PAAS, ['logs', '-f', 'talker'], { env: roots.env, encoding: 'utf8', timeout: 20_000 });
    assert.equal(followed.status, 0, followed.stderr);
    assert.equal(followed.stdout, 'line 1\nline 2\nline 3\nline 4\nline 5\n');
    assert.equal(ok('logs', '-n', '2', 'talker'), 'line 4\nline 5\n');
    assert.match(ok('logs', '-t', '-n', '1', 'talker'), /^\d{4}-\d\d-\d\dT[\d:.]+Z line 5\n$/);
    ok('rm', 'talker');
  });

  it('keeps the log of every run until rm, as docker does (stop, start, start -a)', () => {
    // each run counts itself in its own rootfs, which outlives stop and start
    const script = 'n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /n; echo "run $n"; echo "err $n" >&2';
    const id = ok('run', '-d', '--name', 'rerun', 'busybox', 'sh', '-c', script).trim();
    assert.equal(ok('wait', 'rerun'), '0\n');
    assert.equal(ok('start', 'rerun'), 'rerun\n');
    assert.equal(ok('wait', 'rerun'), '0\n');
    const between = new Date().toISOString();
    const attached = run('start', '-a', 'rerun');
    assert.equal(attached.status, 0, attached.stderr);
    assert.equal(attached.stdout, 'run 3\n', 'start -a shows only the new run');
    const all = run('logs', 'rerun');
    assert.equal(all.stdout, 'run 1\nrun 2\nrun 3\n');
    assert.equal(all.stderr, 'err 1\nerr 2\nerr 3\n');
    assert.equal(ok('logs', '-n', '4', 'rerun'), 'run 2\nrun 3\n', 'the tail counts both streams');
    assert.equal(ok('logs', '--since', between, 'rerun'), 'run 3\n');
    const followed = spawnSync(PAAS, ['logs', '-f', 'rerun'], { env: roots.env, encoding: 'utf8', timeout: 20_000 });
    assert.equal(followed.stdout, 'run 1\nrun 2\nrun 3\n');
    ok('rm', 'rerun');
    assert.equal(existsSync(join(roots.root, 'containers', id)), false, 'rm leaves nothing of the container');
  });

  it('keeps the image a container uses: rmi refuses it, image prune -a leaves it', () => {
    ok('create', '--name', 'user', 'busybox', 'true');
    const refused = run('rmi', 'busybox');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /container is using its referenced image/);
    ok('image', 'prune', '-a', '-f');
    assert.match(ok('images'), /^busybox\s+latest\s/m);
    ok('start', 'user');
    ok('rm', '-f', 'user');
  });

  it('records an OOM kill', () => {
    const r = run('run', '--name', 'hog', '-m', '32m', 'busybox', 'sh', '-c', 'x=$(tail /dev/zero)');
    assert.equal(r.status, 137, r.stderr);
    assert.equal(ok('inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'hog'), 'true 137\n');
    ok('rm', 'hog');
  });

  it('restarts on failure three times, then stays exited', async () => {
    ok('run', '-d', '--name', 'flaky', '--restart', 'on-failure:3', 'busybox', 'sh', '-c', 'echo try; exit 1');
    await until(
      'three restarts',
      () => ok('inspect', '-f', '{{.State.Status}} {{.RestartCount}}', 'flaky') === 'exited 3\n',
    );
    assert.equal(ok('logs', 'flaky'), 'try\ntry\ntry\ntry\n');
    ok('rm', 'flaky');
  });

  it('keeps a container manageable after its CLI is killed mid-run', async () => {
    const cli = spawn(PAAS, ['run', '--name', 'orphan', 'busybox', 'sleep', '300'], {
      env: roots.env,
      stdio: 'ignore',
    });
    await until('the container to run', () => run('inspect', '-f', '{{.State.Running}}', 'orphan').stdout === 'true\n');
    cli.kill('SIGKILL');
    await new Promise((r) => cli.once('close', r));
    assert.match(ok('ps'), /orphan/);
    const pid = Number(ok('inspect', '-f', '{{.State.Pid}}', 'orphan'));
    assert.ok(isAlive(pid));
    ok('rm', '-f', 'orphan');
    await until('the container to die', () => !isAlive(pid));
  });

  it('isolates: no host processes, no mount, no module loading, read-only /proc/sys', () => {
    const script = [
      `test "$(cat /proc/1/comm)" = sh && test ! -e /proc/${process.pid} && echo pids-ok`,
      'mount -t tmpfs none /mnt 2>/dev/null || echo mount-denied',
      'insmod /nonexistent.ko 2>/dev/null; modprobe dummy 2>/dev/null || echo modules-denied',
      '(echo 1 > /proc/sys/kernel/sysrq) 2>/dev/null || echo procsys-ro',
      'hostname other 2>/dev/null || echo hostname-denied',
    ].join('; ');
    const r = run('run', '--rm', 'busybox', 'sh', '-c', script);
    assert.equal(r.stdout, 'pids-ok\nmount-denied\nmodules-denied\nprocsys-ro\nhostname-denied\n', r.stderr);
  });

  it('feeds stdin to the container with -i', () => {
    const r = spawnSync(PAAS, ['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo done'], {
      env: roots.env,
      input: 'from stdin\n',
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'from stdin\ndone\n');
  });

  it("cannot reach the host's abstract unix sockets", async () => {
    ok('image', 'bootstrap', 'node');
    const name = `paas-e2e-abstract-${process.pid}`;
    const server = createServer((c) => c.end('host secret\n')).listen(`\0${name}`);
    try {
      await new Promise((r) => server.once('listening', r));
      const probe = `require("net").connect("\\0${name}").on("data", (d) => console.log("reached: " + d)).on("error", (e) => console.log(e.code))`;
      const r = run('run', '--rm', 'node:20', 'node', '-e', probe);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'ECONNREFUSED\n');
    } finally {
      server.close();
    }
  });

  it('gives CPU by weight (-c) and a CFS quota only when asked (--cpu-quota, --cpu-period)', () => {
    const cpu = (id: string, file: string): string =>
      readFileSync(`/sys/fs/cgroup/cpu/paas/${id}/${file}`, 'utf8').trim();
    const weighted = ok('run', '-d', '-c', '512', 'busybox', 'sleep', '300').trim();
    const capped = ok(
      'run',
      '-d',
      '-c',
      '256',
      '--cpu-quota',
      '20000',
      '--cpu-period',
      '50000',
      'busybox',
      'sleep',
      '300',
    );
    const clamped = run('create', '-c', '1', 'busybox', 'true');
    try {
      assert.equal(cpu(weighted, 'cpu.shares'), '512');
      assert.equal(cpu(weighted, 'cpu.cfs_quota_us'), '-1', 'a weight alone sets no quota');
      assert.equal(ok('inspect', '-f', '{{.HostConfig.CpuShares}} {{.HostConfig.CpuQuota}}', weighted), '512 0\n');
      assert.equal(cpu(capped.trim(), 'cpu.shares'), '256');
      assert.equal(cpu(capped.trim(), 'cpu.cfs_quota_us'), '20000');
      assert.equal(cpu(capped.trim(), 'cpu.cfs_period_us'), '50000');
      assert.equal(clamped.status, 0, clamped.stderr);
      assert.match(clamped.stderr, /WARNING: Changing requested CPUShares of 1 to 2/);
      assert.equal(ok('inspect', '-f', '{{.HostConfig.CpuShares}}', clamped.stdout.trim()), '2\n');
    } finally {
      ok('rm', '-f', weighted, capped.trim(), ...(clamped.status === 0 ? [clamped.stdout.trim()] : []));
    }
  });

  describe('bad input: a docker-like error, exit 125, nothing left behind', () => {
    const cases: Array<[string, string[], RegExp]> = [
      // --pull never: a missing image is otherwise pulled from Docker Hub, and tests stay off the internet
      ['an unknown image', ['run', '--pull', 'never', 'nosuchimage'], /No such image: nosuchimage/],
      ['a bad memory size', ['run', '-m', '32x', 'busybox', 'true'], /invalid argument "32x" for "-m, --memory" flag/],
      [
        'a malformed CPU weight',
        ['run', '-c', 'lots', 'busybox', 'true'],
        /invalid argument "lots" for "-c, --cpu-shares" flag/,
      ],
      [
        '--cpus with a quota of its own',
        ['run', '--cpus', '1', '--cpu-quota', '50000', 'busybox', 'true'],
        /Conflicting options: Nano CPUs and CPU Quota cannot both be set/,
      ],
      ['a bad restart policy', ['run', '--restart', 'sometimes', 'busybox', 'true'], /invalid restart policy/],
      [
        'a missing volume path',
        ['run', '-v', '/no/such/dir:/data', 'busybox', 'true'],
        /bind source path does not exist/,
      ],
      ['an invalid name', ['run', '--name', 'bad/name', 'busybox', 'true'], /Invalid container name/],
      ['a relative workdir', ['run', '-w', 'rel', 'busybox', 'true'], /needs to be an absolute path/],
    ];
    for (const [what, args, message] of cases) {
      it(`refuses ${what}`, () => {
        const r = run(...args);
        assert.equal(r.status, 125, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(ok('ps', '-aq'), '');
        assert.deepEqual(mountsUnder(roots.root), []);
      });
    }

    it('refuses a name that is taken', () => {
      ok('create', '--name', 'taken', 'busybox', 'true');
      const r = run('run', '--name', 'taken', 'busybox', 'true');
      assert.equal(r.status, 125);
      assert.match(r.stderr, /The container name "\/taken" is already in use/);
      ok('rm', 'taken');
      assert.deepEqual(containersUnder(roots.root), []);
    });
  });
});
