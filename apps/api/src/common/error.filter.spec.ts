import type { ArgumentsHost } from '@nestjs/common';
import { ShimStartError } from '@paas/engine';
import { ImageNotFoundError } from '@paas/images';
import { InvalidReferenceError } from '@paas/oci';
import { App } from '@paas/platform';
import { RegistryClientError } from '@paas/registry';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type TestApi, startTestApi } from '../testing/harness';
import { ErrorFilter } from './error.filter';

/** What the filter wrote to a response. */
function capture(err: unknown): { status: number; body: unknown } {
  const out = { status: 0, body: undefined as unknown };
  const res = {
    headersSent: false,
    set statusCode(value: number) {
      out.status = value;
    },
    setHeader: () => undefined,
    end: (text: string) => (out.body = JSON.parse(text)),
  };
  const host = {
    switchToHttp: () => ({ getRequest: () => ({ method: 'GET', url: '/x' }), getResponse: () => res }),
  } as unknown as ArgumentsHost;
  new ErrorFilter().catch(err, host);
  return out;
}

for (const kind of TEST_DATABASES) {
  describe(`errors on ${kind}`, () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi(kind);
    });
    after(async () => {
      await api?.close();
    });

    it('answers a unique violation of the database as 409 conflict', async () => {
      const row = { id: randomUUID(), name: 'twice' };
      await api.dataSource.manager.insert(App, row);
      const err = await api.dataSource.manager.insert(App, { ...row, id: randomUUID() }).then(
        () => assert.fail('inserted twice'),
        (e: unknown) => e,
      );
      assert.deepEqual(capture(err), {
        status: 409,
        body: { code: 'conflict', message: 'a resource with that name already exists' },
      });
    });

    it('answers an unexpected failure as 500 internal without its details', async () => {
      await api.request('POST', '/api/apps', { body: { name: 'broken' } });
      await api.dataSource.query('DROP TABLE domains');
      const res = await api.request('GET', '/api/apps/broken/domains');
      assert.equal(res.status, 500);
      assert.deepEqual(res.body, { code: 'internal', message: 'internal error' });
      assert.doesNotMatch(res.text, /domains|SQL|at /);
    });

    it('answers an unknown method on a known path as 404', async () => {
      const res = await api.request('PUT', '/api/apps');
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 'not_found');
    });
  });
}

describe('error filter', () => {
  it('keeps the message of errors it does not know to itself', () => {
    assert.deepEqual(capture(new Error('secret path /etc/x')), {
      status: 500,
      body: { code: 'internal', message: 'internal error' },
    });
  });

  it('answers a lib’s error by its code: a 4xx with its message, a 5xx without', () => {
    assert.deepEqual(capture(new ImageNotFoundError('web:v9')), {
      status: 404,
      body: { code: 'not_found', message: 'No such image: web:v9' },
    });
    assert.deepEqual(capture(new InvalidReferenceError('Bad', 'repository name must be lowercase')), {
      status: 400,
      body: { code: 'invalid_params', message: 'invalid reference format "Bad": repository name must be lowercase' },
    });
    assert.deepEqual(capture(new ShimStartError('shim: /var/lib/paas/secret path')), {
      status: 500,
      body: { code: 'internal', message: 'internal error' },
    });
    assert.deepEqual(capture(new RegistryClientError(0, 'NETWORK', 'GET http://10.0.0.5:5000/v2/: ECONNREFUSED')), {
      status: 503,
      body: { code: 'unavailable', message: 'a service the api depends on is unavailable; try again' },
    });
  });
});
