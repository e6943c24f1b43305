/**
 * The api as specs use it: started in-process on a loopback port with its own temporary
 * PAAS_ROOT, a private redis-server and a fresh SQLite or PostgreSQL database, and the admin
 * token its first start made. `close` removes all of it, whatever failed before.
 */
import type { Env } from '@paas/config';
import type { DatabaseKind } from '@paas/platform';
import { type LocalRedis, type TestDatabase, startLocalRedis, testDatabase } from '@paas/platform/testing';
import type { Redis } from 'ioredis';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { adminTokenPath } from '../auth/admin-token';
import { loadApiConfig } from '../config';
import { DATA_SOURCE, REDIS } from '../core/tokens';
import { type RunningApi, startApi } from '../server';

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- specs index into answers freely
  readonly body: any;
}

export interface RequestOptions {
  /** A value to send as JSON, or a string sent as it is (bad JSON). */
  readonly body?: unknown;
  /** The token to send; the admin token by default, null for none. */
  readonly token?: string | null;
  readonly headers?: Record<string, string>;
  /** Source address of the connection (127.0.0.x), for rate-limit specs. */
  readonly from?: string;
}

export interface TestApi {
  readonly kind: DatabaseKind;
  readonly url: string;
  readonly root: string;
  readonly adminToken: string;
  readonly dataSource: DataSource;
  readonly redis: Redis;
  readonly api: RunningApi;
  request(method: string, path: string, options?: RequestOptions): Promise<Answer>;
  close(): Promise<void>;
}

export async function startTestApi(kind: DatabaseKind, env: Env = {}): Promise<TestApi> {
  const base = mkdtempSync(join(tmpdir(), 'paas-api-'));
  chmodSync(base, 0o711); // a container's root in a user namespace reaches its bundle under it
  const root = join(base, 'root');
  let redis: LocalRedis | undefined;
  let database: TestDatabase | undefined;
  let api: RunningApi | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await api?.app.close().catch(() => undefined);
      await redis?.stop().catch(() => undefined);
      await database?.dispose().catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    })());
  try {
    redis = await startLocalRedis(join(base, 'redis'));
    database = await testDatabase(kind);
    const config = loadApiConfig({
      PAAS_ROOT: root,
      PAAS_RUN: join(base, 'run'),
      PAAS_API_ADDR: '127.0.0.1:0',
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      // the REST specs do not build; the git push e2e runs its own workers
      PAAS_BUILD_WORKERS: '0',
      ...env,
    });
    api = await startApi(config);
    const running = api;
    const adminToken = readFileSync(adminTokenPath(root), 'utf8').trim();
    const request = (method: string, path: string, options: RequestOptions = {}): Promise<Answer> =>
      send(running.url, method, path, { ...options, token: options.token === undefined ? adminToken : options.token });
    return {
      kind,
      url: api.url,
      root,
      adminToken,
      dataSource: api.app.get<DataSource>(DATA_SOURCE),
      redis: api.app.get<Redis>(REDIS),
      api,
      request,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Another api process's worth on a TestApi's database and Redis, as replica specs start it. */
export interface TestReplica {
  readonly url: string;
  readonly api: RunningApi;
  /** A request to this api, with the admin token `first` made. */
  request(method: string, path: string, options?: RequestOptions): Promise<Answer>;
  close(): Promise<void>;
}

/**
 * A second api (its own Nest app, database pool, Redis connections and PAAS_ROOT) on `first`'s
 * database and Redis; it follows while `first` leads. Replicas share one database only on
 * PostgreSQL (on SQLite each api leads). `close` stops it and removes its root.
 */
export async function startTestReplica(first: TestApi, env: Env = {}): Promise<TestReplica> {
  const redis = first.redis.options.path;
  if (!redis) throw new Error('startTestReplica: the test redis of the first api does not listen on a unix socket');
  const base = mkdtempSync(join(tmpdir(), 'paas-replica-'));
  chmodSync(base, 0o711); // a container's root in a user namespace reaches its bundle under it
  let api: RunningApi | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await api?.app.close().catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    })());
  try {
    api = await startApi(
      loadApiConfig({
        PAAS_ROOT: join(base, 'root'),
        PAAS_RUN: join(base, 'run'),
        PAAS_API_ADDR: '127.0.0.1:0',
        DATABASE_URL: (first.dataSource.options as { url: string }).url,
        REDIS_URL: `unix://${redis}`,
        PAAS_BUILD_WORKERS: '0',
        ...env,
      }),
    );
    const running = api;
    return {
      url: running.url,
      api: running,
      request: (method, path, options = {}) =>
        send(running.url, method, path, {
          ...options,
          token: options.token === undefined ? first.adminToken : options.token,
        }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One HTTP request through node:http (fetch cannot pick the source address). */
export function send(url: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(path, url),
      { method, headers, ...(options.from ? { localAddress: options.from } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
