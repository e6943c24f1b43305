import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import type { InstanceReport } from '@paas/platform';
import { parsePrometheus, sampleValue } from '@paas/platform/testing';
import { AgentMetrics, serveAgentMetrics } from './agent-metrics';
import { loadAgentConfig } from './config';

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    })
      .on('error', reject)
      .end();
  });
}

const report = (state: InstanceReport['state']): InstanceReport => ({ state }) as InstanceReport;

describe('agent metrics', () => {
  it('listens nowhere by default, on PAAS_AGENT_METRICS_ADDR when set, and refuses a bad address by name', async () => {
    const env = { PAAS_NODE_NAME: 'n1' };
    assert.equal(loadAgentConfig(env).metricsListen, null);
    assert.equal(loadAgentConfig({ ...env, PAAS_AGENT_METRICS_ADDR: 'off' }).metricsListen, null);
    assert.equal(await serveAgentMetrics(loadAgentConfig(env).metricsListen, new AgentMetrics()), null);
    assert.deepEqual(loadAgentConfig({ ...env, PAAS_AGENT_METRICS_ADDR: '127.0.0.1:9101' }).metricsListen, {
      host: '127.0.0.1',
      port: 9101,
    });
    assert.throws(
      () => loadAgentConfig({ ...env, PAAS_AGENT_METRICS_ADDR: '9101' }),
      /^ConfigError: PAAS_AGENT_METRICS_ADDR="9101": expected HOST:PORT, \[IPV6\]:PORT or :PORT or off/,
    );
  });

  it('serves its counts in Prometheus text on the address', async () => {
    const metrics = new AgentMetrics(async () => [report('up'), report('up'), report('crashed')]);
    metrics.started();
    metrics.startFailed();
    metrics.checkFailed();
    metrics.heartbeatFailed();
    metrics.pass(0.02);
    const config = loadAgentConfig({ PAAS_NODE_NAME: 'n1', PAAS_AGENT_METRICS_ADDR: '127.0.0.1:0' });
    const listener = await serveAgentMetrics(config.metricsListen, metrics);
    assert.ok(listener);
    try {
      const res = await get(`http://127.0.0.1:${listener.address.port}/metrics`);
      assert.equal(res.status, 200);
      assert.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8');
      const families = parsePrometheus(res.body);
      assert.equal(sampleValue(families, 'paas_agent_instances', { state: 'up' }), 2);
      assert.equal(sampleValue(families, 'paas_agent_instances', { state: 'crashed' }), 1);
      assert.equal(sampleValue(families, 'paas_agent_instances', { state: 'stopping' }), 0);
      assert.equal(sampleValue(families, 'paas_agent_container_starts_total'), 1);
      assert.equal(sampleValue(families, 'paas_agent_container_start_failures_total'), 1);
      assert.equal(sampleValue(families, 'paas_agent_health_check_failures_total'), 1);
      assert.equal(sampleValue(families, 'paas_agent_heartbeat_failures_total'), 1);
      const pass = 'paas_agent_convergence_pass_duration_seconds';
      assert.equal(sampleValue(families, `${pass}_bucket`, { le: '0.025' }), 1);
      assert.equal(sampleValue(families, `${pass}_count`), 1);
    } finally {
      await listener.close();
    }
  });

  it('says which variable when the address is taken', async () => {
    const first = await serveAgentMetrics({ host: '127.0.0.1', port: 0 }, new AgentMetrics());
    assert.ok(first);
    try {
      await assert.rejects(
        serveAgentMetrics({ host: '127.0.0.1', port: first.address.port }, new AgentMetrics()),
        /PAAS_AGENT_METRICS_ADDR: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
      );
    } finally {
      await first.close();
    }
  });
});
