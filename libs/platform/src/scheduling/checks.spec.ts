import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_TIMING,
  DEFAULT_UPTIME_MS,
  WAKE_CHECK_INTERVAL_MS,
  deployCheck,
  routeCheck,
  wakeCheck,
} from './checks';

describe('deploy checks', () => {
  it('gets web an HTTP GET / that any non-5xx answer passes, and other types an uptime check', () => {
    assert.deepEqual(deployCheck('web', null, 5000), {
      kind: 'http',
      path: '/',
      port: 5000,
      anyStatus: true,
      ...DEFAULT_TIMING,
    });
    assert.deepEqual(deployCheck('worker', {}, 5000), { kind: 'uptime', ms: DEFAULT_UPTIME_MS });
    assert.deepEqual(routeCheck(null), { type: 'tcp' });
  });

  it("reads app.json's checks in Dokku's units, skipping liveness checks", () => {
    const checks = {
      web: [
        { type: 'liveness' as const, path: '/alive' },
        { type: 'startup' as const, path: '/health', content: 'ok', attempts: 3, timeout: 2, wait: 1 },
      ],
      worker: [{ type: 'readiness' as const, port: 9000, attempts: 2, wait: 0 }],
    };
    assert.deepEqual(deployCheck('web', checks, 5000), {
      kind: 'http',
      path: '/health',
      port: 5000,
      anyStatus: false,
      content: 'ok',
      attempts: 3,
      timeoutMs: 2000,
      intervalMs: 1000,
      initialDelayMs: 0,
    });
    assert.deepEqual(deployCheck('worker', checks, 5000), {
      kind: 'tcp',
      port: 9000,
      attempts: 2,
      timeoutMs: DEFAULT_TIMING.timeoutMs,
      intervalMs: 100,
      initialDelayMs: 0,
    });
    assert.deepEqual(routeCheck(checks), { type: 'http', path: '/alive' });
  });
});

describe('wake checks', () => {
  it('tries a woken instance finely, over the same total wait', () => {
    const web = deployCheck('web', null, 5000);
    const fine = wakeCheck(web);
    assert.equal(fine.kind, 'http');
    if (fine.kind !== 'http' || web.kind !== 'http') return;
    assert.equal(fine.intervalMs, WAKE_CHECK_INTERVAL_MS);
    assert.equal(fine.attempts * fine.intervalMs, web.attempts * web.intervalMs);
    assert.equal(fine.timeoutMs, web.timeoutMs);
    const uptime = deployCheck('worker', null, 5000);
    assert.equal(wakeCheck(uptime), uptime);
  });
});
