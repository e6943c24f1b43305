/** What the primary and its workers say to each other over the cluster's IPC channel. */
import type { AppRoute } from '@paas/platform/routes';
import type { CounterSnapshot } from './stats';

export type ToWorker =
  /** The whole table, and the addresses active checks say are down. */
  | {
      readonly type: 'routes';
      readonly version: number;
      readonly routes: readonly AppRoute[];
      readonly down: readonly string[];
    }
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
  /** A backend refused a connection: check it now, so every worker learns. */
  | { readonly type: 'refused'; readonly address: string }
  /** The worker cannot serve (e.g. the address is in use) and is about to exit. */
  | { readonly type: 'fatal'; readonly message: string };

export function isMessage<T extends { type: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
