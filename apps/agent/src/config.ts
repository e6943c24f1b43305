import {
  addressOrOff,
  ConfigError,
  type Env,
  type ListenAddress,
  type Paths,
  type RegistryLogin,
  type TrustedCa,
  listenAddress,
  localApiUrl,
  paths,
  registryLogin,
  tenantUserns,
  trustedCa,
} from '@paas/config';
import { type EngineSettings, type UsernsMode, controlPlaneAddresses, engineSettingsFromEnv } from '@paas/engine';
import { NODE_NAME, NODE_NAME_RULE } from '@paas/platform';
import { insecureRegistries } from '@paas/registry';
import { isIPv4 } from 'node:net';
import { availableParallelism, hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

export interface AgentConfig {
  readonly paths: Paths;
  /** The local status socket, `$PAAS_RUN/agent.sock`. */
  readonly socket: string;
  /** TCP address the control plane reaches this node on (kept for the design's defaults). */
  readonly listen: ListenAddress;
  /** The control plane: `PAAS_API_URL`, or `PAAS_API_ADDR` (https off loopback). */
  readonly apiUrl: string;
  /**
   * The CA an https control plane's certificate must chain to: `PAAS_CA_FILE`, else the
   * platform CA of this root when present, else Node's default CAs.
   */
  readonly ca: TrustedCa | null;
  /** `PAAS_API_TOKEN`, else the file `PAAS_API_TOKEN_FILE` (default: the admin token of this root). */
  readonly token: string | null;
  readonly tokenFile: string;
  /** `PAAS_NODE_NAME` (default: the host name). */
  readonly nodeName: string;
  /**
   * `PAAS_NODE_ADDRESS`: the node's IP as the router reaches it. When set, each web instance's
   * port is published on it (`IP:HOSTPORT`); otherwise instances are reported at their bridge
   * address (`CONTAINER_IP:5000`), which a router on the same host reaches directly.
   */
  readonly nodeAddress: string | null;
  /** `PAAS_NODE_MEMORY` (MiB) and `PAAS_NODE_CPUS` (cores): what instances may use here. */
  readonly memory: number;
  readonly cpus: number;
  /**
   * `PAAS_NODE_OVERCOMMIT` (a ratio, default 2): how much more memory than the node has its
   * instances' limits may add up to, in percent here (200). Limits are ceilings that most
   * instances never reach; 1 never promises more than the node has.
   */
  readonly overcommit: number;
  /**
   * `PAAS_REGISTRY_ADDR`: the platform registry as this node reaches it. Release images the
   * control plane names under its own registry address are pulled from here.
   */
  readonly registry: string;
  /** `PAAS_REGISTRY_USER` + `PAAS_REGISTRY_PASSWORD`: this node's (pull-only) login to that registry. */
  readonly registryLogin: RegistryLogin | null;
  /**
   * `PAAS_INSECURE_REGISTRIES`: registries spoken to over HTTP besides loopback ones; the
   * platform registry off loopback is HTTPS (trusting `ca` besides Node's roots) unless listed.
   */
  readonly insecureRegistries: readonly string[];
  readonly engine: EngineSettings;
  /**
   * `PAAS_INSTANCE_USERNS` (`auto`, the default, or `host`): app instances in user namespaces,
   * one range of `PAAS_USERNS_POOL` per app, so root inside one is an unprivileged host id.
   */
  readonly instanceUserns: UsernsMode;
  /** `PAAS_AGENT_METRICS_ADDR` (e.g. 127.0.0.1:9101): `GET /metrics` for Prometheus; null (`off`, the default): none. */
  readonly metricsListen: ListenAddress | null;
}

/** The repository root: the agent runs as dist/apps/agent/main.js or from apps/agent/src. */
const REPO = resolve(__dirname, '..', '..', '..');

function positive(env: Env, name: string, fallback: number, integer: boolean): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = (integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(value) ? Number(value) : NaN;
  if (!(n > 0))
    throw new ConfigError(name, value, integer ? 'expected a whole number above 0' : 'expected a number above 0');
  return n;
}

/** The documented default of PAAS_NODE_OVERCOMMIT. */
export const DEFAULT_OVERCOMMIT = 2;

function overcommit(env: Env): number {
  const ratio = positive(env, 'PAAS_NODE_OVERCOMMIT', DEFAULT_OVERCOMMIT, false);
  if (ratio < 1 || ratio > 10)
    throw new ConfigError('PAAS_NODE_OVERCOMMIT', String(env['PAAS_NODE_OVERCOMMIT']), 'expected a ratio from 1 to 10');
  return Math.round(ratio * 100);
}

/** The agent's settings; the only place the agent reads its environment. */
export function loadAgentConfig(env: Env): AgentConfig {
  const p = paths(env);
  const apiUrl = env['PAAS_API_URL'] || localApiUrl(env);
  try {
    const url = new URL(apiUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new ConfigError('PAAS_API_URL', apiUrl, 'expected http://HOST:PORT');
  }
  const nodeName = (env['PAAS_NODE_NAME'] || hostname()).toLowerCase();
  if (!NODE_NAME.test(nodeName)) throw new ConfigError('PAAS_NODE_NAME', nodeName, `must be ${NODE_NAME_RULE}`);
  const nodeAddress = env['PAAS_NODE_ADDRESS'] || null;
  if (nodeAddress !== null && !isIPv4(nodeAddress)) {
    throw new ConfigError(
      'PAAS_NODE_ADDRESS',
      nodeAddress,
      'expected the IPv4 address the router reaches this node on',
    );
  }
  const registry = listenAddress(env, 'PAAS_REGISTRY_ADDR');
  const native = join(REPO, 'native', 'runtime', 'build');
  return {
    paths: p,
    socket: join(p.run, 'agent.sock'),
    listen: listenAddress(env, 'PAAS_AGENT_ADDR'),
    apiUrl: apiUrl.replace(/\/+$/, ''),
    ca: trustedCa(env),
    token: env['PAAS_API_TOKEN'] || null,
    tokenFile: env['PAAS_API_TOKEN_FILE'] || join(p.root, 'platform', 'admin.token'),
    nodeName,
    nodeAddress,
    // what the host has, less a little for the system
    memory: positive(env, 'PAAS_NODE_MEMORY', Math.max(64, Math.floor((totalmem() / 2 ** 20) * 0.9)), true),
    cpus: Math.round(positive(env, 'PAAS_NODE_CPUS', availableParallelism(), false) * 1000),
    overcommit: overcommit(env),
    registry: `${registry.host === '0.0.0.0' ? '127.0.0.1' : registry.host}:${registry.port}`,
    registryLogin: registryLogin(env),
    insecureRegistries: insecureRegistries(env),
    // no REDIS_URL: a node reaches the control plane through the api only (docs/security.md);
    // the operator names the control plane's other hosts in PAAS_PROTECTED_CIDRS
    engine: engineSettingsFromEnv(env, native, controlPlaneAddresses([apiUrl, `http://${registry.host}`])),
    metricsListen: addressOrOff(env, 'PAAS_AGENT_METRICS_ADDR', 'off'),
    instanceUserns: tenantUserns(env),
  };
}
