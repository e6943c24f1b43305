/**
 * A redis-server of a test suite's own: started in the suite's `before`, stopped with its
 * directory in its `after`, whatever failed. Call it inside `describe`; the client it returns
 * answers once `before` has run. `startTlsRedis`: one reached as a remote component would.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { redisOptions } from '../redis';
import { type LocalRedis, startLocalRedis } from '../redis-server';
import { ensurePlatformCa, issueLeaf } from '../tls/platform-ca';
import { freePort } from './free-port';

export function suiteRedis(prefix: string): () => Redis {
  let dir: string | undefined;
  let server: LocalRedis | undefined;
  let redis: Redis | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    server = await startLocalRedis(join(dir, 'redis'));
    redis = new Redis(redisOptions(server.url));
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!redis) throw new Error('suiteRedis: the suite has not started');
    return redis;
  };
}

/** A redis-server a remote component would reach: `rediss://` with a password, certified by a platform CA. */
export interface TlsRedis {
  /** `rediss://:PASSWORD@127.0.0.1:PORT` */
  readonly url: string;
  /** The CA's certificate (PEM) the server's chains to. */
  readonly ca: string;
  readonly server: LocalRedis;
  stop(): Promise<void>;
}

/**
 * Starts a redis-server in `dir` that listens with TLS on a loopback port (and on its unix
 * socket), requires `password`, and presents a leaf for 127.0.0.1 signed by a platform CA
 * made under `dir/tls`. `stop` stops it; the caller removes `dir`.
 */
export async function startTlsRedis(dir: string, password: string): Promise<TlsRedis> {
  const tls = join(dir, 'tls');
  const ca = await ensurePlatformCa(tls);
  const leaf = await issueLeaf(ca, { commonName: 'redis', sans: ['127.0.0.1'] });
  const files = { certFile: join(tls, 'redis.crt'), keyFile: join(tls, 'redis.key'), caFile: ca.certFile };
  writeFileSync(files.certFile, leaf.cert);
  writeFileSync(files.keyFile, leaf.key, { mode: 0o600 });
  const port = await freePort();
  const server = await startLocalRedis(join(dir, 'redis'), { password, tls: { host: '127.0.0.1', port, ...files } });
  return {
    url: `rediss://:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    ca: ca.cert,
    server,
    stop: () => server.stop(),
  };
}
