import {
  addressOrOff,
  ConfigError,
  tenantUserns,
  buildUserns,
  type Env,
  type ListenAddress,
  type Paths,
  type RegistryLogin,
  type TrustedCa,
  absoluteDirectory,
  domain,
  listenAddress,
  paths,
  registryLogin,
  routerHttpsAddress,
  trustedCa,
} from '@paas/config';
import {
  type EngineSettings,
  type PortRange,
  addonPortsFromEnv,
  controlPlaneAddresses,
  engineSettingsFromEnv,
} from '@paas/engine';
import { type ServiceTls, parseTrustedCas, serviceTlsSettings } from '@paas/platform';
import { insecureRegistries } from '@paas/registry';
import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type AcmeSettings, acmeSettings } from './certs/acme.config';
import { type DrainSettings, drainSettings } from './drains/drains.config';
import { reviewAppsIdle, reviewAppsMax, reviewAppsTtl } from './reviews/reviews.config';
import { type SchedulerSettings, schedulerSettings } from './scheduler/scheduler.config';

/** How the api serves TLS off loopback (serviceTlsSettings: PAAS_API_TLS_CERT/KEY/SANS). */
export type ApiTls = ServiceTls;

export interface ApiConfig {
  readonly paths: Paths;
  readonly listen: ListenAddress;
  /**
   * HTTPS off loopback; null (plain HTTP) on a loopback address, which only local processes
   * reach (docs/security.md).
   */
  readonly tls: ApiTls | null;
  /** DATABASE_URL; empty means the embedded SQLite file under $PAAS_ROOT/platform. */
  readonly databaseUrl: string;
  /** REDIS_URL; `paas up` sets it to its managed redis-server when the user gave none. */
  readonly redisUrl: string;
  /** For a `rediss://` REDIS_URL: the CA (PEM) its certificate must chain to (PAAS_CA_FILE or the platform CA). */
  readonly redisCa: string | null;
  /**
   * The apps' bare repositories (PAAS_GIT_ROOT, default $PAAS_ROOT/platform/git). Every api and
   * build worker of one platform must see the same ones: shared storage across machines.
   */
  readonly gitRoot: string;
  /** Apps answer at `APP.<domain>` (PAAS_DOMAIN). */
  readonly domain: string;
  /** The router's port (PAAS_ROUTER_ADDR), for the apps' web URLs. */
  readonly routerPort: number;
  /**
   * The router's HTTPS port (PAAS_ROUTER_TLS_ADDR, as the router reads it), for the apps' https
   * URLs; null when it serves no HTTPS or its port is not known ahead (0).
   */
  readonly routerHttpsPort: number | null;
  /** The registry release images are pushed to (PAAS_REGISTRY_ADDR as host:port). */
  readonly registry: string;
  /**
   * The registry as other machines' nodes reach it (PAAS_NODE_REGISTRY_ADDR, host:port), told to
   * each node that joins; null: `registry`.
   */
  readonly nodeRegistry: string | null;
  /** The build workers' login to it (PAAS_REGISTRY_USER, PAAS_REGISTRY_PASSWORD; `paas up` sets them). */
  readonly registryLogin: RegistryLogin | null;
  /** Registries spoken to over plain HTTP besides loopback ones (PAAS_INSECURE_REGISTRIES, as the CLI and agents). */
  readonly insecureRegistries: readonly string[];
  /**
   * The CA the build workers trust for registries besides Node's roots (PAAS_CA_FILE, else the
   * platform CA under PAAS_ROOT), read when a build environment is made: the first start of
   * the api (or of the registry) makes that CA after the config is read.
   */
  readonly registryTrust: () => TrustedCa | null;
  /** Build workers this process runs (PAAS_BUILD_WORKERS, default 1; 0 = separate workers). */
  readonly buildWorkers: number;
  /**
   * How long a build job's lock lives without renewal, and how often workers look for jobs
   * whose lock expired (PAAS_BUILD_LOCK_MS, PAAS_BUILD_STALLED_MS; 30 s each). Every worker
   * of one queue must use the same values: BullMQ keeps one stalled-check marker per queue.
   */
  readonly buildLockMs: number;
  readonly buildStalledMs: number;
  /**
   * Limits of every build step's container (PAAS_BUILD_MEMORY_MB, default 2048, no swap;
   * PAAS_BUILD_PIDS, default 1024): a pushed Dockerfile may fork-bomb or eat the node's memory.
   */
  readonly buildLimits: { readonly memory: number; readonly memorySwap: number; readonly pidsLimit: number };
  /** `PAAS_INSTANCE_USERNS`: release commands and one-off runs in user namespaces (`auto`), a range per app. */
  readonly tenantUserns: 'auto' | 'host';
  /** `PAAS_BUILD_USERNS` (default: PAAS_INSTANCE_USERNS's): builds' RUN steps in the app's user namespace range (`auto`). */
  readonly buildUserns: 'auto' | 'host';
  /** A build attempt that runs longer fails (PAAS_BUILD_TIMEOUT_MS, default 30 min). */
  readonly buildTimeoutMs: number;
  /** What builds and one-off runs need to start containers on the control plane's node. */
  readonly engine: EngineSettings;
  /** Placement, node timeout, deploys: PAAS_SCHEDULER, PAAS_NODE_TIMEOUT... (scheduler/scheduler.config.ts). */
  readonly scheduler: SchedulerSettings;
  /**
   * Roots an uploaded certificate's chain may end in besides Node's (PAAS_CERTS_TRUSTED_CA_FILE,
   * PEM: a private PKI); read at start.
   */
  readonly certsTrusted: readonly X509Certificate[];
  /** Automatic certificates: PAAS_ACME_DIRECTORY, PAAS_ACME_EMAIL, PAAS_ACME_CA_FILE (certs/acme.config.ts). */
  readonly acme: AcmeSettings;
  /** The host ports add-ons are published on, one each (PAAS_ADDON_PORTS; the nodes' bridges close the range). */
  readonly addonPorts: PortRange;
  /** Log drains: PAAS_DRAINS_ALLOW_PRIVATE, PAAS_DRAINS_CA_FILE, PAAS_DRAINS_MAX_PER_APP... (drains/drains.config.ts). */
  readonly drains: DrainSettings;
  /**
   * PAAS_API_METRICS_ADDR: a listener of its own serving `GET /metrics` without a token, for
   * an operator's Prometheus on a trusted network (default off: `/metrics` on the api's own
   * address then needs an admin token).
   */
  readonly metricsListen: ListenAddress | null;
  /** PAAS_REVIEW_APPS_TTL (5 days; 0 off): review apps without a push for this long are removed (reviews/reviews.config.ts). */
  readonly reviewAppsTtlMs: number;
  /** PAAS_REVIEW_APPS_MAX (20; 0 off): how many review apps one app may have (reviews/reviews.config.ts). */
  readonly reviewAppsMax: number;
  /** PAAS_REVIEW_APPS_IDLE (30m; 0 never): a review app's web sleeps after this long idle (reviews/reviews.config.ts). */
  readonly reviewAppsIdleMs: number;
}

