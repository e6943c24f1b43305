import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ContainerRecord, Engine, bridgeSettings, engineOptions } from '@paas/engine';
import { ImageService, bootstrapImage, imageRoots } from '@paas/images';
import { EngineRuntime } from './runtime';

/** An engine of which only the lease file is read: each read resolves when the spec says. */
class FakeLeases {
  readonly leases: Record<string, { ip: string; ports: [] }> = {};
  readonly reads: ((value: Record<string, { ip: string; ports: [] }>) => void)[] = [];

  networkLeases(): Promise<Record<string, { ip: string; ports: [] }>> {
    return new Promise((resolve) => this.reads.push(resolve));
  }

  /** Ends the `n`th read with the leases as they are now. */
  answer(n: number): void {
    this.reads[n]?.({ ...this.leases });
  }
}

const record = (id: string): ContainerRecord => ({ id }) as ContainerRecord;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('EngineRuntime addresses', () => {
  it('reads the lease file once for instances that ask together, and again for those asking during a read', async () => {
    const engine = new FakeLeases();
    const runtime = new EngineRuntime(engine as unknown as Engine);
    engine.leases['c1'] = { ip: '10.0.0.1', ports: [] };
    engine.leases['c2'] = { ip: '10.0.0.2', ports: [] };

    const together = [runtime.address(record('c1')), runtime.address(record('c2'))];
    await turn();
    assert.equal(engine.reads.length, 1, 'one read for both');

    // c3 gets its lease and asks while the first read is under way: the first read may not
    // have seen it, so c3 waits for a read that starts after it asked
    engine.leases['c3'] = { ip: '10.0.0.3', ports: [] };
    const later = [runtime.address(record('c3')), runtime.address(record('c1'))];
    engine.answer(0);
    assert.deepEqual(await Promise.all(together), [engine.leases['c1'], engine.leases['c2']]);
    await turn();
    assert.equal(engine.reads.length, 2, 'the callers that came during the first read share the second');
    engine.answer(1);
    assert.deepEqual(await Promise.all(later), [engine.leases['c3'], engine.leases['c1']]);

    const none = runtime.address(record('c4'));
    await turn();
    engine.answer(2);
    assert.equal(await none, null, 'a container without a lease has no address');
  });
});

/** A real engine on a temporary root with busybox, for one suite: made before its tests, taken down after them. */
function realEngine(prefix: string): { engine: Engine; runtime: EngineRuntime } {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const paths = { root: join(base, 'root'), run: join(base, 'run') };
  const native = resolve(__dirname, '..', '..', '..', 'native', 'runtime', 'build');
  const real = {} as { engine: Engine; runtime: EngineRuntime };
  before(async () => {
    const images = await ImageService.open(imageRoots(paths.root));
    await bootstrapImage(images, 'busybox');
    const settings = {
      runtime: join(native, 'paas-runtime'),
      shim: join(native, 'paas-shim'),
      init: join(native, 'paas-init'),
      // never attached: the containers here have no network
      bridge: bridgeSettings({ bridge: 'paas-unused', subnet: '10.239.0.0/24' }),
    };
    real.engine = new Engine(engineOptions(paths, settings, images));
    real.runtime = new EngineRuntime(real.engine);
  });
  after(async () => {
    await real.engine?.takeDown(await real.engine.containers.list(), { graceful: false });
    rmSync(base, { recursive: true, force: true });
  });
  return real;
}

describe('EngineRuntime volumes (a real engine on a temporary root)', () => {
  const real = realEngine('paas-agent-runtime-');

  /** A container (never started) mounting the add-on's named volume and an anonymous one. */
  const addonLike = (): Promise<ContainerRecord> =>
    real.runtime.create('busybox', {
      network: 'none',
      run: {
        cmd: ['true'],
        env: [],
        binds: [],
        resources: {},
        volumes: [
          { name: 'addon-data', destination: '/data', readonly: false },
          { destination: '/scratch', readonly: false },
        ],
      },
    });

  it("removing a container takes its anonymous volumes and never a named one (an add-on's data)", async () => {
    const record = await addonLike();
    const anonymous = record.run.volumes?.find((v) => v.anonymous)?.name ?? '';
    assert.match(anonymous, /^[0-9a-f]{64}$/);
    await real.runtime.remove(record);
    assert.ok(await real.engine.volumes.find('addon-data'), 'the named volume stays');
    assert.equal(await real.engine.volumes.find(anonymous), undefined, 'the anonymous one went with it');
  });

  it('removes a named volume only once no container uses it; one that is not there counts as removed', async () => {
    const record = await addonLike();
    assert.equal(await real.runtime.removeVolume('addon-data'), false, 'in use');
    assert.ok(await real.engine.volumes.find('addon-data'));
    await real.runtime.remove(record);
    assert.equal(await real.runtime.removeVolume('addon-data'), true);
    assert.equal(await real.engine.volumes.find('addon-data'), undefined);
    assert.equal(await real.runtime.removeVolume('addon-data'), true, 'gone already');
  });
});

describe('EngineRuntime watch (a real engine on a temporary root)', () => {
  const real = realEngine('paas-agent-watch-');

  const until = async (what: string, ok: () => boolean): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const size = (file: string): number => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };

  it("says a container's state may have changed when its shim writes, not at each line of its output", async () => {
    const record = await real.runtime.create('busybox', {
      network: 'none',
      run: {
        cmd: ['sh', '-c', 'while true; do echo line; sleep 0.02; done'],
        env: [],
        binds: [],
        resources: {},
      },
    });
    const stop = new AbortController();
    let changes = 0;
    try {
      // watched once it started, as the agent does (the shim makes the directory)
      await real.runtime.start(record);
      const log = real.engine.logPath(record);
      await until('the container runs and writes', () => size(log) > 100);
      real.runtime.watch(record, () => changes++, stop.signal);
      const from = size(log);
      await until('fifty more lines', () => size(log) > from + 50 * 'line\n'.length);
      assert.equal(changes, 0, 'lines of output are no change of state');
      await real.runtime.stop(record, 1);
      await until('the stop is told', () => changes > 0);
    } finally {
      stop.abort();
      await real.runtime.remove(record);
    }
  });
});
