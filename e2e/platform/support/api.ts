/** The real api in this test process (REST, git receiver, build queue), with handles to its
 * database and Redis connections for assertions; and how a spec talks to an api as a client
 * does: the admin token of its root, JSON calls with a bearer token. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { type ApiConfig, DATA_SOURCE, REDIS, adminTokenPath, loadApiConfig, startApi } from '@paas/api/testing';

export interface PlatformApi {
  readonly app: INestApplication;
  readonly url: string;
  readonly dataSource: DataSource;
  readonly redis: Redis;
  close(): Promise<void>;
}

export async function startPlatformApi(config: ApiConfig): Promise<PlatformApi> {
  const { app, url } = await startApi(config);
  return {
    app,
    url,
    dataSource: app.get<DataSource>(DATA_SOURCE),
    redis: app.get<Redis>(REDIS),
    close: () => app.close(),
  };
}

/**
 * The api alone (no agent, registry or build worker), as CLI and router specs run it: on
 * loopback at any port, SQLite under `dir`, the Redis at `redisUrl`. `env` gives its roots
 * (PAAS_ROOT, PAAS_RUN: tempRoots().env or the spec's own) and the spec's settings.
 */
export function startLocalApi(dir: string, redisUrl: string, env: NodeJS.ProcessEnv): Promise<PlatformApi> {
  return startPlatformApi(
    loadApiConfig({
      ...env,
      PAAS_API_ADDR: '127.0.0.1:0',
      DATABASE_URL: `sqlite://${join(dir, 'db', 'paas.db')}`,
      REDIS_URL: redisUrl,
      PAAS_BUILD_WORKERS: '0',
    }),
  );
}

/** The admin token an api made in its root on first start (what the local CLI uses). */
export function readAdminToken(root: string): string {
  return readFileSync(adminTokenPath(root), 'utf8').trim();
}

/**
 * `METHOD path` on the api at `url` with a bearer token and a JSON body, as the CLI and the
 * dashboard call it. Fails the test, with the answer's text, unless the api answers `status`
 * (any 2xx when not given); resolves to the parsed answer (null when it is empty). An https
 * api (off loopback) must chain to `ca` (the platform CA's PEM). No answer: a TypeError, as fetch.
 */
export async function callApi(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  status?: number,
  ca?: string,
): Promise<unknown> {
  const target = new URL(`${url}${path}`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const done = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    };
    const req =
      target.protocol === 'https:'
        ? httpsRequest(target, { method, headers, ...(ca ? { ca } : {}) }, done)
        : httpRequest(target, { method, headers }, done);
    // no answer rejects as fetch did (callers tell a down api by TypeError)
    req.on('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
    req.end(payload);
  });
  const ok = answer.status >= 200 && answer.status < 300;
  assert.ok(status === undefined ? ok : answer.status === status, `${method} ${path}: ${answer.status} ${answer.text}`);
  return answer.text ? JSON.parse(answer.text) : null;
}
