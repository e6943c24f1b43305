/**
 * Named and anonymous volumes through the real CLI, paas-shim and paas-runtime, in a temporary
 * PAAS_ROOT: data that outlives its container, Docker's copy-up, in-use refusals, `rm -v`.
 * Containers run without a network (`--network none`): volumes are what is tested. `after`
 * removes every container and volume and checks that no mount is left.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliFor, mountsUnder, tempRoots } from '../support/cli';

const roots = tempRoots();
const { run, ok, removeAll } = cliFor(roots.env);
/** `paas run --rm --network none ...`: a one-shot container. */
const once = (...args: string[]) => run('run', '--rm', '--network', 'none', ...args);

describe('volumes', () => {
  before(() => {
    ok('image', 'bootstrap', 'busybox');
    // an image that prepares a directory for its own user and declares it a VOLUME, as
    // postgres's does with /var/lib/postgresql/data
    const context = mkdtempSync(join(tmpdir(), 'paas-e2e-volctx-'));
    try {
      writeFileSync(
        join(context, 'Dockerfile'),
        'FROM busybox\n' +
          'RUN mkdir -p /db && echo seed > /db/seed && chown -R 1000:1001 /db && chmod 0700 /db\n' +
          'VOLUME /db\n',
      );
      ok('build', '--network', 'none', '-t', 'withvol', context);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  });
  after(() => {
    const left = removeAll();
    const volumes = run('volume', 'ls', '-q').stdout.split('\n').filter(Boolean);
    if (volumes.length) run('volume', 'rm', '-f', ...volumes);
    const mounts = mountsUnder(roots.root);
    roots.cleanup();
    assert.deepEqual(left, [], 'containers left behind');
    assert.deepEqual(mounts, [], 'mounts left behind');
  });

  it('keeps what a container wrote in a named volume for the next container', () => {
    // a missing named volume is made on first use
    ok(
      'run',
      '--network',
      'none',
      '--name',
      'writer',
      '-v',
      'notes:/notes',
      'busybox',
      'sh',
      '-c',
      'echo kept > /notes/f',
    );
    const mounts = JSON.parse(ok('inspect', '-f', '{{json .Mounts}}', 'writer')) as Array<Record<string, unknown>>;
    assert.deepEqual(mounts, [
      {
        Type: 'volume',
        Name: 'notes',
        Source: join(roots.root, 'volumes', 'notes', '_data'),
        Destination: '/notes',
        Driver: 'local',
        Mode: '',
        RW: true,
        Propagation: '',
      },
    ]);
    ok('rm', 'writer');
    const r = once('--mount', 'type=volume,src=notes,dst=/read', 'busybox', 'cat', '/read/f');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'kept\n');
    ok('volume', 'rm', 'notes');
  });

  it("copies the image's directory into an empty volume, with its owner and modes", () => {
    const r = once('-v', 'fresh:/db', 'withvol', 'sh', '-c', 'stat -c "%u:%g %a" /db /db/seed; cat /db/seed');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '1000:1001 700\n1000:1001 644\nseed\n');
    // a volume that has content is not copied into again (an empty one is, as in Docker)
    ok('run', '--rm', '--network', 'none', '-v', 'fresh:/db', 'withvol', 'sh', '-c', 'echo x > /db/mine; rm /db/seed');
    assert.equal(once('-v', 'fresh:/db', 'withvol', 'ls', '/db').stdout, 'mine\n');
    ok('volume', 'rm', 'fresh');
  });

  it('refuses to remove a volume a stopped container uses, and removes it once the container is gone', () => {
    const id = ok('create', '--network', 'none', '-v', 'held:/held', 'busybox', 'true').trim();
    for (const args of [
      ['volume', 'rm', 'held'],
      ['volume', 'rm', '-f', 'held'],
    ]) {
      const refused = run(...args);
      assert.equal(refused.status, 1);
      assert.equal(refused.stderr, `Error response from daemon: remove held: volume is in use - [${id}]\n`);
    }
    assert.match(ok('volume', 'ls', '-q'), /^held$/m);
    assert.equal(ok('volume', 'ls', '-q', '--filter', 'dangling=true', '--filter', 'name=held'), '');
    ok('rm', id);
    assert.equal(ok('volume', 'rm', 'held'), 'held\n');
    const gone = run('volume', 'inspect', 'held');
    assert.equal(gone.status, 1);
    assert.equal(gone.stderr, 'Error: No such volume: held\n');
  });

  it("gives an image's VOLUME an anonymous volume that rm -v removes and plain rm keeps", () => {
    const before = new Set(ok('volume', 'ls', '-q').split('\n').filter(Boolean));
    const added = (): string[] =>
      ok('volume', 'ls', '-q')
        .split('\n')
        .filter((n) => n && !before.has(n));
    ok('create', '--network', 'none', '--name', 'anon1', 'withvol', 'true');
    const [anon] = added();
    assert.match(anon ?? '', /^[a-f0-9]{64}$/);
    ok('rm', '-v', 'anon1');
    assert.deepEqual(added(), [], 'rm -v removed it');

    ok('create', '--network', 'none', '--name', 'anon2', 'withvol', 'true');
    ok('rm', 'anon2');
    const [kept] = added();
    assert.match(kept ?? '', /^[a-f0-9]{64}$/, 'plain rm keeps it, as Docker');
    // prune takes unused anonymous volumes only; a named one stays
    ok('volume', 'create', 'named-idle');
    const pruned = ok('volume', 'prune', '-f');
    assert.match(pruned, new RegExp(`^Deleted Volumes:\\n${kept}\\n\\nTotal reclaimed space: 5B\\n$`));
    assert.deepEqual(added(), ['named-idle']);
    ok('volume', 'rm', 'named-idle');

    // --rm takes its anonymous volumes with it
    assert.equal(once('withvol', 'cat', '/db/seed').stdout, 'seed\n');
    assert.deepEqual(added(), []);
  });

  it('refuses writes through a read-only volume', () => {
    ok('volume', 'create', 'frozen');
    const r = once('-v', 'frozen:/frozen:ro', 'busybox', 'sh', '-c', 'echo x > /frozen/f');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Read-only file system/);
    const m = once('--mount', 'type=volume,src=frozen,dst=/frozen,readonly', 'busybox', 'touch', '/frozen/f');
    assert.notEqual(m.status, 0);
    assert.match(m.stderr, /Read-only file system/);
    ok('volume', 'rm', 'frozen');
  });

  it('creates, lists, inspects and removes volumes as docker volume does', () => {
    assert.equal(ok('volume', 'create', '--label', 'tier=db', 'vol-a'), 'vol-a\n');
    assert.equal(ok('volume', 'create', 'vol-a'), 'vol-a\n', 'creating again returns the volume');
    ok('volume', 'create', 'vol-b');
    const [inspected] = JSON.parse(ok('volume', 'inspect', 'vol-a')) as Array<Record<string, unknown>>;
    assert.deepEqual(
      { ...inspected, CreatedAt: typeof inspected?.['CreatedAt'] },
      {
        CreatedAt: 'string',
        Driver: 'local',
        Labels: { tier: 'db' },
        Mountpoint: join(roots.root, 'volumes', 'vol-a', '_data'),
        Name: 'vol-a',
        Options: null,
        Scope: 'local',
      },
    );
    assert.equal(
      ok('inspect', '-f', '{{.Mountpoint}}', 'vol-a'),
      `${join(roots.root, 'volumes', 'vol-a', '_data')}\n`,
      'docker inspect finds volumes after containers and images',
    );
    assert.match(ok('volume', 'ls'), /^DRIVER\s+VOLUME NAME\nlocal\s+vol-a\nlocal\s+vol-b\n$/);
    assert.equal(ok('volume', 'ls', '-q', '-f', 'label=tier=db'), 'vol-a\n');
    const bad = run('volume', 'create', 'bad/name');
    assert.equal(bad.status, 1);
    assert.match(
      bad.stderr,
      /^Error: create bad\/name: "bad\/name" includes invalid characters for a local volume name/,
    );
    const runBad = once('-v', 'x!:/x', 'busybox', 'true');
    assert.equal(runBad.status, 125);
    assert.match(runBad.stderr, /includes invalid characters for a local volume name/);
    const missing = run('volume', 'rm', 'vol-a', 'nosuch', 'vol-b');
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, 'vol-a\nvol-b\n');
    assert.equal(missing.stderr, 'Error response from daemon: get nosuch: no such volume\n');
    assert.equal(ok('volume', 'rm', '-f', 'nosuch'), 'nosuch\n');
  });
});
