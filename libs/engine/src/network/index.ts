export * from './bridge-network';
export { type BridgeSettings, raiseNeighbourTable } from './bridge.linux';
export { ipsetDestroy } from './commands.linux';
export { ownHosts, readContainerResolvConf } from './hosts';
export { IpamError, type Lease, PortAllocatedError, type PortRange } from './ipam';
export * from './ports';
export { BridgeSandboxes, type Sandbox } from './sandboxes';
export { isLoopbackIp, proxySpecs } from './rules';
export { NetworkConfigError, type Subnet } from './subnet';
export {
  addonPortsFromEnv,
  bridgeSettings,
  bridgeSettingsFromEnv,
  controlPlaneAddresses,
  parseAddonPorts,
} from './settings';
