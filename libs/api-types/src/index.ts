/**
 * The JSON shapes of the platform's REST API (docs/api.md) under the names the CLI and the
 * dashboard use. Everything here is an alias of openapi.d.ts, which is generated from the
 * api's OpenAPI document (apps/api/src/docs/api-types.ts) and checked against it by a spec,
 * so the clients read the api's own decorators and never a copy of them. Types only: nothing
 * server-side reaches a client bundle.
 */
import type { components } from './openapi';

export type { components, operations, paths } from './openapi';

type Schemas = components['schemas'];

/** `{id, version}` of a release, where another resource points at one. */
export type ReleaseRef = Schemas['ReleaseRef'];
export type App = Schemas['AppView'];
export type Build = Schemas['BuildView'];
export type BuildStatus = Build['status'];
export type Release = Schemas['ReleaseView'];
export type ReleaseStatus = Release['status'];
export type Formation = Schemas['FormationView'];
/** One entry of `PATCH /formation`'s `updates`. */
export type FormationUpdate = Schemas['FormationUpdateDto'];
export type Instance = Schemas['InstanceView'];
export type InstanceState = Instance['state'];
export type Domain = Schemas['DomainView'];
/** A log drain (`GET /apps/:app/drains`): its URL with any password masked, and how delivery stands. */
export type Drain = Schemas['DrainView'];
/** A review app of an app (`GET /apps/:app/reviews`): made by a push of the parent's other branch. */
export type ReviewApp = Schemas['ReviewView'];
/** A managed PostgreSQL or Redis (`addons:info`), with the apps attached to it. */
export type Addon = Schemas['AddonView'];
export type AddonType = Addon['type'];
export type AddonState = Addon['state'];
export type AddonAttachment = Schemas['AddonAttachmentView'];
/** `POST /api/apps/:app/addons` and `POST /api/addons/:name/attachments`. */
export type CreateAddon = Schemas['CreateAddonDto'];
export type AttachAddon = Schemas['AttachAddonDto'];
/** An app's TLS certificate (`GET /certs`); the key is never part of it. */
export type Certificate = Schemas['CertView'];
/** The answer to `POST /certs`: the certificate, and those whose domains it took over. */
export type AddedCertificate = Schemas['AddedCertView'];
/** `GET/POST/DELETE /certs/auto`: whether automatic certificates are on, and each custom domain's state. */
export type CertsAuto = Schemas['CertsAutoView'];
export type DomainCertState = Schemas['DomainCertStateView'];
/** `GET/PATCH /apps/:app/https`: the redirect and HSTS the routers apply. */
export type HttpsSettings = Schemas['HttpsView'];
/** `GET/PATCH /apps/:app/maintenance`: whether the routers answer the app 503, and whether a PATCH changed it. */
export type Maintenance = Schemas['MaintenanceView'];
/** One backup of a postgres add-on (`GET /addons/:name/backups`). */
export type Backup = Schemas['BackupView'];
/** The answer to `POST /addons/:name/restore`. */
export type RestoredBackup = Schemas['RestoreView'];
/** `PUT /addons/:name/backups/schedule`: the UTC hour of its daily backup, or null. */
export type BackupSchedule = Schemas['BackupScheduleView'];
export type Node = Schemas['NodeView'];
export type NodeState = Node['state'];
export type RemovedNode = Schemas['RemovedNodeView'];
export type JoinToken = Schemas['JoinTokenView'];
export type IssuedJoinToken = Schemas['IssuedJoinTokenView'];
export type JoinAnswer = Schemas['JoinAnswerView'];
/** `GET /control-plane`: which api of those sharing the database runs the scheduler. */
export type ControlPlane = Schemas['ControlPlaneView'];
export type Token = Schemas['TokenView'];
/** The answer to `POST /tokens`: the token itself, shown this once. */
export type IssuedToken = Schemas['IssuedTokenView'];
/** The data of each event of `GET /logs`. */
export type LogLine = Schemas['LogLineView'];
export type AppMetrics = Schemas['AppMetricsView'];
export type MetricsSample = Schemas['MetricsSampleView'];
/** Every error the api answers: `{"code","message","details"?}`. */
export type ApiErrorBody = Schemas['ErrorView'];
