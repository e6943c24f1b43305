import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { MAX_JSON_DEPTH, jsonDepth } from './json-depth';

describe('jsonDepth', () => {
  it('counts nested arrays and objects, not brackets inside strings', () => {
    assert.equal(jsonDepth(Buffer.from('1')), 0);
    assert.equal(jsonDepth(Buffer.from('{}')), 1);
    assert.equal(jsonDepth(Buffer.from('{"a":[{"b":[]}],"c":{}}')), 4);
    assert.equal(jsonDepth(Buffer.from('{"a":"[[[[{{{{"}')), 1);
    assert.equal(jsonDepth(Buffer.from('{"a\\"[[[":"\\\\"}')), 1, 'escaped quotes and backslashes');
    assert.equal(jsonDepth(Buffer.from('['.repeat(3000) + ']'.repeat(3000))), 3000);
  });

  it('stops counting once past a limit', () => {
    assert.equal(jsonDepth(Buffer.from('['.repeat(100_000)), 33), 33);
  });
});

for (const kind of TEST_DATABASES) {
  describe(`deeply nested JSON bodies on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi(kind);
      await createApp(api, 'mine');
    });
    after(async () => {
      await api?.close();
    });

    /** Every route that takes a body, from the api's own OpenAPI document (new ones included). */
    async function bodyRoutes(): Promise<{ method: string; path: string }[]> {
      const doc = (await api.request('GET', '/api/docs-json', { token: null })).body as {
        paths: Record<string, Record<string, unknown>>;
      };
      const params: Record<string, string> = {
        app: 'mine',
        type: 'web',
        name: 'node-1',
        id: 'x',
        hostname: 'a.example',
      };
      return Object.entries(doc.paths).flatMap(([path, operations]) =>
        Object.keys(operations)
          .filter((method) => ['post', 'put', 'patch'].includes(method))
          .map((method) => ({
            method: method.toUpperCase(),
            path: path.replace(/\{(\w+)\}/g, (_, p: string) => params[p] ?? 'x'),
          })),
      );
    }

    it(`answers 400 to a body nested deeper than ${MAX_JSON_DEPTH} on every route that takes one`, async () => {
      const routes = await bodyRoutes();
      assert.ok(routes.length >= 12, routes.map((r) => r.path).join(' '));
      for (const depth of [MAX_JSON_DEPTH + 1, 3000, 100_000]) {
        for (const body of [
          `{"name":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`,
          `{"a":${'{"a":'.repeat(depth - 1)}1${'}'.repeat(depth - 1)}}`,
        ]) {
          for (const { method, path } of routes) {
            const res = await api.request(method, path, { body });
            assert.equal(res.status, 400, `${method} ${path} depth ${depth}: ${res.text}`);
            assert.equal(res.body.code, 'invalid_params');
            assert.match(res.body.message, new RegExp(`nested deeper than ${MAX_JSON_DEPTH}`));
          }
        }
      }
      const apps = await api.request('GET', '/api/apps');
      assert.deepEqual(
        apps.body.map((a: { name: string }) => a.name),
        ['mine'],
        'nothing was made or renamed',
      );
    });

    it(`takes a body nested ${MAX_JSON_DEPTH} deep to its validation`, async () => {
      const res = await api.request('POST', '/api/apps', {
        body: `{"name":${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`,
      });
      assert.equal(res.status, 400);
      assert.doesNotMatch(res.body.message, /nested/);
      assert.equal(res.body.details[0].field, 'name');
    });
  });
}
