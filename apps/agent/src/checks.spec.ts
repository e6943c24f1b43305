import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { DeployCheck } from '@paas/platform';
import { CheckFailedError, runCheck } from './checks';

const timing = { attempts: 3, timeoutMs: 500, intervalMs: 20, initialDelayMs: 0 };
const alive = async (): Promise<string | null> => null;

describe('deploy checks against a real server', () => {
  let server: Server;
  let port: number;
  let hits = 0;
  before(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/health') return void res.end('all ok');
      if (req.url === '/late' && hits < 3) return void res.writeHead(503).end();
      if (req.url === '/late') return void res.end('ok');
      if (req.url === '/hang') return; // never answers
      res.writeHead(404).end('nope');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const http = (path: string, extra: Partial<DeployCheck> = {}): DeployCheck =>
    ({ kind: 'http', path, port, anyStatus: false, ...timing, ...extra }) as DeployCheck;

  it('passes an HTTP check answered 2xx, with the content asked for', async () => {
    await runCheck(http('/health', { content: 'ok' } as Partial<DeployCheck>), '127.0.0.1', alive);
  });

  it('retries until the app answers', async () => {
    hits = 0;
    await runCheck(http('/late'), '127.0.0.1', alive);
    assert.equal(hits, 3);
  });

  it('takes any answer below 500 for the default check, and a 404 fails a declared one', async () => {
    await runCheck(http('/missing', { anyStatus: true } as Partial<DeployCheck>), '127.0.0.1', alive);
    await assert.rejects(runCheck(http('/missing'), '127.0.0.1', alive), {
      name: 'CheckFailedError',
      message: `GET /missing on port ${port} failed 3 times: answered 404`,
    });
    await assert.rejects(
      runCheck(http('/health', { content: 'nope' } as Partial<DeployCheck>), '127.0.0.1', alive),
      /does not contain "nope"/,
    );
  });

  it('gives each attempt its timeout', async () => {
    await assert.rejects(
      runCheck(http('/hang', { attempts: 2, timeoutMs: 100 } as Partial<DeployCheck>), '127.0.0.1', alive),
      /failed 2 times: no answer within 100 ms/,
    );
  });

  it('connects for a TCP check, and names a refused connection', async () => {
    await runCheck({ kind: 'tcp', port, ...timing }, '127.0.0.1', alive);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(runCheck({ kind: 'tcp', port: free, ...timing }, '127.0.0.1', alive), /connection refused/);
  });

  it('fails at once when the process exits, and after the uptime when it does not stay up', async () => {
    let attempts = 0;
    const dead = async (): Promise<string | null> => (++attempts > 1 ? 'exited with code 3' : null);
    await assert.rejects(
      runCheck(http('/missing', { attempts: 50 } as Partial<DeployCheck>), '127.0.0.1', dead),
      (err: unknown) => {
        assert.ok(err instanceof CheckFailedError);
        assert.match(err.message, /^the process exited with code 3 before GET \/missing/);
        return true;
      },
    );
    assert.equal(attempts, 2);
    await runCheck({ kind: 'uptime', ms: 10 }, '127.0.0.1', alive);
    await assert.rejects(
      runCheck({ kind: 'uptime', ms: 10 }, '127.0.0.1', async () => 'exited with code 1'),
      /within 0.01 s/,
    );
  });

  it('stops when aborted', async () => {
    const abort = new AbortController();
    const running = runCheck(
      http('/hang', { attempts: 100, timeoutMs: 50 } as Partial<DeployCheck>),
      '127.0.0.1',
      alive,
      abort.signal,
    );
    abort.abort();
    await assert.rejects(running, /stopped before its check passed/);
  });
});
