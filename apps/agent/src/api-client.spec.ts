import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server as HttpServer, type ServerResponse, createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePlatformCa, issueLeaf, type PlatformCa } from '@paas/platform';
import { ApiClient, ControlPlaneError } from './api-client';

describe('the agent talking to an https control plane', () => {
  const base = mkdtempSync(join(tmpdir(), 'paas-agent-tls-'));
  let ca: PlatformCa;
  let otherCa: PlatformCa;
  let server: Server;
  let url = '';
  const seen: string[] = [];
  before(async () => {
    ca = await ensurePlatformCa(join(base, 'ca'));
    otherCa = await ensurePlatformCa(join(base, 'other'));
    const leaf = await issueLeaf(ca, { commonName: 'paas api', sans: ['127.0.0.1'] });
    server = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ heartbeatMs: 1000 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rmSync(base, { recursive: true, force: true });
  });

  it('registers when the certificate chains to the platform CA', async () => {
    const client = new ApiClient(url, () => 'paas_node', 5000, { file: ca.certFile, pem: ca.cert });
    const answer = await client.register({ name: 'n1' } as never);
    assert.deepEqual(answer, { heartbeatMs: 1000 });
    assert.deepEqual(seen, ['POST /api/nodes/register Bearer paas_node']);
  });

  for (const [what, trust, reason] of [
    ['without a CA', null, /not signed by a trusted CA \(.*; trusting Node's default CAs/],
    ['trusting another CA', 'other', /not signed by a trusted CA \(.*; trusting the CA in .*other\/ca\.crt/],
  ] as const) {
    it(`refuses it ${what}, saying why, and sends nothing`, async () => {
      seen.length = 0;
      const ca = trust === 'other' ? { file: otherCa.certFile, pem: otherCa.cert } : null;
      const client = new ApiClient(url, () => 'paas_node', 5000, ca);
      await assert.rejects(client.heartbeat('n1', {} as never), (err: unknown) => {
        assert.ok(err instanceof ControlPlaneError);
        assert.equal(err.status, 0);
        assert.match(err.message, reason);
        return true;
      });
      assert.deepEqual(seen, [], 'no request reached the server');
    });
  }
});

describe("the node's event stream", () => {
  let server: HttpServer;
  let url = '';
  const held: ServerResponse[] = [];
  before(async () => {
    server = createHttpServer((req, res) => {
      if (req.url !== '/api/nodes/n1/events') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'not_found', message: "node 'n2' is not registered" }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // an event split across writes, a keep-alive comment, CRLF line ends
      res.write('event: ready\ndata: n1\n\n: keep-alive\n\nevent: nu');
      setTimeout(() => res.write('dge\r\ndata: changed\r\n\r\n'), 10);
      held.push(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of held) res.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('yields the names of the events as they come, skipping comments, until aborted', async () => {
    const client = new ApiClient(url, () => 'paas_node');
    const stop = new AbortController();
    const seen: string[] = [];
    for await (const event of client.events('n1', stop.signal)) {
      seen.push(event);
      if (seen.length === 2) stop.abort();
    }
    assert.deepEqual(seen, ['ready', 'nudge']);
  });

  it("fails with the api's refusal", async () => {
    const client = new ApiClient(url, () => 'paas_node');
    await assert.rejects(
      (async () => {
        for await (const _ of client.events('n2', new AbortController().signal)) assert.fail('no event');
      })(),
      (err: unknown) =>
        err instanceof ControlPlaneError && err.status === 404 && /n2' is not registered/.test(err.message),
    );
  });
});
