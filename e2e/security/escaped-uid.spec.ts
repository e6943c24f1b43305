/**
 * A process that escapes a `--userns=auto` container runs on the host as a uid of its range
 * (hostId + n). Tried here as exactly that: a plain host process with the range's root ids and
 * no supplementary groups (setpriv), which tries to list and read the engine's trees (image
 * snapshots, the content store, the image index, the ranges file, the builder's cache, another
 * container's upper, rootfs, log and volume view, a volume's data) and to run a setuid-root
 * file a build put in an image layer. Every attempt must be refused with EACCES; its own
 * container's directory stays reachable (the runtime opens its bundle as that uid).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliFor, mountsUnder, tempRoots, WORKSPACE } from '../support/cli';

// a pool of two ranges, far above anything else on the host (and away from userns.spec's)
const POOL_START = 3_500_000_000 - (process.pid % 1000) * 2 * 65536;
const roots = tempRoots();
const env = { ...roots.env, PAAS_USERNS_POOL: `${POOL_START}:${2 * 65536}` };
const { run, ok, removeAll } = cliFor(env);

/**
 * `argv` as a plain host process of uid and gid `id`, without supplementary groups. Through
 * sh: setpriv execs its command still holding root's capabilities (they go only at that
 * execve), so the lookup of argv[0] itself would be root's.
 */
function as(id: number, ...argv: string[]): { status: number | null; out: string } {
  const drop = [`--reuid=${id}`, `--regid=${id}`, '--clear-groups', '--', 'sh', '-c', 'exec "$@"', 'sh'];
  const r = spawnSync('setpriv', [...drop, ...argv], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('an escaped container process (a host uid of its range)', () => {
  const ids: Record<string, string> = {};
  let escaped = 0;
  before(() => {
    ok('image', 'bootstrap', 'busybox');
    // a build that leaves a setuid-root file in a layer, and a builder cache entry
    const ctx = join(roots.root, '..', 'ctx');
    mkdirSync(ctx);
    const cc = spawnSync('cc', [
      '-static',
      '-O2',
      '-o',
      join(ctx, 'euid'),
      join(WORKSPACE, 'e2e', 'security', 'support', 'euid.c'),
    ]);
    assert.equal(cc.status, 0, String(cc.stderr));
    writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM busybox\nCOPY euid /usr/local/bin/euid\nRUN chmod 4755 /usr/local/bin/euid\n',
    );
    ok('build', '--network', 'none', '-t', 'suid', ctx);
    ok('volume', 'create', 'secrets');
    for (const name of ['a', 'b']) {
      ok(
        'run',
        '-d',
        '--name',
        name,
        '--network',
        'none',
        '--userns=auto',
        '-v',
        `${name === 'b' ? 'secrets' : 'avol'}:/data`,
        'suid',
        'sh',
        '-c',
        `echo ${name}-upper > /upper-file; echo ${name}-volume > /data/file; echo ${name}-log; sleep 300`,
      );
      ids[name] = ok('inspect', '-f', '{{.Id}}', name).trim();
    }
    escaped = Number(
      readFileSync(`/proc/${ok('inspect', '-f', '{{.State.Pid}}', 'a').trim()}/status`, 'utf8').match(
        /^Uid:\s+(\d+)/m,
      )?.[1],
    );
    assert.equal(escaped, POOL_START);
  });
  after(() => {
    const left = removeAll();
    run('volume', 'rm', '-f', 'secrets', 'avol');
    const mounts = mountsUnder(roots.root);
    roots.cleanup();
    assert.deepEqual(left.length, 2, 'the two containers');
    assert.deepEqual(mounts, [], 'mounts left behind');
  });

  /** Every path must exist (root sees it) and be refused to the escaped uid with EACCES. */
  function refused(argv: (path: string) => string[], paths: string[]): void {
    for (const path of paths) {
      assert.equal(spawnSync(argv(path)[0] ?? '', argv(path).slice(1)).status, 0, `root reaches ${path}`);
      const r = as(escaped, ...argv(path));
      assert.notEqual(r.status, 0, `${path} reached by uid ${escaped}: ${r.out}`);
      assert.match(r.out, /Permission denied/, path);
    }
  }

  it("cannot list or read the engine's image trees, its ranges or the builder's cache", () => {
    const snapshots = join(roots.root, 'snapshots');
    const snapshot = readdirSync(snapshots).find((s) => existsSync(join(snapshots, s, 'fs', 'etc', 'passwd'))) ?? '';
    const blobs = join(roots.root, 'content', 'blobs', 'sha256');
    const blob = readdirSync(blobs)[0] ?? '';
    refused(
      (p) => ['ls', p],
      [
        snapshots,
        join(snapshots, snapshot, 'fs'),
        blobs,
        join(roots.root, 'builder', 'cache'),
        join(roots.root, 'volumes'),
      ],
    );
    refused(
      (p) => ['cat', p],
      [
        join(snapshots, snapshot, 'fs', 'etc', 'passwd'),
        join(blobs, blob),
        join(roots.root, 'images', 'index.json'),
        join(roots.root, 'userns', 'ranges.json'),
      ],
    );
  });

  it('cannot run a setuid-root file of an image layer', () => {
    const snapshots = join(roots.root, 'snapshots');
    const suid = readdirSync(snapshots)
      .map((s) => join(snapshots, s, 'fs', 'usr', 'local', 'bin', 'euid'))
      .filter((p) => spawnSync('test', ['-u', p]).status === 0);
    assert.equal(suid.length, 1, 'the build left one setuid file in a layer');
    refused((p) => [p], suid);
  });

  it("cannot reach another container's upper, rootfs, log or volume, nor a volume's data", () => {
    const b = join(roots.root, 'containers', ids['b'] ?? '');
    refused(
      (p) => ['cat', p],
      [
        join(b, 'upper', 'upper-file'),
        join(b, 'rootfs', 'upper-file'),
        join(b, 'rootfs', 'usr', 'local', 'bin', 'euid'),
        join(b, 'volumes', '0', 'file'),
        join(b, 'shim', 'container.log'),
        join(b, 'config.json'),
        join(roots.root, 'volumes', 'secrets', '_data', 'file'),
      ],
    );
    refused((p) => ['ls', p], [b]);
    // its own container stays its own: the runtime opens the bundle as this uid
    const a = join(roots.root, 'containers', ids['a'] ?? '');
    assert.equal(as(escaped, 'cat', join(a, 'rootfs', 'upper-file')).out, 'a-upper\n');
    assert.equal(ok('exec', 'a', 'cat', '/data/file'), 'a-volume\n');
  });
});
