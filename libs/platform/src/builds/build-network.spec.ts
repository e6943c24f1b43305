import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUILD_NETWORK_VAR, buildNetwork } from './build-network';
import { AppBuildError } from './errors';

describe('an app build network', () => {
  it('is the bridge unless the app says none', () => {
    assert.equal(buildNetwork({}), 'default');
    assert.equal(buildNetwork({ [BUILD_NETWORK_VAR]: '' }), 'default');
    assert.equal(buildNetwork({ [BUILD_NETWORK_VAR]: 'default' }), 'default');
    assert.equal(buildNetwork({ [BUILD_NETWORK_VAR]: 'none' }), 'none');
  });

  for (const bad of ['host', 'None', 'bridge ', 'x']) {
    it(`refuses ${JSON.stringify(bad)}, naming the config var`, () => {
      assert.throws(
        () => buildNetwork({ [BUILD_NETWORK_VAR]: bad }),
        (err: unknown) =>
          err instanceof AppBuildError && err.message.includes(`PAAS_BUILD_NETWORK=${JSON.stringify(bad)}`),
      );
    });
  }
});
