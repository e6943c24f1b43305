import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import {
  DURATION_BUCKETS,
  METRICS_CONTENT_TYPE,
  countDuration,
  durationCounts,
  histogramSamples,
  listenMetrics,
  registerComputed,
} from './metrics';
import { parsePrometheus, sampleValue } from './testing/prometheus';

function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics', () => {
  it('counts durations into fixed buckets: a bound belongs to its own bucket, beyond the last to +Inf', () => {
    const counts = durationCounts();
    assert.equal(counts.length, DURATION_BUCKETS.length + 1);
    for (const seconds of [0, 0.005, 0.0051, 0.3, 10, 11, 1e9]) countDuration(counts, seconds);
    assert.deepEqual(counts, [2, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2]);
  });

  it('writes computed counters, gauges and histograms in the text format, labels escaped', async () => {
    const registry = new Registry();
    registerComputed(registry, {
      name: 'paas_test_requests_total',
      help: 'Requests, with "quotes" and a \\ backslash.',
      type: 'counter',
      samples: () => [
        { labels: { app: 'shop', code_class: '2xx' }, value: 7 },
        { labels: { app: 'we"ird\\na\nme', code_class: '5xx' }, value: 1 },
      ],
    });
    registerComputed(registry, {
      name: 'paas_test_inflight',
      help: 'In flight.',
      type: 'gauge',
      samples: async () => [{ labels: {}, value: 3 }],
    });
    const counts = durationCounts();
    for (const seconds of [0.001, 0.2, 0.2, 30]) countDuration(counts, seconds);
    registerComputed(registry, {
      name: 'paas_test_duration_seconds',
      help: 'Durations.',
      type: 'histogram',
      samples: () => histogramSamples('paas_test_duration_seconds', { app: 'shop' }, counts, 30.401),
    });
    const text = await registry.metrics();
    const families = parsePrometheus(text);
    assert.equal(families.get('paas_test_requests_total')?.type, 'counter');
    assert.equal(sampleValue(families, 'paas_test_requests_total', { app: 'shop', code_class: '2xx' }), 7);
    assert.equal(sampleValue(families, 'paas_test_requests_total', { app: 'we"ird\\na\nme' }), 1);
    assert.match(text, /app="we\\"ird\\\\na\\nme"/);
    assert.equal(sampleValue(families, 'paas_test_inflight'), 3);
    const h = 'paas_test_duration_seconds';
    assert.equal(families.get(h)?.type, 'histogram');
    assert.equal(sampleValue(families, `${h}_bucket`, { app: 'shop', le: '0.005' }), 1);
    assert.equal(sampleValue(families, `${h}_bucket`, { app: 'shop', le: '0.1' }), 1);
    assert.equal(sampleValue(families, `${h}_bucket`, { app: 'shop', le: '0.25' }), 3);
    assert.equal(sampleValue(families, `${h}_bucket`, { app: 'shop', le: '10' }), 3);
    assert.equal(sampleValue(families, `${h}_bucket`, { app: 'shop', le: '+Inf' }), 4);
    assert.equal(sampleValue(families, `${h}_count`, { app: 'shop' }), 4);
    assert.equal(sampleValue(families, `${h}_sum`, { app: 'shop' }), 30.401);
  });

  it('the reader refuses what breaks the format', () => {
    assert.throws(() => parsePrometheus('x 1\n'), /before its family/);
    assert.throws(() => parsePrometheus('# HELP x y\n# TYPE x counter\nx{a="b} 1\n'), /bad labels/);
    assert.throws(() => parsePrometheus('# HELP x y\n# TYPE x counter\nx 1'), /newline/);
    const noInf = '# HELP h y\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n';
    assert.throws(() => parsePrometheus(noInf), /\+Inf/);
  });

  it('serves GET /metrics on a listener of its own, with the Prometheus content type', async () => {
    const registry = new Registry();
    new Counter({ name: 'paas_test_total', help: 'A test counter.', registers: [registry] }).inc(2);
    const listener = await listenMetrics({ host: '127.0.0.1', port: 0 }, registry);
    try {
      const base = `http://127.0.0.1:${listener.address.port}`;
      const res = await get(`${base}/metrics`);
      assert.equal(res.status, 200);
      assert.equal(res.type, METRICS_CONTENT_TYPE);
      assert.equal(METRICS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(sampleValue(parsePrometheus(res.body), 'paas_test_total'), 2);
      assert.equal((await get(`${base}/other`)).status, 404);
      assert.equal((await get(`${base}/metrics`, 'POST')).status, 405);
    } finally {
      await listener.close();
    }
  });
});