/** The repository root: the api runs as dist/apps/api/main.js or from apps/api/src. */
const REPO = resolve(__dirname, '..', '..', '..');

/** The api's settings; the only place the api reads its environment. */
export function loadApiConfig(env: Env): ApiConfig {
  const root = paths(env);
  const registry = listenAddress(env, 'PAAS_REGISTRY_ADDR');
  const workers = env['PAAS_BUILD_WORKERS'] ?? '1';
  if (!/^\d{1,2}$/.test(workers)) throw new Error(`PAAS_BUILD_WORKERS=${JSON.stringify(workers)}: expected 0-99`);
  const native = join(REPO, 'native', 'runtime', 'build');
  const databaseUrl = env['DATABASE_URL'] ?? '';
  const redisUrl = env['REDIS_URL'] || `unix://${join(root.root, 'platform', 'redis', 'redis.sock')}`;
  const registryHost = `${registry.host === '0.0.0.0' ? '127.0.0.1' : registry.host}:${registry.port}`;
  const listen = listenAddress(env, 'PAAS_API_ADDR');
  return {
    paths: root,
    listen,
    tls: serviceTlsSettings(env, 'PAAS_API', listen.host),
    databaseUrl,
    redisUrl,
    redisCa: redisUrl.startsWith('rediss:') ? (trustedCa(env)?.pem ?? null) : null,
    gitRoot: env['PAAS_GIT_ROOT']
      ? absoluteDirectory('PAAS_GIT_ROOT', env['PAAS_GIT_ROOT'])
      : join(root.root, 'platform', 'git'),
    domain: domain(env, 'PAAS_DOMAIN'),
    routerPort: listenAddress(env, 'PAAS_ROUTER_ADDR').port,
    routerHttpsPort: routerHttpsAddress(env)?.port || null,
    registry: registryHost,
    nodeRegistry: nodeRegistry(env),
    registryLogin: registryLogin(env),
    insecureRegistries: insecureRegistries(env),
    registryTrust: () => trustedCa(env),
    buildWorkers: Number(workers),
    buildLockMs: milliseconds(env, 'PAAS_BUILD_LOCK_MS', 30_000),
    buildStalledMs: milliseconds(env, 'PAAS_BUILD_STALLED_MS', 30_000),
    buildLimits: buildLimits(env),
    tenantUserns: tenantUserns(env),
    buildUserns: buildUserns(env),
    buildTimeoutMs: milliseconds(env, 'PAAS_BUILD_TIMEOUT_MS', 1_800_000),
    // builds and one-off runs on this node must not reach a database, Redis or registry elsewhere
    engine: engineSettingsFromEnv(
      env,
      native,
      controlPlaneAddresses([databaseUrl, redisUrl, `http://${registryHost}`]),
    ),
    scheduler: schedulerSettings(env),
    certsTrusted: certsTrusted(env),
    acme: acmeSettings(env),
    addonPorts: addonPortsFromEnv(env),
    drains: drainSettings(env),
    metricsListen: addressOrOff(env, 'PAAS_API_METRICS_ADDR', 'off'),
    reviewAppsTtlMs: reviewAppsTtl(env),
    reviewAppsMax: reviewAppsMax(env),
    reviewAppsIdleMs: reviewAppsIdle(env),
  };
}

