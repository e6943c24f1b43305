import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ImageService, imageRoots } from '@paas/images';
import { SpecError } from '../spec';
import { VolumeError } from '../volumes/volume-store';
import { Engine, EngineError, checkReach, execFailureCode, startFailureCode, volumesOf } from './engine';

const created = 'create container `0123`: paas-runtime: ';

describe('startFailureCode', () => {
  it('gives 127 and 126 for the command itself, as docker does', () => {
    assert.equal(startFailureCode(`${created}exec \`nosuch\`: No such file or directory`), 127);
    assert.equal(startFailureCode(`${created}exec \`/etc/passwd\`: Permission denied`), 126);
    assert.equal(startFailureCode(`${created}exec \`/bin/x\`: Exec format error`), 126);
  });

  it('gives 125 for every other refusal, whatever its errno says', () => {
    for (const reason of [
      'set capabilities: Operation not permitted',
      'install seccomp filter: Permission denied',
      'apply AppArmor profile `x`: open `/proc/thread-self/attr/exec`: No such file or directory',
      'setgroups: Operation not permitted',
      'mask `/proc/kcore`: Permission denied',
    ])
      assert.equal(startFailureCode(`${created}${reason}`), 125, reason);
  });
});

describe('execFailureCode', () => {
  const id = 'e782c816b8a7';
  const line = (reason: string) => `paas-runtime: exec in container \`${id}\`: ${reason}\n`;

  it("reads the runtime's own last line as docker's 127/126, other refusals 125", () => {
    assert.equal(execFailureCode(line('exec `nosuch`: No such file or directory'), id), 127);
    assert.equal(execFailureCode(`some output\n${line('exec `/etc/passwd`: Permission denied')}`, id), 126);
    assert.equal(execFailureCode(line('container is not running'), id), 125);
  });

  it("leaves a command's own exit 1 alone, whatever it printed before", () => {
    assert.equal(execFailureCode('', id), undefined);
    assert.equal(execFailureCode('grep: no match\n', id), undefined);
    assert.equal(
      execFailureCode(`${line('exec `x`: No such file or directory')}and then the command ran\n`, id),
      undefined,
    );
    assert.equal(execFailureCode(line('exec `x`: No such file or directory'), 'another-id'), undefined);
  });
});

describe('volumesOf', () => {
  const run = (over: Partial<Parameters<typeof volumesOf>[0]> = {}) => ({ env: [], binds: [], resources: {}, ...over });

  it('adds an anonymous volume for each image VOLUME no bind or volume of the run covers', () => {
    const volumes = volumesOf(
      run({
        binds: [{ source: '/host', destination: '/logs/', readonly: false }],
        volumes: [{ name: 'db', destination: '/var/lib/db', readonly: true }],
      }),
      { '/var/lib/db': {}, '/logs': {}, '/cache': {}, rel: {} },
    );
    assert.deepEqual(volumes, [
      { name: 'db', destination: '/var/lib/db', readonly: true },
      { destination: '/cache', readonly: false },
      { destination: '/rel', readonly: false },
    ]);
    assert.deepEqual(volumesOf(run(), null), []);
  });

  it('refuses a bad volume name and a volume over / before anything is made', () => {
    assert.throws(
      () => volumesOf(run({ volumes: [{ name: 'a/b', destination: '/x', readonly: false }] }), undefined),
      (err: unknown) =>
        err instanceof VolumeError && /includes invalid characters for a local volume name/.test(err.message),
    );
    assert.throws(
      () => volumesOf(run({ volumes: [{ name: 'root', destination: '/.', readonly: false }] }), undefined),
      (err: unknown) =>
        err instanceof SpecError && err.message === "invalid mount config: root: destination can't be '/'",
    );
  });
});

describe('checkReach', () => {
  const range = { first: 20000, last: 20999 };
  const refused = (reason: RegExp) => (err: unknown) =>
    err instanceof EngineError && err.code === 'invalid_params' && reason.test(err.message);

  it('takes IPv4 endpoints on the add-on ports, each once', () => {
    const db = { address: '10.88.0.1', port: 20001 };
    assert.deepEqual(checkReach('bridge', [db, { address: '10.88.0.1', port: 20999 }, { ...db }], range), [
      db,
      { address: '10.88.0.1', port: 20999 },
    ]);
    assert.deepEqual(checkReach('none', [], undefined), [], 'no endpoints need no bridge');
  });

  it('refuses an address that is not IPv4, and a port outside the add-on ports, saying which and why', () => {
    assert.throws(
      () => checkReach('bridge', [{ address: 'db.local', port: 20001 }], range),
      refused(/^invalid reach db\.local:20001: not an IPv4 address$/),
    );
    for (const port of [5432, 19999, 21000, 20001.5]) {
      assert.throws(
        () => checkReach('bridge', [{ address: '10.88.0.1', port }], range),
        refused(
          new RegExp(
            `^invalid reach 10\\.88\\.0\\.1:${port}: port outside the add-on ports 20000-20999 \\(PAAS_ADDON_PORTS\\)$`,
          ),
        ),
      );
    }
  });

  it('refuses endpoints for a container off the bridge, or an engine without one', () => {
    const db = { address: '10.88.0.1', port: 20001 };
    assert.throws(() => checkReach('host', [db], range), refused(/need the bridge network, not host/));
    assert.throws(() => checkReach('bridge', [db], undefined), refused(/need the bridge network, not bridge/));
  });
});

describe('usernsPool', () => {
  it("keeps an old hold while the runtime has its container (a dead builder's RUN step), and not after", async () => {
    const root = mkdtempSync(join(tmpdir(), 'paas-engine-pool-'));
    try {
      const runtimeRoot = join(root, 'run', 'runtime');
      const start = 3_900_000_000; // far above the host's users and subordinate ids
      const engine = new Engine({
        root,
        images: await ImageService.open(imageRoots(root)),
        binaries: { shim: '/nonexistent/shim', runtime: '/nonexistent/runtime', runtimeRoot },
        usernsPool: `${start}:65536`,
        subidFiles: { subuid: join(root, 'subuid'), subgid: join(root, 'subgid') },
      });
      // a step's hold last renewed an hour ago, by a builder that died: its container runs on
      mkdirSync(join(root, 'userns'), { recursive: true });
      const hold = { key: 'app-a', start, holders: ['build-0123456789ab'], since: { 'build-0123456789ab': 0 } };
      writeFileSync(join(root, 'userns', 'ranges.json'), JSON.stringify({ ranges: [hold] }));
      mkdirSync(join(runtimeRoot, 'build-0123456789ab'), { recursive: true });
      await assert.rejects(engine.usernsPool().acquire('app-b', 'c1'), /pool exhausted/);
      // its container gone (killed and deleted): the range may go to another key
      rmSync(join(runtimeRoot, 'build-0123456789ab'), { recursive: true });
      assert.equal((await engine.usernsPool().acquire('app-b', 'c1')).hostId, start);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
