/** What the primary and its workers say to each other over the cluster's IPC channel. */
import type { AppRoute } from '@paas/platform/routes';
import type { CounterSnapshot } from './stats';

/** One certificate of the table as workers serve it: its key opened. */
export interface OpenedCert {
  readonly app: string;
  readonly id: string;
  readonly domains: readonly string[];
  /** PEM chain, leaf first. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
  readonly notAfter: string;
}

export type ToWorker =
  /** The whole table, and the addresses active checks say are down. */
  | {
      readonly type: 'routes';
      readonly version: number;
      readonly routes: readonly AppRoute[];
      readonly down: readonly string[];
    }
  /**
   * The certificate table, keys opened (the primary holds the sealing key; a key that did not
   * open is left out and reported there, once).
   */
  | { readonly type: 'certs'; readonly version: number; readonly certs: readonly OpenedCert[] }
  /** The answer to an `acme` question. */
  | { readonly type: 'acme'; readonly id: number; readonly answer: string | null; readonly error?: string }
  /** One backend's active health changed. */
  | { readonly type: 'health'; readonly address: string; readonly healthy: boolean }
  /** Stop accepting, finish in-flight requests, exit. */
  | { readonly type: 'shutdown' };

export type ToPrimary =
  /** A worker is ready for the table. */
  | { readonly type: 'hello' }
  | { readonly type: 'metrics'; readonly snapshot: CounterSnapshot }
  /** The worker now routes by this version of the table. */
  | { readonly type: 'applied'; readonly version: number }
  /** The worker now serves this version of the certificate table. */
  | { readonly type: 'certs-applied'; readonly version: number }
  /** A sleeping app got a request: ask for its wake (the primary joins a wake already asked). */
  | { readonly type: 'wake'; readonly app: string }
  /** The first request held for a wake got its first byte `ms` after it came (for the app's log). */
  | { readonly type: 'woke'; readonly app: string; readonly ms: number }
  /** A backend refused a connection: check it now, so every worker learns. */
  | { readonly type: 'refused'; readonly address: string }
  /** The key authorization of an ACME HTTP-01 token (the primary reads it from Redis). */
  | { readonly type: 'acme'; readonly id: number; readonly token: string }
  /** The worker listens (on both addresses when TLS is on). */
  | { readonly type: 'listening'; readonly port: number; readonly tlsPort: number | null }
  /** The worker cannot serve (e.g. the address is in use) and is about to exit. */
  | { readonly type: 'fatal'; readonly message: string };

export function isMessage<T extends { type: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
