import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PlatformApiError, request } from './api';

describe('request', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((req, res) => {
      if (req.method === 'DELETE' && req.url === '/api/addons/pg-1?confirm=pg-1') {
        res.writeHead(204);
        res.end();
      } else if (req.url === '/api/addons/pg-1') {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ code: 'invalid_params', message: 'confirm must be the name of the add-on, pg-1' }));
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"name":"pg-1"}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('reads a JSON answer, and takes a 204 with no body as done', async () => {
    assert.deepEqual(await request('GET', `${url}/api/addons/pg-2`), { name: 'pg-1' });
    assert.equal(await request('DELETE', `${url}/api/addons/pg-1?confirm=pg-1`), undefined);
  });

  it("rejects with the api's own error", async () => {
    await assert.rejects(
      request('DELETE', `${url}/api/addons/pg-1`),
      (err: unknown) =>
        err instanceof PlatformApiError &&
        err.status === 400 &&
        err.code === 'invalid_params' &&
        /pg-1/.test(err.message),
    );
  });
});
