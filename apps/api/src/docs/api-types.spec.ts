import type { OpenAPIObject } from '@nestjs/swagger';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { API_TYPES_FILE, buildOpenApiDocument, committedApiTypes, renderApiTypes } from './api-types';

describe('the api wire types (libs/api-types)', () => {
  let document: OpenAPIObject;
  before(async () => {
    document = await buildOpenApiDocument();
  });

  it('are what the api document makes today: run `npx nx run api:api-types` when this fails', async () => {
    const committed = committedApiTypes();
    assert.ok(committed !== null, `${API_TYPES_FILE} is missing`);
    assert.equal(committed, await renderApiTypes(document), `${API_TYPES_FILE} is stale`);
  });

  it('change with any field of a view, so a stale file cannot pass', async () => {
    const changed = structuredClone(document);
    const app = changed.components?.schemas?.['AppView'] as { properties: Record<string, unknown> };
    app.properties['region'] = { type: 'string' };
    const text = await renderApiTypes(changed);
    assert.notEqual(text, committedApiTypes());
    assert.match(text, /readonly region\?: string;/);
  });

  it('carry the shapes the clients read that no route names as a body', () => {
    const schemas = Object.keys(document.components?.schemas ?? {});
    for (const name of ['ErrorView', 'LogLineView', 'AppMetricsView', 'MetricsSampleView']) {
      assert.ok(schemas.includes(name), name);
    }
  });
});
