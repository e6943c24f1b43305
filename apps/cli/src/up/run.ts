import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Env, VERSION, formatAddress, listenAddress, trustedCa } from '@paas/config';
import { controlPlaneAddresses } from '@paas/engine';
import {
  type Credentials,
  RegistryClient,
  RegistryClientError,
  ensurePlatformRegistryUsers,
  insecureRegistries,
  registryTransport,
} from '@paas/registry';
import { ensureDirMode } from '@paas/content';
import { loadCliConfig } from '../config';
import { ApiClient } from '../platform/client';
import type { CliIo } from '../io';
import { runForeground } from './foreground';
import { managedRedis } from './managed-redis';
import { ensureNodeToken, nodeTokenPath } from './node-token';
import type { ComponentSpec, ReadyMessage, RunningComponent } from './supervisor';

/** The bundled daemons sit beside the CLI bundle: dist/apps/<name>/main.js. */
export function componentScript(name: string): string {
  return resolve(__dirname, '..', name, 'main.js');
}

/**
 * The registry answers (401 with a challenge is an answer); off loopback over https trusting
 * the platform CA, which its first start made under the root, as the api and agent will.
 */
async function registryAnswers(url: string, env: Env): Promise<boolean> {
  const client = new RegistryClient(new URL(url).host, {
    ...registryTransport(env),
    endpoint: url,
    userAgent: 'paas-up',
  });
  await client.request('/v2/').catch((err: unknown) => {
    if (!(err instanceof RegistryClientError && err.status === 401)) throw err;
  });
  return true;
}

/** The api answers its health check; over https (off loopback) trusting the platform CA. */
async function apiAnswers(url: string, env: Env): Promise<boolean> {
  const ca = url.startsWith('https:') ? trustedCa(env) : null;
  await new ApiClient(url, undefined, ca)
    .open('GET', '/api/health', { signal: AbortSignal.timeout(5000) })
    .then((res) => res.destroy());
  return true;
}

/**
 * The platform registry is a pull-through cache of Docker Hub (or of PAAS_REGISTRY_PROXY_REMOTE;
 * `none`: no cache), which builds pull base images through: N nodes fetch one from outside once.
 * A login at the upstream: PAAS_REGISTRY_PROXY_USERNAME and PAAS_REGISTRY_PROXY_PASSWORD.
 */
function proxyArgs(env: NodeJS.ProcessEnv): string[] {
  const remote = env['PAAS_REGISTRY_PROXY_REMOTE'] || 'https://registry-1.docker.io';
  if (remote === 'none') return [];
  const user = env['PAAS_REGISTRY_PROXY_USERNAME'];
  return ['--proxy-remote', remote, ...(user ? ['--proxy-username', user] : [])];
}

/** HOST:PORT of a component's URL as an address setting reads it (URL.host drops a port 80). */
export function listenAddressOf(url: string): string {
  const { hostname, port, protocol } = new URL(url);
  return `${hostname}:${port || (protocol === 'https:' ? 443 : 80)}`;
}

/** A restart listens where the first start did (its address may have said port 0). */
const pinned =
  (variable: string) =>
  (first: ReadyMessage): Record<string, string> => ({ [variable]: listenAddressOf(first.url) });

/**
 * The router's HTTPS address under `paas up`: PAAS_ROUTER_TLS_ADDR when set; else 443 beside a
 * router on port 80 (the router's own default), an ephemeral port beside an ephemeral one, and
 * 8443 beside any other port: `paas up`'s router listens on 8080 by default, unprivileged, and
 * its HTTPS must not need root nor fail where a web server of the host holds 443.
 */
export function routerTlsAddress(env: Env): string | undefined {
  if (env['PAAS_ROUTER_TLS_ADDR']) return env['PAAS_ROUTER_TLS_ADDR'];
  const http = listenAddress(env, 'PAAS_ROUTER_ADDR');
  if (http.port === 80) return undefined;
  return formatAddress({ host: http.host, port: http.port === 0 ? 0 : 8443 });
}

export interface UpOptions {
  /** Leave the app instances running after the stop (the next `paas up` adopts them). */
  readonly keepApps?: boolean;
}

/**
 * `paas up`: runs the platform's components in the foreground until a signal; one that dies is
 * restarted (see Supervisor), and the apps keep serving meanwhile. The signal stops the
 * components, then the app instances (down.ts), unless `keepApps`.
 */
