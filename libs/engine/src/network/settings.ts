/** The bridge settings from their textual form (PAAS_BRIDGE, PAAS_SUBNET, PAAS_IP_FORWARD). */
import { ConfigError, DEFAULTS, type Env } from '@paas/config';
import type { BridgeSettings } from './bridge.linux';
import { NetworkConfigError, parseSubnet } from './subnet';

/** A Linux interface name that also fits in our iptables chain name (PAAS-DNAT-<bridge>). */
const BRIDGE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;

export function bridgeSettings(raw: { bridge: string; subnet: string; ipForward?: string }): BridgeSettings {
  if (!BRIDGE_NAME.test(raw.bridge)) {
    throw new NetworkConfigError(
      `invalid bridge name ${JSON.stringify(raw.bridge)}: 1-15 characters of [a-zA-Z0-9_.-]`,
    );
  }
  const forward = (raw.ipForward ?? '').toLowerCase();
  if (!['', '0', '1', 'true', 'false'].includes(forward)) {
    throw new NetworkConfigError(`invalid ip forwarding switch ${JSON.stringify(raw.ipForward)}: 1, 0, true or false`);
  }
  return { name: raw.bridge, subnet: parseSubnet(raw.subnet), ipForward: forward !== '0' && forward !== 'false' };
}

/**
 * The bridge settings from a component's environment (PAAS_BRIDGE, PAAS_SUBNET,
 * PAAS_IP_FORWARD, with DESIGN.md's defaults); a bad value is reported as a ConfigError
 * under the variable that holds it.
 */
export function bridgeSettingsFromEnv(env: Env): BridgeSettings {
  const raw = {
    bridge: env['PAAS_BRIDGE'] || DEFAULTS.PAAS_BRIDGE,
    subnet: env['PAAS_SUBNET'] || DEFAULTS.PAAS_SUBNET,
    ipForward: env['PAAS_IP_FORWARD'] ?? '',
  };
  try {
    return bridgeSettings(raw);
  } catch (err) {
    if (!(err instanceof NetworkConfigError)) throw err;
    if (/bridge name/.test(err.message)) throw new ConfigError('PAAS_BRIDGE', raw.bridge, err.message);
    if (/subnet/.test(err.message)) throw new ConfigError('PAAS_SUBNET', raw.subnet, err.message);
    throw new ConfigError('PAAS_IP_FORWARD', raw.ipForward, err.message);
  }
}
