/**
 * The runtime fails closed: a security setting that cannot be applied fails the container's
 * creation, never a container that runs without it. Driven through the real `paas` CLI (shim
 * and paas-runtime), each run under a parent that has dropped one capability from its
 * bounding set (setpriv), so that the engine cannot give what the container's config asks:
 * a default capability, an added one, the user switch, the supplementary groups. Each case
 * checks exit 125, the runtime's reason on stderr, that the command never ran, and that
 * nothing is left: no container, mount, cgroup, runtime state or process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cgroupsLeftSince, cliFor, mountsUnder, PAAS, type Result, tempRoots } from '../support/cli';

const startedAt = Date.now();
const roots = tempRoots();
const { run, ok, removeAll } = cliFor(roots.env);
const MARK = 'COMMAND-RAN';

/** `paas ARGS` as a child of a parent without `cap` in its bounding set. */
function withoutCap(cap: string, ...args: string[]): Result {
  const r = spawnSync('setpriv', ['--bounding-set', `-${cap}`, PAAS, ...args], {
    env: roots.env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Processes whose command line names this test's roots (a shim, runtime or container init). */
function processesOfRoots(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue; // exited meanwhile
    }
    if (cmdline.includes(roots.run) || cmdline.includes(roots.root)) found.push(`${pid} ${cmdline}`);
  }
  return found;
}

/** Everything a failed creation could leave behind. */
function leftovers(): Record<string, string[]> {
  const runtimeRoot = join(roots.run, 'runtime');
  let state: string[] = [];
  try {
    state = readdirSync(runtimeRoot);
  } catch {
    // never created
  }
  return {
    containers: run('ps', '-aq').stdout.split('\n').filter(Boolean),
    mounts: mountsUnder(roots.root),
    cgroups: cgroupsLeftSince(startedAt),
    runtimeState: state,
    processes: processesOfRoots(),
  };
}

const NOTHING = { containers: [], mounts: [], cgroups: [], runtimeState: [], processes: [] };

before(() => {
  ok('image', 'bootstrap', 'busybox');
});

after(() => {
  const left = removeAll();
  const mounts = mountsUnder(roots.root);
  roots.cleanup();
  assert.deepEqual({ left, mounts }, { left: [], mounts: [] }, 'the suite left something behind');
});

describe('paas run: a security setting the runtime cannot apply fails with 125 and leaves nothing', () => {
  const cases: Array<{ name: string; cap: string; args: string[]; reason: RegExp }> = [
    {
      name: 'a default capability the engine lacks',
      cap: 'net_bind_service',
      args: [],
      reason: /set capabilities: Operation not permitted/,
    },
    {
      name: 'an added capability the engine lacks (--cap-add)',
      cap: 'sys_module',
      args: ['--cap-add', 'SYS_MODULE'],
      reason: /set capabilities: Operation not permitted/,
    },
    {
      name: 'a user the engine cannot switch to (--user)',
      cap: 'setuid',
      args: ['--user', '65534'],
      reason: /setresuid `65534`: Operation not permitted/,
    },
    {
      name: 'supplementary groups the engine cannot set',
      cap: 'setgid',
      args: [],
      reason: /setgroups: Operation not permitted/,
    },
    {
      name: 'on the host network too',
      cap: 'net_bind_service',
      args: ['--network', 'host'],
      reason: /set capabilities: Operation not permitted/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = withoutCap(c.cap, 'run', '--rm', ...c.args, 'busybox', 'sh', '-c', `echo ${MARK}`);
      assert.equal(r.status, 125, `${r.stdout}${r.stderr}`);
      assert.match(r.stderr, c.reason);
      assert.match(r.stderr, /^Error: create container `[0-9a-f]{64}`: paas-runtime: /m);
      assert.doesNotMatch(`${r.stdout}${r.stderr}`, new RegExp(MARK));
      assert.deepEqual(leftovers(), NOTHING);
    });
  }

  it('without --rm the container stays created (as Docker), start fails with the same reason, rm leaves nothing', () => {
    const name = 'fail-closed';
    try {
      const r = withoutCap('net_bind_service', 'run', '--name', name, 'busybox', 'sh', '-c', `echo ${MARK}`);
      assert.equal(r.status, 125, r.stderr);
      assert.match(r.stderr, /set capabilities: Operation not permitted/);
      assert.match(ok('ps', '-a'), new RegExp(`\\sCreated\\s.*\\s${name}$`, 'm'));
      const again = withoutCap('net_bind_service', 'start', name);
      assert.equal(again.status, 1, again.stderr); // docker start's code for a daemon error
      assert.match(again.stderr, /set capabilities: Operation not permitted/);
      assert.doesNotMatch(ok('logs', name), new RegExp(MARK));
    } finally {
      run('rm', '-f', name);
    }
    assert.deepEqual(leftovers(), NOTHING);
  });

  it('control: the same runs without the parent dropping anything', () => {
    assert.equal(ok('run', '--rm', '--user', '65534', 'busybox', 'sh', '-c', `echo ${MARK}`), `${MARK}\n`);
    assert.deepEqual(leftovers(), NOTHING);
  });
});

describe('paas exec: a setting the runtime cannot apply fails the exec, not the container', () => {
  it('reports the reason, exits non-zero and never runs the command', () => {
    const name = 'exec-target';
    ok('run', '-d', '--name', name, 'busybox', 'sleep', '300');
    try {
      const r = withoutCap('net_bind_service', 'exec', name, 'sh', '-c', `echo ${MARK}`);
      assert.notEqual(r.status, 0, r.stderr);
      assert.match(r.stderr, /exec in container `[0-9a-f]{64}`: set capabilities: Operation not permitted/);
      assert.doesNotMatch(r.stdout, new RegExp(MARK));
      assert.equal(ok('exec', name, 'sh', '-c', `echo ${MARK}`), `${MARK}\n`);
    } finally {
      run('rm', '-f', name);
    }
    assert.deepEqual(leftovers(), NOTHING);
  });
});
