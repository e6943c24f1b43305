/**
 * Redis for queues (BullMQ) and live events (streams, pub/sub). `REDIS_URL` names a server
 * (`redis://[:password@]host:port[/db]`, `rediss://…` or `unix:///path/to/redis.sock`); without
 * it `paas up` runs a private redis-server under $PAAS_ROOT/platform/redis on a unix socket.
 *
 * Who connects: the api, build workers and routers (control-plane components), never nodes
 * (docs/security.md). One that runs on another machine reaches Redis with `rediss://` and a
 * password; the server's certificate must then chain to the CA the component trusts
 * (`PAAS_CA_FILE` or the platform CA, libs/config tls.ts), passed here as `ca`.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { PaasError } from '@paas/errors';

/** A REDIS_URL fit for a log line or a message: its password as `***`. */
export function redactRedisUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

export class RedisUrlError extends PaasError {
  constructor(url: string, reason: string) {
    super('invalid_params', `REDIS_URL=${JSON.stringify(redactRedisUrl(url))}: ${reason}`);
  }
}

/** How to reach a REDIS_URL beyond the URL itself. */
export interface RedisTrust {
  /**
   * PEM of the CA a `rediss://` server's certificate must chain to (instead of Node's
   * roots); ignored for `redis://` and `unix://`.
   */
  readonly ca?: string | null;
}

/** ioredis options for a REDIS_URL. BullMQ needs `maxRetriesPerRequest: null` on workers. */
export function redisOptions(url: string, { ca }: RedisTrust = {}): RedisOptions {
  if (url.startsWith('unix://')) {
    const path = url.slice('unix://'.length);
    if (!path.startsWith('/')) throw new RedisUrlError(url, 'expected unix:///absolute/path/redis.sock');
    return { path, maxRetriesPerRequest: null };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedisUrlError(url, 'not a URL; expected redis://HOST:PORT or unix:///PATH');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RedisUrlError(url, `unsupported scheme ${parsed.protocol}; expected redis:, rediss: or unix:`);
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new RedisUrlError(url, `database ${parsed.pathname.slice(1)} is not a number`);
  return {
    host: parsed.hostname,
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    ...(parsed.username !== '' ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password !== '' ? { password: decodeURIComponent(parsed.password) } : {}),
    db,
    // ioredis gives tls.connect the host, so the certificate is checked against it
    ...(parsed.protocol === 'rediss:' ? { tls: ca ? { ca } : {} } : {}),
    maxRetriesPerRequest: null,
  };
}

export function connectRedis(url: string, extra: RedisOptions = {}, trust: RedisTrust = {}): Redis {
  return new Redis({ ...redisOptions(url, trust), ...extra });
}

/**
 * Says once that `redis` became unavailable and once that it is back (ioredis reconnects by
 * itself), instead of ioredis's "Unhandled error event" on every retry.
 */
export function reportOutages(redis: Redis, say: (line: string) => void): void {
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) say(`redis unavailable (${err.message}); retrying`);
    down = true;
  });
  redis.on('ready', () => {
    if (down) say('redis available again');
    down = false;
  });
}

/**
 * Resolves once `redis` is ready (connecting it when it waits, as with lazyConnect). A fresh
 * connection must be ready before it subscribes: ioredis 5 writes SUBSCRIBE during its
 * handshake (the command is allowed while Redis loads), the ready check's INFO that follows
 * is then refused in subscriber mode, and the connection drops and reconnects once, losing
 * what was published meanwhile. A connection that ends instead resolves too: the subscribe
 * after it fails with ioredis's own error.
 */
export function whenReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready' || redis.status === 'end') return Promise.resolve();
  // a lazy connection is connected here; one that fails retries by itself (ioredis), so its
  // rejection is not the answer: this waits for 'ready' (or 'end') as for any other
  if (redis.status === 'wait') redis.connect().catch(() => undefined);
  return new Promise((resolve) => {
    const done = (): void => {
      redis.off('ready', done);
      redis.off('end', done);
      resolve();
    };
    redis.on('ready', done);
    redis.on('end', done);
  });
}
