import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadAgentConfig } from './config';

describe('agent config', () => {
  it('puts the control socket under PAAS_RUN and listens on the default agent address', () => {
    const c = loadAgentConfig({ PAAS_RUN: '/tmp/run-x', PAAS_NODE_NAME: 'n1' });
    assert.equal(c.socket, '/tmp/run-x/agent.sock');
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 7100 });
    assert.equal(c.paths.root, '/var/lib/paas');
  });

  it('rejects a bad agent address, naming the variable', () => {
    assert.throws(
      () => loadAgentConfig({ PAAS_AGENT_ADDR: 'host', PAAS_NODE_NAME: 'n1' }),
      /^ConfigError: PAAS_AGENT_ADDR="host"/,
    );
  });

  it('finds the api, the token and the registry from the defaults of its root', () => {
    const c = loadAgentConfig({ PAAS_ROOT: '/r', PAAS_NODE_NAME: 'Node-1' });
    assert.equal(c.apiUrl, 'http://127.0.0.1:7000');
    assert.equal(c.token, null);
    assert.equal(c.tokenFile, '/r/platform/admin.token');
    assert.equal(c.registry, '127.0.0.1:5000');
    assert.equal(c.nodeName, 'node-1');
    assert.equal(c.nodeAddress, null);
    assert.ok(c.memory > 0 && c.cpus >= 1000);
  });

  it('walls off every control-plane address it knows, with PAAS_PROTECTED_CIDRS, but not loopback', () => {
    const c = loadAgentConfig({
      PAAS_API_URL: 'http://10.0.0.1:7000',
      PAAS_REGISTRY_ADDR: '10.0.0.3:5000',
      PAAS_PROTECTED_CIDRS: '10.9.0.0/16,10.0.0.4',
    });
    assert.deepEqual(c.engine.bridge.protectedCidrs, ['10.9.0.0/16', '10.0.0.4/32', '10.0.0.1/32', '10.0.0.3/32']);
    assert.deepEqual(loadAgentConfig({}).engine.bridge.protectedCidrs, []);
  });

  it('ignores a REDIS_URL left in its environment: a node has no Redis (docs/security.md)', () => {
    const c = loadAgentConfig({ PAAS_NODE_NAME: 'n1', REDIS_URL: 'nonsense://x::' });
    assert.deepEqual(
      Object.keys(c).filter((k) => /redis/i.test(k)),
      [],
    );
    assert.deepEqual(
      loadAgentConfig({ PAAS_NODE_NAME: 'n1', REDIS_URL: 'redis://10.0.0.4:6379' }),
      loadAgentConfig({ PAAS_NODE_NAME: 'n1' }),
    );
  });

  it('reads the node settings and names a bad one', () => {
    const c = loadAgentConfig({
      PAAS_NODE_NAME: 'n2',
      PAAS_NODE_ADDRESS: '10.0.0.2',
      PAAS_NODE_MEMORY: '2048',
      PAAS_NODE_CPUS: '1.5',
      PAAS_NODE_OVERCOMMIT: '1.25',
      PAAS_API_URL: 'http://10.0.0.1:7000/',
      PAAS_REGISTRY_ADDR: '10.0.0.1:5000',
    });
    assert.deepEqual(
      [c.nodeAddress, c.memory, c.cpus, c.overcommit, c.apiUrl, c.registry],
      ['10.0.0.2', 2048, 1500, 125, 'http://10.0.0.1:7000', '10.0.0.1:5000'],
    );
    assert.equal(loadAgentConfig({}).overcommit, 200, 'documented default: twice the memory');
    // no container reaches the control plane through this node
    assert.deepEqual(c.engine.bridge.protectedCidrs, ['10.0.0.1/32']);
    for (const [name, value] of [
      ['PAAS_NODE_ADDRESS', 'node.example'],
      ['PAAS_NODE_MEMORY', '1.5'],
      ['PAAS_NODE_CPUS', '0'],
      ['PAAS_NODE_OVERCOMMIT', '0.5'],
      ['PAAS_NODE_OVERCOMMIT', '11'],
      ['PAAS_NODE_OVERCOMMIT', 'lots'],
      ['PAAS_NODE_NAME', 'bad name'],
      ['PAAS_API_URL', 'ftp://x'],
      ['PAAS_SUBNET', '10.0.0.0/33'],
      ['PAAS_PROTECTED_CIDRS', '10.0.0.0/40'],
    ] as const) {
      assert.throws(
        () => loadAgentConfig({ PAAS_NODE_NAME: 'n', [name]: value }),
        new RegExp(`^ConfigError: ${name}=`),
        name,
      );
    }
  });
});
