/**
 * The api's TLS: every start makes sure the platform CA exists (the first start makes it,
 * platform-ca.ts), and an api listening off loopback serves HTTPS with either the operator's
 * certificate (PAAS_API_TLS_CERT/KEY) or a leaf of that CA naming the listen address, this
 * host's names and PAAS_API_TLS_SANS; the registry does the same (@paas/platform's
 * tls/serving.ts is the one recipe). server.ts swaps a renewed leaf in without a restart.
 */
import { type ServiceTlsCredentials, serviceTlsCredentials } from '@paas/platform';
import type { ApiConfig } from './config';

export type ApiTlsCredentials = ServiceTlsCredentials;

export function apiTlsCredentials(config: Pick<ApiConfig, 'paths' | 'listen' | 'tls'>): Promise<ApiTlsCredentials> {
  return serviceTlsCredentials(
    config.paths.root,
    { service: 'api', prefix: 'PAAS_API' },
    config.listen.host,
    config.tls,
  );
}
