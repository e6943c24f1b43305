import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadApiConfig } from '../config';
import { type RunningApi, startApi } from '../server';

describe('GET /api/health', () => {
  let api: RunningApi;
  before(async () => {
    api = await startApi(loadApiConfig({ PAAS_API_ADDR: '127.0.0.1:0', PAAS_ROOT: '/nonexistent/root' }));
  });
  after(async () => {
    await api?.app.close();
  });

  it('answers ok with the version and uptime', async () => {
    const res = await fetch(`${api.url}/api/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body['status'], 'ok');
    assert.equal(typeof body['version'], 'string');
    assert.ok(typeof body['uptimeSeconds'] === 'number' && body['uptimeSeconds'] >= 0);
  });

  it('answers 404 in JSON for an unknown route', async () => {
    const res = await fetch(`${api.url}/api/nosuch`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body['statusCode'], 404);
  });

  it('refuses a bad listen address at start-up with the variable named', () => {
    assert.throws(() => loadApiConfig({ PAAS_API_ADDR: 'nope' }), /PAAS_API_ADDR="nope"/);
  });
});
