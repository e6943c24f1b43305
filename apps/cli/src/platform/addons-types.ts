/**
 * The add-ons' JSON as the api answers it (#22; docs/api.md once written). Defined here while
 * the api's add-on routes are built in parallel: these become aliases of @paas/api-types
 * (`Schemas['AddonView']`...) once the api lands and `nx run api:api-types` generates them.
 */

/** The kinds of managed service `addons:create TYPE` makes. */
export type AddonType = 'postgres' | 'redis';

/** One app's use of an add-on: the app, the attachment's name (`DATABASE`) and its config var (`DATABASE_URL`). */
export interface AddonAttachmentView {
  readonly app: string;
  readonly name: string;
  readonly var: string;
}

/** `GET /api/addons/:name`, `GET /api/apps/:app/addons`, and what creating or attaching one answers. */
export interface AddonView {
  readonly id: string;
  readonly name: string;
  readonly type: AddonType;
  /** creating, up, crashed or failed (`error` says why). */
  readonly state: string;
  readonly error: string | null;
  /** The node that holds its volume; null until placed. */
  readonly node: string | null;
  readonly size: string;
  readonly createdAt: string;
  readonly attachments: readonly AddonAttachmentView[];
}

/** `POST /api/apps/:app/addons`. */
export interface CreateAddonBody {
  readonly type: string;
  readonly name?: string;
  readonly as?: string;
  readonly size?: string;
}

/** `POST /api/addons/:name/attachments`. */
export interface AttachAddonBody {
  readonly app: string;
  readonly as?: string;
}
