/** The real api in this test process (REST, git receiver, build queue), with handles to its
 * database and Redis connections for assertions; and how a spec talks to an api as a client
 * does: the admin token of its root, JSON calls with a bearer token. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { type ApiConfig, DATA_SOURCE, REDIS, adminTokenPath, startApi } from '@paas/api/testing';

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

/** The admin token an api made in its root on first start (what the local CLI uses). */
export function readAdminToken(root: string): string {
  return readFileSync(adminTokenPath(root), 'utf8').trim();
}

/**
 * `METHOD path` on the api at `url` with a bearer token and a JSON body, as the CLI and the
 * dashboard call it. Fails the test, with the answer's text, unless the api answers `status`
 * (any 2xx when not given); resolves to the parsed answer (null when it is empty).
 */
export async function callApi(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  status?: number,
): Promise<unknown> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  assert.ok(status === undefined ? res.ok : res.status === status, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
