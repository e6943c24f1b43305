/** The bridge settings from their textual form (PAAS_BRIDGE, PAAS_SUBNET, PAAS_IP_FORWARD, PAAS_PROTECTED_CIDRS, PAAS_ADDON_PORTS). */
import { isIPv4 } from 'node:net';
import { ConfigError, DEFAULTS, type Env } from '@paas/config';
import type { BridgeSettings } from './bridge.linux';
import { EPHEMERAL_PORTS, type PortRange } from './ipam';
import { NetworkConfigError, parseCidr, parseSubnet } from './subnet';

/** A Linux interface name that also fits in our iptables chain name (PAAS-DNAT-<bridge>). */
const BRIDGE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;

export function bridgeSettings(raw: {
  bridge: string;
  subnet: string;
  ipForward?: string;
  /** Comma-separated addresses or CIDRs no container may reach. */
  protectedCidrs?: string;
  /** `FROM-TO`: the host ports add-ons are published on (default PAAS_ADDON_PORTS's). */
  addonPorts?: string;
}): BridgeSettings {
  if (!BRIDGE_NAME.test(raw.bridge)) {
    throw new NetworkConfigError(
      `invalid bridge name ${JSON.stringify(raw.bridge)}: 1-15 characters of [a-zA-Z0-9_.-]`,
    );
  }
  const forward = (raw.ipForward ?? '').toLowerCase();
  if (!['', '0', '1', 'true', 'false'].includes(forward)) {
    throw new NetworkConfigError(`invalid ip forwarding switch ${JSON.stringify(raw.ipForward)}: 1, 0, true or false`);
  }
  const protectedCidrs = (raw.protectedCidrs ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean)
    .map((c) => {
      try {
        return parseCidr(c);
      } catch (err) {
        throw new NetworkConfigError(`invalid protected ${(err as Error).message.replace(/^invalid /, '')}`);
      }
    });
  return {
    name: raw.bridge,
    subnet: parseSubnet(raw.subnet),
    ipForward: forward !== '0' && forward !== 'false',
    protectedCidrs: [...new Set(protectedCidrs)],
    addonPorts: parseAddonPorts(raw.addonPorts || DEFAULTS.PAAS_ADDON_PORTS),
  };
}

/**
 * PAAS_ADDON_PORTS (`FROM-TO`, or one port): the host ports add-ons are published on, which
 * every bridge closes to containers but for the add-ons they may reach (rules.ts). It must lie
 * below the kernel's ephemeral range: connections' replies to ephemeral ports would match it.
 */
export function parseAddonPorts(text: string): PortRange {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  const first = Number(m?.[1]);
  const last = m?.[2] !== undefined ? Number(m[2]) : first;
  if (!m || first < 1 || last > 65535 || last < first) {
    throw new NetworkConfigError(`invalid add-on port range ${JSON.stringify(text)}: expected FROM-TO, ports 1-65535`);
  }
  if (first <= EPHEMERAL_PORTS.last && last >= EPHEMERAL_PORTS.first) {
    throw new NetworkConfigError(
      `invalid add-on port range ${JSON.stringify(text)}: overlaps the ephemeral ports ${EPHEMERAL_PORTS.first}-${EPHEMERAL_PORTS.last}, which replies to containers' connections use`,
    );
  }
  return { first, last };
}

/** PAAS_ADDON_PORTS from a component's environment (the api allocates in it); a bad value is a ConfigError. */
export function addonPortsFromEnv(env: Env): PortRange {
  const text = env['PAAS_ADDON_PORTS'] || DEFAULTS.PAAS_ADDON_PORTS;
  try {
    return parseAddonPorts(text);
  } catch (err) {
    if (err instanceof NetworkConfigError) throw new ConfigError('PAAS_ADDON_PORTS', text, err.message);
    throw err;
  }
}

/**
 * The bridge settings from a component's environment (PAAS_BRIDGE, PAAS_SUBNET,
 * PAAS_IP_FORWARD, PAAS_PROTECTED_CIDRS, PAAS_ADDON_PORTS, with DESIGN.md's defaults); a bad value is reported
 * as a ConfigError under the variable that holds it. `extraProtected`: addresses a component
 * knows the control plane by (the agent's api and registry), walled off as well.
 */
export function bridgeSettingsFromEnv(env: Env, extraProtected: readonly string[] = []): BridgeSettings {
  const raw = {
    bridge: env['PAAS_BRIDGE'] || DEFAULTS.PAAS_BRIDGE,
    subnet: env['PAAS_SUBNET'] || DEFAULTS.PAAS_SUBNET,
    ipForward: env['PAAS_IP_FORWARD'] ?? '',
    protectedCidrs: [env['PAAS_PROTECTED_CIDRS'] ?? '', ...extraProtected].filter(Boolean).join(','),
    addonPorts: env['PAAS_ADDON_PORTS'] || DEFAULTS.PAAS_ADDON_PORTS,
  };
  try {
    return bridgeSettings(raw);
  } catch (err) {
    if (!(err instanceof NetworkConfigError)) throw err;
    if (/bridge name/.test(err.message)) throw new ConfigError('PAAS_BRIDGE', raw.bridge, err.message);
    if (/subnet/.test(err.message)) throw new ConfigError('PAAS_SUBNET', raw.subnet, err.message);
    if (/add-on port range/.test(err.message)) throw new ConfigError('PAAS_ADDON_PORTS', raw.addonPorts, err.message);
    if (/protected/.test(err.message)) {
      throw new ConfigError('PAAS_PROTECTED_CIDRS', raw.protectedCidrs, err.message);
    }
    throw new ConfigError('PAAS_IP_FORWARD', raw.ipForward, err.message);
  }
}

/**
 * The IPv4 addresses a component knows the control plane by (api, registry, redis, the
 * database: URLs or `http://host:port`), which no container may reach through this node (PAAS_PROTECTED_CIDRS adds more; a control plane
 * named by a DNS name must be listed there). Loopback and the host's own addresses are
 * walled off for every container anyway.
 */
export function controlPlaneAddresses(urls: readonly string[]): string[] {
  const hosts = urls.map((u) => {
    try {
      return new URL(u).hostname;
    } catch {
      return '';
    }
  });
  return [...new Set(hosts.filter((h) => isIPv4(h) && !h.startsWith('127.') && h !== '0.0.0.0'))];
}
