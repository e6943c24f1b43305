import { resolve, join } from 'node:path';
import { type Env, type ListenAddress, type Paths, listenAddress, paths } from '@paas/config';
import { type BridgeSettings, bridgeSettingsFromEnv } from '@paas/engine';

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
    bridge: bridgeSettingsFromEnv(env),
  };
}
