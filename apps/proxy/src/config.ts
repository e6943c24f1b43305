import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  type Env,
  addressOrOff,
  type ListenAddress,
  type Paths,
  domain,
  listenAddress,
  paths,
  routerHttpsAddress,
  trustedCa,
} from '@paas/config';
import { type KeyPair, loadKeyPair, sealingKeyFile } from '@paas/platform/tls';

/** The HTTPS listener's settings. */
export interface ProxyTlsConfig {
  /** PAAS_ROUTER_TLS_ADDR: by default port 443 on the HTTP listener's host (port 0 beside port 0). */
  readonly listen: ListenAddress;
  /**
   * The operator's pair (PAAS_ROUTER_TLS_CERT + PAAS_ROUTER_TLS_KEY files, e.g. a wildcard for
   * `*.PAAS_DOMAIN`): served for every name no app's certificate covers, and to clients that
   * send no SNI. Null: such handshakes fail.
   */
  readonly defaultPair: KeyPair | null;
  /** Opens the sealed keys of the certificate table (PAAS_SEALING_KEY_FILE, default under $PAAS_ROOT). */
  readonly sealingKeyFile: string;
}

export interface ProxyConfig {
  readonly paths: Paths;
  readonly listen: ListenAddress;
  /** Apps answer at `APP.<domain>`. */
  readonly domain: string;
  /** REDIS_URL, or the managed redis-server `paas up` runs under $PAAS_ROOT. */
  readonly redisUrl: string;
  /** For a `rediss://` REDIS_URL: the CA (PEM) its certificate must chain to (PAAS_CA_FILE or the platform CA). */
  readonly redisCa: string | null;
  /** Worker processes (PAAS_ROUTER_WORKERS, default: one per CPU; 0 = serve in one process). */
  readonly workers: number;
  /** HTTPS (PAAS_ROUTER_TLS_ADDR, `off` for none); null when off. */
  readonly tls: ProxyTlsConfig | null;
  /** Metrics and status (PAAS_ROUTER_ADMIN_ADDR, default 127.0.0.1:8081; `off` for none). */
  readonly admin: ListenAddress | null;
  /** This router's name in published metrics (PAAS_ROUTER_ID); null: HOSTNAME:PORT once listening. */
  readonly routerId: string | null;
  /** One JSON line per request on stdout (PAAS_ROUTER_ACCESS_LOG=on|off, default on). */
  readonly accessLog: boolean;
  /** Active checks: every PAAS_ROUTER_HEALTH_INTERVAL_MS (2000), each given PAAS_ROUTER_HEALTH_TIMEOUT_MS (1000). */
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  /** A backend that keeps passing is checked every PAAS_ROUTER_HEALTH_IDLE_INTERVAL_MS (5 x the interval; no less than it). */
  readonly healthIdleIntervalMs: number;
  /** Failed checks in a row that take a backend out (PAAS_ROUTER_HEALTH_FALL, 2), passed ones that bring it back (PAAS_ROUTER_HEALTH_RISE, 1). */
  readonly healthFall: number;
  readonly healthRise: number;
  /** How long a backend that refused a connection is left alone (PAAS_ROUTER_COOLDOWN_MS, 5000). */
  readonly cooldownMs: number;
  /** How long a request whose backends all refused waits for the next route table (PAAS_ROUTER_REFUSED_WAIT_MS, 2000). */
  readonly refusedWaitMs: number;
  /** Requests a worker holds per sleeping app while it wakes (`PAAS_ROUTER_WAKE_QUEUE`); more answer 503. */
  readonly wakeQueue: number;
  /** Requests a worker holds for sleeping apps in all (`PAAS_ROUTER_WAKE_QUEUE_TOTAL`, 1000); more answer 503. */
  readonly wakeQueueTotal: number;
  /** How long a held request waits for the wake (`PAAS_ROUTER_WAKE_WAIT_MS`) before it answers 503. */
  readonly wakeWaitMs: number;
  /** Requests a worker queues per app whose backends are all at its hard limit (`PAAS_ROUTER_QUEUE`, 100); more answer 503. */
  readonly queue: number;
  /** Requests a worker queues at the hard limit for all apps together (`PAAS_ROUTER_QUEUE_TOTAL`, 1000; apart from the wake's); more answer 503. */
  readonly queueTotal: number;
  /** How long a queued request waits for a backend below the hard limit (`PAAS_ROUTER_QUEUE_WAIT_MS`, 10000) before it answers 503. */
  readonly queueWaitMs: number;
  /** A backend silent this long answers 504 (PAAS_ROUTER_TIMEOUT_MS, 60000). */
  readonly backendTimeoutMs: number;
  /** On SIGTERM, in-flight requests get this long to finish (PAAS_ROUTER_DRAIN_MS, 30000). */
  readonly drainMs: number;
  /** How often the route table's version is compared, in case a message was lost (PAAS_ROUTER_RESYNC_MS, 5000). */
  readonly resyncMs: number;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(name, value, `expected a whole number from ${min} to ${max}`);
  }
  return n;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = (env[name] ?? '').toLowerCase();
  if (value === '') return fallback;
  if (['1', 'on', 'true', 'yes'].includes(value)) return true;
  if (['0', 'off', 'false', 'no'].includes(value)) return false;
  throw new ConfigError(name, env[name] ?? '', 'expected on or off');
}

