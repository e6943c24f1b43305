/**
 * How this process reaches registries, read in one place for the CLI, the build workers and
 * the agents: the platform CA it trusts for the platform registry's HTTPS (PAAS_CA_FILE, else
 * the CA under its own PAAS_ROOT: @paas/config's trustedCa) IN ADDITION to Node's own roots,
 * so Docker Hub and other public registries keep working beside it; and the registries it
 * speaks plain HTTP to besides loopback ones (PAAS_INSECURE_REGISTRIES, never implied).
 *
 * The client sends every request through node:http(s) with `tlsAgent`'s CA list: Node 20's
 * fetch takes no CA of its own.
 */
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { ConfigError, type Env, type TrustedCa, trustedCa } from '@paas/config';

export interface RegistryTransport {
  /** The CA trusted besides Node's roots; null: Node's roots alone. */
  readonly trust: TrustedCa | null;
  /** Registries (`host:port`, as references name them) spoken to over plain HTTP besides loopback ones. */
  readonly insecure: readonly string[];
}

/** PAAS_CA_FILE (or the CA under PAAS_ROOT) and PAAS_INSECURE_REGISTRIES, checked. */
export function registryTransport(env: Env): RegistryTransport {
  return { trust: trustedCa(env), insecure: insecureRegistries(env) };
}

/** `PAAS_INSECURE_REGISTRIES=host:5000,other:5000`: each entry a HOST[:PORT] as image references name it. */
export function insecureRegistries(env: Env): string[] {
  const value = env['PAAS_INSECURE_REGISTRIES'] ?? '';
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(entry))
      throw new ConfigError(
        'PAAS_INSECURE_REGISTRIES',
        value,
        `${JSON.stringify(entry)} is not HOST[:PORT] (no scheme or path: as image references name the registry)`,
      );
  }
  return entries;
}

const agents = new Map<string, Agent>();

/**
 * The https agent trusting `trust` and Node's roots (one per CA, shared by every client so
 * connections are reused); undefined (Node's global agent) without a CA of our own.
 */
export function tlsAgent(trust: TrustedCa | null | undefined): Agent | undefined {
  if (!trust) return undefined;
  let agent = agents.get(trust.pem);
  if (!agent) {
    agent = new Agent({ keepAlive: true, ca: [...rootCertificates, trust.pem] });
    agents.set(trust.pem, agent);
  }
  return agent;
}