export async function runUp(io: CliIo, options: UpOptions = {}): Promise<void> {
  const config = loadCliConfig(io.env);
  const { root, run } = config.paths;
  mkdirSync(root, { recursive: true, mode: 0o711 });
  mkdirSync(run, { recursive: true, mode: 0o711 });
  // the control plane's files (database, tokens, keys, repositories, backups) and the
  // registry's storage: root's alone, also in an install an older version made more open
  await Promise.all([ensureDirMode(join(root, 'platform')), ensureDirMode(join(root, 'registry'))]);
  insecureRegistries(io.env); // a wrong PAAS_INSECURE_REGISTRIES fails here, not in a component
  // the registry takes tokens only: the build workers and the agent log in with their own users
  const logins = await ensurePlatformRegistryUsers(join(root, 'registry'), join(root, 'platform'));
  const login = (c: Credentials) => ({ PAAS_REGISTRY_USER: c.username, PAAS_REGISTRY_PASSWORD: c.password });
  const env: Record<string, string | undefined> = {
    ...io.env,
    PAAS_ROOT: root,
    PAAS_RUN: run,
    PAAS_API_ADDR: formatAddress(config.apiAddress),
  };
  // One node on this host: the agent shares the root (builds' images are already in its store)
  // and reports instances at their bridge addresses, which the router reaches directly.
  const agent = (registryUrl: string, apiUrl: string): ComponentSpec => ({
    name: 'agent',
    script: componentScript('agent'),
    env: {
      ...env,
      PAAS_API_URL: apiUrl,
      // a node token of its own, never the admin's (nor a PAAS_API_TOKEN of the caller's)
      PAAS_API_TOKEN: undefined,
      PAAS_API_TOKEN_FILE: nodeTokenPath(root),
      PAAS_REGISTRY_ADDR: new URL(registryUrl).host,
      ...login(logins.node),
      // nodes reach the control plane through the api only (docs/security.md); the user's
      // Redis stays walled off from this node's instances all the same
      REDIS_URL: undefined,
      PAAS_PROTECTED_CIDRS:
        [env['PAAS_PROTECTED_CIDRS'], ...controlPlaneAddresses([env['REDIS_URL'] ?? ''])].filter(Boolean).join(',') ||
        undefined,
    },
  });
  // Queues and live logs need Redis: the user's (REDIS_URL) or a private one under the root.
  let redis: RunningComponent | undefined;
  const registry: ComponentSpec = {
    name: 'registry',
    script: componentScript('cli'),
    args: ['registry', 'serve', '--root', join(root, 'registry'), '--auth', 'token', ...proxyArgs(io.env)],
    env,
    pin: pinned('PAAS_REGISTRY_ADDR'),
    // off loopback it serves https with a leaf of the platform CA (or PAAS_REGISTRY_TLS_CERT)
    probe: (url) => registryAnswers(url, env),
  };
  // The api pushes release images to the registry that just started (its port may have been 0).
  const api = (registryUrl: string): ComponentSpec => ({
    name: 'api',
    script: componentScript('api'),
    env: {
      ...env,
      PAAS_REGISTRY_ADDR: new URL(registryUrl).host,
      ...login(logins.builder),
      REDIS_URL: env['REDIS_URL'] || redis?.url,
      // where the router serves HTTPS, for the apps' https URLs (`paas open`)
      PAAS_ROUTER_TLS_ADDR: routerTlsAddress(env),
    },
    probe: (url) => apiAnswers(url, env),
    pin: pinned('PAAS_API_ADDR'),
  });
  // The router answers every Host; an unknown one gets its 404 page, which is an answer.
  const router = (): ComponentSpec => ({
    name: 'router',
    script: componentScript('proxy'),
    env: { ...env, REDIS_URL: env['REDIS_URL'] || redis?.url, PAAS_ROUTER_TLS_ADDR: routerTlsAddress(env) },
    pin: (first) => ({
      ...pinned('PAAS_ROUTER_ADDR')(first),
      ...(first.admin ? { PAAS_ROUTER_ADMIN_ADDR: listenAddressOf(first.admin) } : {}),
      ...(first.tls ? { PAAS_ROUTER_TLS_ADDR: listenAddressOf(first.tls) } : {}),
    }),
    probe: async (url) => (await fetch(url, { signal: AbortSignal.timeout(5000) })).status > 0,
  });

  await runForeground(io, run, {
    keepApps: options.keepApps ?? false,
    start: async (start) => {
      if (!env['REDIS_URL']) [redis] = await start([managedRedis(join(root, 'platform', 'redis'))]);
      const [reg] = await start([registry]);
      if (!reg) throw new Error('the registry did not start');
      const [control] = await start([api(reg.url)]);
      if (!control) throw new Error('the api did not start');
      // the api made the platform CA under the root on its first start: an https api chains to it
      await ensureNodeToken(root, control.url, control.url.startsWith('https:') ? trustedCa(env) : null);
      return [reg, control, ...(await start([agent(reg.url, control.url), router()]))];
    },
    announce: (running) => {
      io.out(`paas ${VERSION} is up\n`);
      for (const c of running) io.out(`  ${c.name.padEnd(10)} ${c.url.padEnd(28)} pid ${c.pid}\n`);
      if (redis) io.out(`  ${'redis'.padEnd(10)} ${redis.url.padEnd(28)} pid ${redis.pid}\n`);
      io.out(`  ${'root'.padEnd(10)} ${root}\n  ${'run'.padEnd(10)} ${run}\n`);
    },
  });
}
