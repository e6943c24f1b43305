import { resolve, join } from 'node:path';
import { ConfigError, DEFAULTS, type Env, type ListenAddress, type Paths, listenAddress, paths } from '@paas/config';
import { type BridgeSettings, NetworkConfigError, bridgeSettings } from '@paas/engine';

export interface CliConfig {
  readonly paths: Paths;
  readonly apiAddress: ListenAddress;
  /** The OCI runtime containers start with (`PAAS_RUNTIME`: paas-runtime, crun or runc). */
  readonly runtime: string;
  /** The per-container monitor (`PAAS_SHIM`). */
  readonly shim: string;
  /** The init of `run --init` (`PAAS_INIT`). */
  readonly init: string;
  /** The container bridge: `PAAS_BRIDGE`, `PAAS_SUBNET`, `PAAS_IP_FORWARD` (Docker's --ip-forward). */
  readonly bridge: BridgeSettings;
}

/** The repository root: the CLI runs as dist/apps/cli/main.js or from apps/cli/src. */
const REPO = resolve(__dirname, '..', '..', '..');

/** The CLI's settings, read once per invocation and only when a command needs them. */
export function loadCliConfig(env: Env): CliConfig {
  return {
    paths: paths(env),
    apiAddress: listenAddress(env, 'PAAS_API_ADDR'),
    runtime: env['PAAS_RUNTIME'] || join(REPO, 'native', 'runtime', 'build', 'paas-runtime'),
    shim: env['PAAS_SHIM'] || join(REPO, 'native', 'runtime', 'build', 'paas-shim'),
    init: env['PAAS_INIT'] || join(REPO, 'native', 'runtime', 'build', 'paas-init'),
    bridge: bridge(env),
  };
}

function bridge(env: Env): BridgeSettings {
  const raw = {
    bridge: env['PAAS_BRIDGE'] || DEFAULTS.PAAS_BRIDGE,
    subnet: env['PAAS_SUBNET'] || DEFAULTS.PAAS_SUBNET,
    ipForward: env['PAAS_IP_FORWARD'] ?? '',
  };
  try {
    return bridgeSettings(raw);
  } catch (err) {
    if (!(err instanceof NetworkConfigError)) throw err;
    const name = /bridge name/.test(err.message)
      ? 'PAAS_BRIDGE'
      : /subnet/.test(err.message)
        ? 'PAAS_SUBNET'
        : 'PAAS_IP_FORWARD';
    const value = name === 'PAAS_BRIDGE' ? raw.bridge : name === 'PAAS_SUBNET' ? raw.subnet : raw.ipForward;
    throw new ConfigError(name, value, err.message);
  }
}
