import { type Env, type ListenAddress, type Paths, listenAddress, paths } from '@paas/config';

export interface CliConfig {
  readonly paths: Paths;
  readonly apiAddress: ListenAddress;
}

/** The CLI's settings, read once per invocation and only when a command needs them. */
export function loadCliConfig(env: Env): CliConfig {
  return { paths: paths(env), apiAddress: listenAddress(env, 'PAAS_API_ADDR') };
}