function certsTrusted(env: Env): X509Certificate[] {
  const file = env['PAAS_CERTS_TRUSTED_CA_FILE'] ?? '';
  if (file === '') return [];
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'PAAS_CERTS_TRUSTED_CA_FILE',
      file,
      `cannot read: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  try {
    return parseTrustedCas(pem, file);
  } catch (err) {
    throw new ConfigError('PAAS_CERTS_TRUSTED_CA_FILE', file, (err as Error).message);
  }
}

function nodeRegistry(env: Env): string | null {
  const value = env['PAAS_NODE_REGISTRY_ADDR'] ?? '';
  if (value === '') return null;
  if (!/^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/.test(value) || Number(value.split(':').pop()) > 65535)
    throw new ConfigError('PAAS_NODE_REGISTRY_ADDR', value, 'expected HOST:PORT, as nodes reach the registry');
  return value;
}

function milliseconds(env: Env, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^\d{3,7}$/.test(value)) throw new ConfigError(name, value, 'expected milliseconds, 100-9999999');
  return Number(value);
}

function buildLimits(env: Env): ApiConfig['buildLimits'] {
  const count = (name: string, fallback: number, min: number, max: number): number => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max)
      throw new ConfigError(name, value, `expected a whole number, ${min}-${max}`);
    return Number(value);
  };
  const memory = count('PAAS_BUILD_MEMORY_MB', 2048, 64, 1_048_576) * 1024 * 1024;
  return { memory, memorySwap: memory, pidsLimit: count('PAAS_BUILD_PIDS', 1024, 16, 4_194_304) };
}

export const API_CONFIG = Symbol('API_CONFIG');

/** The app's address as the routers serve it over HTTP: `http://APP.<domain>[:port]`. */
export function appWebUrl(config: Pick<ApiConfig, 'domain' | 'routerPort'>, app: string): string {
  return `http://${app}.${config.domain}${config.routerPort === 80 ? '' : `:${config.routerPort}`}`;
}
