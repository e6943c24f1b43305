import { resolve, join } from 'node:path';
import { type Env, type ListenAddress, type Paths, listenAddress, paths } from '@paas/config';
import { type EngineSettings, engineSettingsFromEnv } from '@paas/engine';

/** The engine's settings (`PAAS_RUNTIME`, `PAAS_SHIM`, `PAAS_INIT`, `PAAS_BRIDGE`...), the paths, the api. */
export interface CliConfig extends EngineSettings {
  readonly paths: Paths;
  readonly apiAddress: ListenAddress;
}

/** The repository root: the CLI runs as dist/apps/cli/main.js or from apps/cli/src. */
const REPO = resolve(__dirname, '..', '..', '..');

/** The CLI's settings, read once per invocation and only when a command needs them. */
export function loadCliConfig(env: Env): CliConfig {
  return {
    paths: paths(env),
    apiAddress: listenAddress(env, 'PAAS_API_ADDR'),
    ...engineSettingsFromEnv(env, join(REPO, 'native', 'runtime', 'build')),
  };
}
