import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageService, imageRoots } from '@paas/images';
import { bridgeSettings } from '../network';
import { type EngineSettings, engineOptions, engineSettingsFromEnv, openEngine } from './open-engine';

const settings: EngineSettings = {
  runtime: '/opt/paas/paas-runtime',
  shim: '/opt/paas/paas-shim',
  init: '/opt/paas/paas-init',
  bridge: bridgeSettings({ bridge: 'paas-t0', subnet: '10.231.0.0/24' }),
};

describe('openEngine', () => {
  let dir: string;
  let paths: { root: string; run: string };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-open-engine-'));
    paths = { root: join(dir, 'root'), run: join(dir, 'run') };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('puts the runtime state and the leases under PAAS_RUN, the containers under PAAS_ROOT', async () => {
    const images = await ImageService.open(imageRoots(paths.root));
    assert.deepEqual(engineOptions(paths, settings, images), {
      root: paths.root,
      images,
      binaries: { shim: settings.shim, runtime: settings.runtime, runtimeRoot: join(paths.run, 'runtime') },
      initBinary: settings.init,
      network: { bridge: settings.bridge, runDir: join(paths.run, 'network') },
      runDir: paths.run,
    });
  });

  it('opens its own image store on the root, or shares the one it is given', async () => {
    const own = await openEngine(paths, settings);
    assert.ok(own.network, 'bridge networking is set up');
    assert.ok(own.sandboxes, "a build's RUN steps get the same bridge");
    const shared = await ImageService.open(imageRoots(paths.root));
    const sharing = await openEngine(paths, settings, { images: shared });
    assert.equal(sharing.images, shared);
    assert.notEqual(own.images, shared);
  });

  it('reads the settings from the environment, with the binaries built beside the code by default', () => {
    const built = engineSettingsFromEnv({}, '/repo/native/runtime/build', ['10.9.8.7']);
    assert.deepEqual(
      [built.runtime, built.shim, built.init],
      [
        '/repo/native/runtime/build/paas-runtime',
        '/repo/native/runtime/build/paas-shim',
        '/repo/native/runtime/build/paas-init',
      ],
    );
    assert.deepEqual(
      built.bridge,
      bridgeSettings({ bridge: 'paas0', subnet: '10.88.0.0/16', protectedCidrs: '10.9.8.7' }),
      "DESIGN.md's bridge, walling off the addresses given",
    );
    const env = { PAAS_RUNTIME: '/usr/sbin/crun', PAAS_SHIM: '/s', PAAS_INIT: '/i', PAAS_BRIDGE: 'paas-t1' };
    const chosen = engineSettingsFromEnv(env, '/unused');
    assert.deepEqual(
      [chosen.runtime, chosen.shim, chosen.init, chosen.bridge.name],
      ['/usr/sbin/crun', '/s', '/i', 'paas-t1'],
    );
    assert.throws(() => engineSettingsFromEnv({ PAAS_BRIDGE: 'no spaces' }, '/x'), /PAAS_BRIDGE/);
  });
});
