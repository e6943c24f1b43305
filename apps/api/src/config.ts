import { type Env, type ListenAddress, type Paths, listenAddress, paths } from '@paas/config';

export interface ApiConfig {
  readonly paths: Paths;
  readonly listen: ListenAddress;
}

/** The api's settings; the only place the api reads its environment. */
export function loadApiConfig(env: Env): ApiConfig {
  return { paths: paths(env), listen: listenAddress(env, 'PAAS_API_ADDR') };
}

export const API_CONFIG = Symbol('API_CONFIG');
