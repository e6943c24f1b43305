import { type Env, type ListenAddress, type Paths, domain, listenAddress, paths } from '@paas/config';

export interface ProxyConfig {
  readonly paths: Paths;
  readonly listen: ListenAddress;
  /** Apps answer at `APP.<domain>`. */
  readonly domain: string;
}

/** The router's settings; the only place the router reads its environment. */
export function loadProxyConfig(env: Env): ProxyConfig {
  return { paths: paths(env), listen: listenAddress(env, 'PAAS_ROUTER_ADDR'), domain: domain(env, 'PAAS_DOMAIN') };
}