function tlsConfig(env: Env, root: string): ProxyTlsConfig | null {
  const certFile = env['PAAS_ROUTER_TLS_CERT'] ?? '';
  const keyFile = env['PAAS_ROUTER_TLS_KEY'] ?? '';
  if (certFile !== '' && keyFile === '') {
    throw new ConfigError('PAAS_ROUTER_TLS_KEY', '', 'required with PAAS_ROUTER_TLS_CERT');
  }
  if (keyFile !== '' && certFile === '') {
    throw new ConfigError('PAAS_ROUTER_TLS_CERT', '', 'required with PAAS_ROUTER_TLS_KEY');
  }
  const address = routerHttpsAddress(env);
  if (!address) return null;
  const defaultPair =
    certFile === ''
      ? null
      : loadKeyPair(resolve(certFile), resolve(keyFile), { cert: 'PAAS_ROUTER_TLS_CERT', key: 'PAAS_ROUTER_TLS_KEY' });
  const sealing = env['PAAS_SEALING_KEY_FILE'] || sealingKeyFile(root);
  return { listen: address, defaultPair, sealingKeyFile: resolve(sealing) };
}

/** The router's settings; the only place the router reads its environment. */
export function loadProxyConfig(env: Env): ProxyConfig {
  const root = paths(env);
  const listen = listenAddress(env, 'PAAS_ROUTER_ADDR');
  const healthIntervalMs = integer(env, 'PAAS_ROUTER_HEALTH_INTERVAL_MS', 2000, 50, 3_600_000);
  const redisUrl = env['REDIS_URL'] || `unix://${join(root.root, 'platform', 'redis', 'redis.sock')}`;
  return {
    paths: root,
    listen,
    domain: domain(env, 'PAAS_DOMAIN'),
    redisUrl,
    redisCa: redisUrl.startsWith('rediss:') ? (trustedCa(env)?.pem ?? null) : null,
    workers: integer(env, 'PAAS_ROUTER_WORKERS', availableParallelism(), 0, 256),
    tls: tlsConfig(env, root.root),
    admin: addressOrOff(env, 'PAAS_ROUTER_ADMIN_ADDR', '127.0.0.1:8081'),
    routerId: env['PAAS_ROUTER_ID'] || null,
    accessLog: flag(env, 'PAAS_ROUTER_ACCESS_LOG', true),
    healthIntervalMs,
    healthIdleIntervalMs: integer(
      env,
      'PAAS_ROUTER_HEALTH_IDLE_INTERVAL_MS',
      Math.min(5 * healthIntervalMs, 3_600_000),
      healthIntervalMs,
      3_600_000,
    ),
    healthTimeoutMs: integer(env, 'PAAS_ROUTER_HEALTH_TIMEOUT_MS', 1000, 10, 600_000),
    healthFall: integer(env, 'PAAS_ROUTER_HEALTH_FALL', 2, 1, 100),
    healthRise: integer(env, 'PAAS_ROUTER_HEALTH_RISE', 1, 1, 100),
    cooldownMs: integer(env, 'PAAS_ROUTER_COOLDOWN_MS', 5000, 0, 3_600_000),
    refusedWaitMs: integer(env, 'PAAS_ROUTER_REFUSED_WAIT_MS', 2000, 0, 60_000),
    wakeQueue: integer(env, 'PAAS_ROUTER_WAKE_QUEUE', 100, 0, 100_000),
    wakeQueueTotal: integer(env, 'PAAS_ROUTER_WAKE_QUEUE_TOTAL', 1000, 0, 1_000_000),
    wakeWaitMs: integer(env, 'PAAS_ROUTER_WAKE_WAIT_MS', 30_000, 100, 600_000),
    queue: integer(env, 'PAAS_ROUTER_QUEUE', 100, 0, 100_000),
    queueTotal: integer(env, 'PAAS_ROUTER_QUEUE_TOTAL', 1000, 0, 1_000_000),
    queueWaitMs: integer(env, 'PAAS_ROUTER_QUEUE_WAIT_MS', 10_000, 100, 600_000),
    backendTimeoutMs: integer(env, 'PAAS_ROUTER_TIMEOUT_MS', 60_000, 100, 3_600_000),
    drainMs: integer(env, 'PAAS_ROUTER_DRAIN_MS', 30_000, 0, 3_600_000),
    resyncMs: integer(env, 'PAAS_ROUTER_RESYNC_MS', 5000, 50, 3_600_000),
  };
}
