/** The bridge settings from their textual form (PAAS_BRIDGE, PAAS_SUBNET, PAAS_IP_FORWARD). */
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
