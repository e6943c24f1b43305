/**
 * The add-ons' JSON as the api answers it (#22, docs/addons.md), for the Add-ons tab. Defined
 * here while the api's add-on routes are built: these become aliases of @paas/api-types,
 * exported from api.ts with the other wire types, once the api lands and `nx run api:api-types`
 * generates them.
 */

export type AddonType = 'postgres' | 'redis';

/** One app's use of an add-on: the app, the attachment's name (`DATABASE`) and its config var (`DATABASE_URL`). */
export interface AddonAttachment {
  readonly app: string;
  readonly name: string;
  readonly var: string;
}

/** `GET /api/apps/:app/addons`, and what creating or attaching one answers. */
export interface Addon {
  readonly id: string;
  readonly name: string;
  readonly type: AddonType;
  /** creating, up, crashed, failed or destroying (`error` says why it crashed or failed). */
  readonly state: string;
  readonly error: string | null;
  /** The node that holds its volume; null until placed. */
  readonly node: string | null;
  readonly size: string;
  readonly createdAt: string;
  readonly attachments: readonly AddonAttachment[];
}

/** `GET /api/addons/:name/backups` (oldest first), and what `POST` (capture, 202) answers. */
export interface AddonBackup {
  readonly id: string;
  /** `b001`, its number among its add-on's backups. */
  readonly name: string;
  readonly number: number;
  readonly state: 'running' | 'succeeded' | 'failed';
  /** Bytes of the dump, once it succeeded. */
  readonly size: number | null;
  readonly trigger: string;
  readonly error: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}
