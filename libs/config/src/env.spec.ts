import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  DEFAULTS,
  buildUserns,
  directory,
  domain,
  formatAddress,
  listenAddress,
  paths,
  registryLogin,
} from './env';

describe('config/env', () => {
  it('uses the DESIGN.md defaults when a variable is unset or empty', () => {
    assert.deepEqual(paths({}), { root: DEFAULTS.PAAS_ROOT, run: DEFAULTS.PAAS_RUN });
    assert.deepEqual(paths({ PAAS_ROOT: '', PAAS_RUN: '' }), { root: '/var/lib/paas', run: '/run/paas' });
    assert.deepEqual(listenAddress({}, 'PAAS_API_ADDR'), { host: '127.0.0.1', port: 7000 });
    assert.deepEqual(listenAddress({}, 'PAAS_ROUTER_ADDR'), { host: '0.0.0.0', port: 8080 });
  });

  it('reads directories and trims trailing slashes', () => {
    assert.equal(directory({ PAAS_ROOT: '/tmp/x//' }, 'PAAS_ROOT'), '/tmp/x');
    assert.equal(directory({ PAAS_ROOT: '/' }, 'PAAS_ROOT'), '/');
  });

  it('rejects a relative directory, naming the variable', () => {
    assert.throws(
      () => directory({ PAAS_RUN: 'run/paas' }, 'PAAS_RUN'),
      (err: unknown) => err instanceof ConfigError && err.message === 'PAAS_RUN="run/paas": must be an absolute path',
    );
  });

  it('parses listen addresses in every accepted form', () => {
    assert.deepEqual(listenAddress({ PAAS_API_ADDR: ':0' }, 'PAAS_API_ADDR'), { host: '0.0.0.0', port: 0 });
    assert.deepEqual(listenAddress({ PAAS_API_ADDR: '[::1]:7001' }, 'PAAS_API_ADDR'), { host: '::1', port: 7001 });
    assert.deepEqual(listenAddress({ PAAS_API_ADDR: 'localhost:9' }, 'PAAS_API_ADDR'), {
      host: 'localhost',
      port: 9,
    });
  });

  for (const bad of ['7000', '127.0.0.1', '127.0.0.1:', '1.2.3.4:65536', 'a:b', '::1:80', '[::1]']) {
    it(`rejects the listen address ${JSON.stringify(bad)}`, () => {
      assert.throws(() => listenAddress({ PAAS_API_ADDR: bad }, 'PAAS_API_ADDR'), ConfigError);
    });
  }

  it('formats addresses back, bracketing IPv6', () => {
    assert.equal(formatAddress({ host: '::1', port: 80 }), '[::1]:80');
    assert.equal(formatAddress({ host: '127.0.0.1', port: 80 }), '127.0.0.1:80');
  });

  it('validates the apps domain', () => {
    assert.equal(domain({}, 'PAAS_DOMAIN'), 'localhost');
    assert.equal(domain({ PAAS_DOMAIN: 'Apps.Example.com' }, 'PAAS_DOMAIN'), 'apps.example.com');
    assert.throws(() => domain({ PAAS_DOMAIN: 'bad_domain' }, 'PAAS_DOMAIN'), ConfigError);
    assert.throws(() => domain({ PAAS_DOMAIN: 'a..b' }, 'PAAS_DOMAIN'), ConfigError);
  });

  it('builds follow PAAS_INSTANCE_USERNS unless PAAS_BUILD_USERNS says otherwise, and a bad value names the variable', () => {
    assert.equal(buildUserns({}), 'auto');
    assert.equal(buildUserns({ PAAS_INSTANCE_USERNS: 'host' }), 'host');
    assert.equal(buildUserns({ PAAS_INSTANCE_USERNS: 'host', PAAS_BUILD_USERNS: 'auto' }), 'auto');
    assert.equal(buildUserns({ PAAS_BUILD_USERNS: 'host' }), 'host');
    assert.throws(
      () => buildUserns({ PAAS_BUILD_USERNS: 'remap' }),
      (err: unknown) => err instanceof ConfigError && /PAAS_BUILD_USERNS/.test(err.message),
    );
  });

  it('reads the platform registry login as a pair, never half of one', () => {
    assert.equal(registryLogin({}), null);
    assert.deepEqual(registryLogin({ PAAS_REGISTRY_USER: 'paas-node', PAAS_REGISTRY_PASSWORD: 'pw' }), {
      username: 'paas-node',
      password: 'pw',
    });
    assert.throws(() => registryLogin({ PAAS_REGISTRY_USER: 'paas-node' }), /PAAS_REGISTRY_PASSWORD="": required/);
    assert.throws(
      () => registryLogin({ PAAS_REGISTRY_PASSWORD: 'secret' }),
      (err: unknown) =>
        err instanceof ConfigError && /PAAS_REGISTRY_USER/.test(err.message) && !/secret/.test(err.message),
    );
  });
});
