export * from './bridge-network';
export { type BridgeSettings } from './bridge.linux';
export { containerResolvConf } from './hosts';
export { IpamError, type Lease, PortAllocatedError } from './ipam';
export * from './ports';
export { NetworkConfigError, type Subnet, parseSubnet } from './subnet';
export { bridgeSettings, bridgeSettingsFromEnv } from './settings';
