import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestApi, startTestApi } from '../testing/harness';
import { buildOpenApiDocument } from './api-types';

/** Every route of docs/api.md, as OpenAPI names them. */
const ROUTES = [
  'get /api/health',
  'get /api/health/ready',
  'get /metrics',
  'get /api/control-plane',
  'get /api/apps',
  'post /api/apps',
  'get /api/apps/{app}',
  'patch /api/apps/{app}',
  'delete /api/apps/{app}',
  'get /api/apps/{app}/config-vars',
  'patch /api/apps/{app}/config-vars',
  'get /api/apps/{app}/builds',
  'get /api/apps/{app}/builds/{id}',
  'get /api/apps/{app}/builds/{id}/log',
  'get /api/apps/{app}/releases',
  'get /api/apps/{app}/releases/{version}',
  'post /api/apps/{app}/releases',
  'get /api/apps/{app}/formation',
  'patch /api/apps/{app}/formation',
  'get /api/apps/{app}/formation/{type}',
  'patch /api/apps/{app}/formation/{type}',
  'put /api/apps/{app}/formation/{type}/autoscale',
  'delete /api/apps/{app}/formation/{type}/autoscale',
  'get /api/apps/{app}/instances',
  'post /api/apps/{app}/instances/restart',
  'post /api/apps/{app}/instances/{name}/stop',
  'post /api/apps/{app}/runs',
  'get /api/apps/{app}/domains',
  'post /api/apps/{app}/domains',
  'delete /api/apps/{app}/domains/{hostname}',
  'get /api/apps/{app}/drains',
  'post /api/apps/{app}/drains',
  'delete /api/apps/{app}/drains/{drain}',
  'get /api/apps/{app}/addons',
  'post /api/apps/{app}/addons',
  'delete /api/apps/{app}/addons/{name}',
  'get /api/addons',
  'get /api/addons/{name}',
  'post /api/addons/{name}/attachments',
  'delete /api/addons/{name}',
  'get /api/apps/{app}/certs',
  'get /api/apps/{app}/certs/auto',
  'post /api/apps/{app}/certs/auto',
  'delete /api/apps/{app}/certs/auto',
  'post /api/apps/{app}/certs',
  'get /api/apps/{app}/certs/{id}',
  'delete /api/apps/{app}/certs/{id}',
  'get /api/apps/{app}/https',
  'patch /api/apps/{app}/https',
  'get /api/apps/{app}/maintenance',
  'patch /api/apps/{app}/maintenance',
  'get /api/apps/{app}/reviews',
  'get /api/apps/{app}/logs',
  'get /api/apps/{app}/metrics',
  'get /api/addons/{name}/backups',
  'post /api/addons/{name}/backups',
  'put /api/addons/{name}/backups/schedule',
  'post /api/addons/{name}/restore',
  'get /api/backups/{id}/download',
  'delete /api/backups/{id}',
  'get /api/nodes',
  'post /api/nodes/register',
  'post /api/nodes/{name}/heartbeat',
  'post /api/nodes/{name}/logs',
  'get /api/nodes/{name}/events',
  'post /api/nodes/{name}/drain',
  'post /api/nodes/{name}/activate',
  'delete /api/nodes/{name}',
  'get /api/nodes/join-tokens',
  'post /api/nodes/join-tokens',
  'delete /api/nodes/join-tokens/{id}',
  'post /api/nodes/join',
  'get /api/ca',
  'get /api/tokens',
  'post /api/tokens',
  'delete /api/tokens/{id}',
];

for (const kind of TEST_DATABASES) {
  describe(`OpenAPI document on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi(kind);
    });
    after(async () => {
      await api?.close();
    });

    it('describes every route, with bodies and answers, at /api/docs-json without a token', async () => {
      const res = await api.request('GET', '/api/docs-json', { token: null });
      assert.equal(res.status, 200);
      const doc = res.body as {
        openapi: string;
        paths: Record<string, Record<string, { requestBody?: unknown; responses: object }>>;
        components: { schemas: Record<string, { properties?: object }> };
      };
      assert.match(doc.openapi, /^3\./);
      const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((m) => `${m} ${path}`),
      );
      assert.deepEqual(routes.sort(), [...ROUTES].sort());
      assert.ok(doc.paths['/api/apps']?.['post']?.requestBody);
      assert.ok(doc.paths['/api/apps/{app}/formation']?.['patch']?.requestBody);
      for (const schema of [
        'AppView',
        'ReleaseView',
        'BuildView',
        'FormationView',
        'FormationBatchDto',
        'InstanceView',
        'DomainView',
        'AddonView',
        'CreateAddonDto',
        'NodeView',
        'TokenView',
        'RunDto',
      ]) {
        assert.ok(Object.keys(doc.components.schemas[schema]?.properties ?? {}).length > 0, schema);
      }
    });

    it('is the document built without a database, which the wire types come from', async () => {
      const res = await api.request('GET', '/api/docs-json', { token: null });
      assert.deepEqual(res.body, JSON.parse(JSON.stringify(await buildOpenApiDocument())));
    });

    it('serves Swagger UI at /api/docs', async () => {
      const res = await api.request('GET', '/api/docs', { token: null });
      assert.equal(res.status, 200);
      assert.match(res.text, /swagger-ui/i);
    });
  });
}
