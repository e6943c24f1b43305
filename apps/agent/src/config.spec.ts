import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadAgentConfig } from './config';

describe('agent config', () => {
  it('puts the control socket under PAAS_RUN and listens on the default agent address', () => {
    const c = loadAgentConfig({ PAAS_RUN: '/tmp/run-x' });
    assert.equal(c.socket, '/tmp/run-x/agent.sock');
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 7100 });
    assert.equal(c.paths.root, '/var/lib/paas');
  });

  it('rejects a bad agent address, naming the variable', () => {
    assert.throws(() => loadAgentConfig({ PAAS_AGENT_ADDR: 'host' }), /^ConfigError: PAAS_AGENT_ADDR="host"/);
  });
});
