/**
 * The platform's tables. Column types are spelled out on every column (the bundlers we use do
 * not emit decorator metadata) and chosen to mean the same on SQLite and PostgreSQL: varchar,
 * integer, bigint (byte counts, which outgrow a 32-bit integer), text, boolean, `simple-json`
 * (text) and the driver's own timestamp type.
 *
 * The schema itself is made by the migrations in ./migrations, never by `synchronize`; a spec
 * checks that migrations and these classes describe the same tables on both databases.
 */
import {
  Column,
  type ColumnOptions,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  Unique,
  UpdateDateColumn,
  type ValueTransformer,
} from 'typeorm';
import type { Autoscale } from '../formation';

/**
 * A bigint read back as a number: node-postgres hands bigints over as strings, since they may
 * exceed 2^53; the counts kept in them (bytes) never come near that.
 */
export const BIGINT_AS_NUMBER: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/** A nullable count of bytes: more than an integer's 2 GiB (an instance's memory). */
const NULLABLE_BYTES: ColumnOptions = { type: 'bigint', nullable: true, transformer: BIGINT_AS_NUMBER };

export type BuildStatus = 'pending' | 'building' | 'succeeded' | 'failed';
/** A release's state; release-lifecycle.ts moves it (building -> deploying -> live, failed, superseded). */
export type ReleaseStatus = 'building' | 'deploying' | 'live' | 'failed' | 'superseded';
/** `pending`: wanted, but no node has room for it yet (no node; `error` says why). */
export type InstanceState = 'pending' | 'starting' | 'up' | 'crashed' | 'stopping' | 'down';
export type NodeState = 'up' | 'down' | 'draining';
/** What the scheduler wants of an instance: to run, or to leave (drained, then stopped). */
export type InstanceDesire = 'run' | 'stop';

/** One health check from app.json, as Dokku reads them. */
export interface HealthcheckSpec {
  readonly type: 'startup' | 'liveness' | 'readiness';
  readonly path?: string;
  readonly port?: number;
  readonly attempts?: number;
  readonly timeout?: number;
  readonly wait?: number;
  readonly content?: string;
}

@Entity({ name: 'apps' })
// one review app per branch of a parent, however two first pushes of it race
@Index(['parentId', 'branch'], { unique: true })
export class App {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 63, unique: true })
  name!: string;

  /** HTTPS settings (`paas https`), off by default; the router reads them from the app's route. */
  @Column({ type: 'boolean', default: false })
  httpsRedirect!: boolean;

  /** Strict-Transport-Security max-age in seconds on HTTPS answers; null: no HSTS header. */
  @Column({ type: 'integer', nullable: true })
  hstsMaxAge!: number | null;

  /** `paas certs:auto:enable`: its custom domains get certificates over ACME (api certs/acme-issuer.ts). */
  @Column({ type: 'boolean', default: false })
  certsAuto!: boolean;

  /** `paas maintenance:on`: the routers answer it 503 with a maintenance page; its instances keep running. */
  @Column({ type: 'boolean', default: false })
  maintenance!: boolean;

  /** A review app's parent (the app whose branch it serves); null for every other app. */
  @Index()
  @Column({ type: 'varchar', length: 36, nullable: true })
  parentId!: string | null;

  /** A review app's branch of its parent's repository (`feature/x`); null for every other app. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  branch!: string | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}

@Entity({ name: 'config_vars' })
export class ConfigVar {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  appId!: string;

  @PrimaryColumn({ type: 'varchar', length: 255 })
  key!: string;

  @Column({ type: 'text' })
  value!: string;
}

@Entity({ name: 'builds' })
@Index(['appId', 'createdAt'])
export class Build {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  appId!: string;

  /** Per-app build number, shown by `paas builds`. */
  @Column({ type: 'integer' })
  number!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: BuildStatus;

  /** The pushed commit (40 hex). */
  @Column({ type: 'varchar', length: 64 })
  commit!: string;

  @Column({ type: 'varchar', length: 255 })
  ref!: string;

  /** How the app was recognised: dockerfile, node, static. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  stack!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  imageRef!: string | null;

  @Column({ type: 'varchar', length: 80, nullable: true })
  imageDigest!: string | null;

  /** Process type -> command from the Procfile (or `web` from the image's CMD). */
  @Column({ type: 'simple-json', nullable: true })
  processTypes!: Record<string, string> | null;

  @Column({ type: 'simple-json', nullable: true })
  healthchecks!: Record<string, HealthcheckSpec[]> | null;

  /** The whole build log once the build has finished (live lines go through Redis). */
  @Column({ type: 'text', default: '' })
  output!: string;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  /** How many times a worker has started this build (BullMQ retries after a crash). */
  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ type: 'varchar', length: 36, nullable: true })
  releaseId!: string | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}

@Entity({ name: 'releases' })
@Unique(['appId', 'version'])
export class Release {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  appId!: string;

  @Column({ type: 'integer' })
  version!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: ReleaseStatus;

  @Column({ type: 'text' })
  description!: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  imageRef!: string | null;

  @Column({ type: 'varchar', length: 80, nullable: true })
  imageDigest!: string | null;

  /** The config vars this release runs with: a snapshot, so a rollback restores them. */
  @Column({ type: 'simple-json' })
  config!: Record<string, string>;

  @Column({ type: 'simple-json' })
  processTypes!: Record<string, string>;

  @Column({ type: 'simple-json', nullable: true })
  healthchecks!: Record<string, HealthcheckSpec[]> | null;

  @Column({ type: 'varchar', length: 36, nullable: true })
  buildId!: string | null;

  /** Makes creating a release from a build idempotent: `<commit>:<build id>`. */
  @Column({ type: 'varchar', length: 120, nullable: true, unique: true })
  idempotencyKey!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  createdBy!: string | null;

  @CreateDateColumn()
  createdAt!: Date;

  /** When the router switched to this release (ISO time); null while it never served. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  liveAt!: string | null;

  /** Why it failed (its release command, a lost build, instances that did not pass their checks). */
  @Column({ type: 'text', nullable: true })
  deployError!: string | null;

  /** What holds a deploying release back (no node has room for its instances), while it does. */
  @Column({ type: 'text', nullable: true })
  deployNote!: string | null;
}

@Entity({ name: 'formations' })
export class Formation {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  appId!: string;

  @PrimaryColumn({ type: 'varchar', length: 30 })
  type!: string;

  @Column({ type: 'integer' })
  quantity!: number;

  /** The instances' size (sizes.ts): a name, or `<MiB>M` for a custom one. */
  @Column({ type: 'varchar', length: 32, default: 'basic' })
  size!: string;

  /** What the size gives each instance: memory limit in MiB... */
  @Column({ type: 'integer', default: 256 })
  memory!: number;

  /** ...CPU weight (cgroup cpu.shares)... */
  @Column({ type: 'integer', default: 512 })
  cpuShares!: number;

  /** ...and a hard CPU limit in thousandths of a core, or none. */
  @Column({ type: 'integer', nullable: true })
  cpuQuota!: number | null;

  /** How many of `quantity` no node has room for now, and why (the scheduler keeps these). */
  @Column({ type: 'integer', default: 0 })
  waiting!: number;

  @Column({ type: 'text', nullable: true })
  waitingReason!: string | null;

  /**
   * Its autoscale settings (formation.ts Autoscale; `ps:autoscale:enable`), all null when off.
   * The scheduler then owns `quantity`: it sets it to zero when idle, and to one on a wake.
   */
  @Column({ type: 'integer', nullable: true })
  autoscaleMin!: number | null;

  @Column({ type: 'integer', nullable: true })
  autoscaleMax!: number | null;

  @Column({ type: 'integer', nullable: true })
  autoscaleConcurrency!: number | null;

  @Column({ type: 'integer', nullable: true })
  autoscaleIdleMs!: number | null;

  /** Null: no hard limit (also when autoscale is off). */
  @Column({ type: 'integer', nullable: true })
  autoscaleHardLimit!: number | null;

  @UpdateDateColumn()
  updatedAt!: Date;
}

/** A formation row's autoscale settings (its columns absent or null: off), or null when autoscale is off. */
export function formationAutoscale(
  row: Partial<
    Pick<Formation, 'autoscaleMin' | 'autoscaleMax' | 'autoscaleConcurrency' | 'autoscaleIdleMs' | 'autoscaleHardLimit'>
  >,
): Autoscale | null {
  const { autoscaleMin: min, autoscaleMax: max, autoscaleConcurrency: concurrency, autoscaleIdleMs: idleMs } = row;
  if (min == null || max == null || concurrency == null || idleMs == null) return null;
  const hardLimit = row.autoscaleHardLimit;
  return { min, max, concurrency, idleMs, ...(hardLimit == null ? {} : { hardLimit }) };
}

/** The formation columns that store `autoscale` (null: off), as formationAutoscale reads them. */
export function autoscaleColumns(
  autoscale: Autoscale | null,
): Pick<
  Formation,
  'autoscaleMin' | 'autoscaleMax' | 'autoscaleConcurrency' | 'autoscaleIdleMs' | 'autoscaleHardLimit'
> {
  return {
    autoscaleMin: autoscale?.min ?? null,
    autoscaleMax: autoscale?.max ?? null,
    autoscaleConcurrency: autoscale?.concurrency ?? null,
    autoscaleIdleMs: autoscale?.idleMs ?? null,
    autoscaleHardLimit: autoscale?.hardLimit ?? null,
  };
}

@Entity({ name: 'instances' })
@Index(['appId'])
@Index(['nodeId'])
export class Instance {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  appId!: string;

  @Column({ type: 'varchar', length: 36 })
  releaseId!: string;

  @Column({ type: 'varchar', length: 30 })
  type!: string;

  /** `web.1`, `web.2`... within the app. */
  @Column({ type: 'integer' })
  number!: number;

  @Column({ type: 'varchar', length: 36, nullable: true })
  nodeId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  containerId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  state!: InstanceState;

  /** Where the router reaches it: `ip:port`. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  address!: string | null;

  @Column(NULLABLE_BYTES)
  memoryBytes!: number | null;

  /** Run, or leave: out of the route table at once, then drained and stopped by its agent. */
  @Column({ type: 'varchar', length: 16, default: 'run' })
  desired!: InstanceDesire;

  /** Its size when placed (the formation's then); a size change replaces it. */
  @Column({ type: 'varchar', length: 32, default: 'basic' })
  size!: string;

  /** What it holds on its node: MiB (placement counts these)... */
  @Column({ type: 'integer', default: 256 })
  memory!: number;

  /** ...its CPU weight and hard CPU limit (thousandths of a core, or none). */
  @Column({ type: 'integer', default: 512 })
  cpuShares!: number;

  @Column({ type: 'integer', nullable: true })
  cpuQuota!: number | null;

  /** Asked to be replaced (`ps:restart`): a new instance starts, then this one leaves. */
  @Column({ type: 'boolean', default: false })
  replace!: boolean;

  /** The container's init pid on its node, as its agent last said. */
  @Column({ type: 'integer', nullable: true })
  pid!: number | null;

  @Column({ type: 'integer', default: 0 })
  restartCount!: number;

  /** Why it crashed or failed its check. */
  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}

@Entity({ name: 'nodes' })
export class Node {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 63, unique: true })
  name!: string;

  @Column({ type: 'varchar', length: 255 })
  address!: string;

  /**
   * Where containers (of this node and of others) reach the add-ons this node runs: its
   * PAAS_NODE_ADDRESS, or on a single host its bridge's gateway. Null: an agent from before
   * add-ons, which runs none.
   */
  @Column({ type: 'varchar', length: 255, nullable: true })
  serviceAddress!: string | null;

  /** Memory the node offers to instances, in MiB. */
  @Column({ type: 'integer' })
  memory!: number;

  /** CPUs in thousandths (2000 = two cores). */
  @Column({ type: 'integer' })
  cpus!: number;

  /** How much memory placement may promise, in percent of `memory` (200: twice what it has). */
  @Column({ type: 'integer', default: 100 })
  overcommit!: number;

  /**
   * Moved by the database whenever the node's desired set may have changed (migrations.ts
   * DesiredGeneration): what a heartbeat's desiredVersion is made of.
   */
  @Column({ type: 'integer', default: 0 })
  desiredGeneration!: number;

  @Column({ type: 'varchar', length: 16 })
  state!: NodeState;

  @Column({ type: 'varchar', length: 32, nullable: true })
  lastHeartbeatAt!: string | null;

  @CreateDateColumn()
  createdAt!: Date;
}

@Entity({ name: 'domains' })
export class Domain {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  appId!: string;

  @Column({ type: 'varchar', length: 253, unique: true })
  hostname!: string;

  /** Where its certificate from ACME stands while its app has `certsAuto`; null: never looked at. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  acmeState!: AcmeState | null;

  /** The last failed attempt's problem document (certs/acme.ts AcmeProblem); null once issued. */
  @Column({ type: 'simple-json', nullable: true })
  acmeProblem!: AcmeProblemRecord | null;

  /** Orders tried since the last certificate obtained (the back-off's count of failures). */
  @Column({ type: 'integer', default: 0 })
  acmeAttempts!: number;

  /** ISO times: the last order started, and when the next is due (renewal, or after a failure's back-off). */
  @Column({ type: 'varchar', length: 32, nullable: true })
  acmeLastAttemptAt!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  acmeNextAttemptAt!: string | null;

  @CreateDateColumn()
  createdAt!: Date;
}

/**
 * A domain's certificate from ACME: waiting (none tried yet), issuing (an order under way, or
 * left by an api that stopped: due again), issued (it holds a good certificate), failed (the
 * last order failed; `acmeProblem` says why, `acmeNextAttemptAt` when it is tried again),
 * manual (an uploaded certificate serves it, left alone until `acmeNextAttemptAt`, its expiry,
 * or its removal: api certs/acme-issuer.ts MANUAL_WINS).
 */
export type AcmeState = 'waiting' | 'issuing' | 'issued' | 'failed' | 'manual';

/** An ACME problem document as kept (RFC 8555 6.7): the same shape as certs/acme.ts AcmeProblem. */
export interface AcmeProblemRecord {
  readonly type: string;
  readonly detail: string;
  readonly status?: number;
  readonly subproblems: readonly {
    readonly identifier: string;
    readonly type: string;
    readonly detail: string;
    readonly status?: number;
  }[];
}

/**
 * The platform's ACME account key for one directory, sealed (tls/sealed.ts, associated data
 * `acme-account:URL`): made once by whichever api first needs it, used by all (certs/acme.ts
 * ensureAccountKey). `id` is the SHA-256 of the directory URL, hex.
 */
@Entity({ name: 'acme_accounts' })
export class AcmeAccount {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'text' })
  directoryUrl!: string;

  @Column({ type: 'text' })
  key!: string;

  @CreateDateColumn()
  createdAt!: Date;
}

/** Where a certificate came from: uploaded (`certs:add`) or obtained over ACME (`certs:auto`). */
export type CertificateSource = 'manual' | 'acme';

/**
 * An app's TLS certificate (libs/platform certs/validate.ts checked it). The key is stored
 * sealed (tls/sealed.ts) with the row's id as associated data, so it opens only as this row's
 * key; nothing but the publisher (certs/publish.ts) opens it. Which of the app's domains it
 * serves is worked out from `names` whenever the domains change, never stored.
 */
@Entity({ name: 'certificates' })
@Index(['appId'])
export class Certificate {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  appId!: string;

  /** The leaf's DNS names, lower case (SAN; the CN when it has none); `*.x` for wildcards. */
  @Column({ type: 'simple-json' })
  names!: string[];

  /** PEM, leaf first. */
  @Column({ type: 'text' })
  chain!: string;

  /** The private key, sealed (`v1:...`), associated data = id. */
  @Column({ type: 'text' })
  key!: string;

  @Column({ type: 'varchar', length: 16 })
  source!: CertificateSource;

  /** The leaf's issuer, one line. */
  @Column({ type: 'varchar', length: 1024 })
  issuer!: string;

  /** ISO times of the leaf's validity. */
  @Column({ type: 'varchar', length: 32 })
  notBefore!: string;

  @Column({ type: 'varchar', length: 32 })
  notAfter!: string;

  /** SHA-256 of the leaf, `AB:CD:...`. */
  @Column({ type: 'varchar', length: 95 })
  fingerprint!: string;

  @CreateDateColumn()
  createdAt!: Date;
}

@Entity({ name: 'api_tokens' })
export class ApiToken {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** sha256 of the token, hex. The token itself is shown once and never stored. */
  @Column({ type: 'varchar', length: 64, unique: true })
  hash!: string;

  /** The first characters of the token, so a user can tell tokens apart in a listing. */
  @Column({ type: 'varchar', length: 16 })
  prefix!: string;

  /** App names this token may act on; null means every app. */
  @Column({ type: 'simple-json', nullable: true })
  apps!: string[] | null;

  /** Admin tokens may manage tokens and nodes. */
  @Column({ type: 'boolean' })
  admin!: boolean;

  /**
   * Node tokens are an agent's: they may register a node and send its heartbeats (the node's
   * desired instances in, its instances' states out), and nothing else: no app, no token.
   */
  @Column({ type: 'boolean', default: false })
  node!: boolean;

  /**
   * The node a node token is bound to (one `paas node join` issued it): it may register and
   * heartbeat only as that node. Null for unbound node tokens (`tokens:create --node`, `paas up`'s
   * agent), which may act as any node, and for every other token.
   */
  @Column({ type: 'varchar', length: 63, nullable: true })
  nodeName!: string | null;

  /**
   * When `nodes:remove` revoked this node credential: kept (not deleted) so that the node's
   * next request is told "node credential revoked" rather than "unknown API token".
   */
  @Column({ type: 'varchar', length: 32, nullable: true })
  revokedAt!: string | null;

  @CreateDateColumn()
  createdAt!: Date;

  @Column({ type: 'varchar', length: 32, nullable: true })
  lastUsedAt!: string | null;
}

/**
 * A join token (`paas nodes:join-token`): lets one new machine join as a node, once, before
 * it expires, and reaches nothing but `POST /api/nodes/join`. Stored as its sha256 like API
 * tokens (tokens.ts); `usedAt` and `nodeName` say which join used it.
 */
@Entity({ name: 'join_tokens' })
export class JoinToken {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 64, unique: true })
  hash!: string;

  @Column({ type: 'varchar', length: 16 })
  prefix!: string;

  @Column({ type: 'varchar', length: 32 })
  expiresAt!: string;

  @Column({ type: 'varchar', length: 32, nullable: true })
  usedAt!: string | null;

  /** The node that joined with it. */
  @Column({ type: 'varchar', length: 63, nullable: true })
  nodeName!: string | null;

  @CreateDateColumn()
  createdAt!: Date;
}

/**
 * Who holds a role of the control plane (`scheduler`): the api that took office last, and its
 * term's `epoch`, which every write of the term checks (apps/api scheduler/leader.ts).
 */
@Entity({ name: 'leaders' })
export class Leader {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  role!: string;

  /** Incremented by each process taking office; a write made with an older one is refused. */
  @Column({ type: 'integer', default: 0 })
  epoch!: number;

  /** Which process: `HOST pid PID`; null before anyone led. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  holder!: string | null;

  /** Where its API listens (`HOST:PORT`). */
  @Column({ type: 'varchar', length: 255, nullable: true })
  address!: string | null;

  /** When it took office (ISO time). */
  @Column({ type: 'varchar', length: 32, nullable: true })
  since!: string | null;
}

/** The kinds of managed service (`addons:create TYPE`). */
export const ADDON_TYPES = ['postgres', 'redis'] as const;
export type AddonType = (typeof ADDON_TYPES)[number];

/**
 * An add-on's state as its node last said (or the control plane decided):
 *   creating   placed, not up yet (pulling, creating, starting, waiting for its port)
 *   up         accepting connections
 *   crashed    exited or failed its check; its node restarts it (`error` says why)
 *   failed     cannot run where it must (its volume's node is gone, or the volume is); `error` says why
 *   destroying destroyed: out of its node's desired set, its volume being removed (protocol.ts removeVolumes)
 */
export const ADDON_STATES = ['creating', 'up', 'crashed', 'failed', 'destroying'] as const;
export type AddonState = (typeof ADDON_STATES)[number];

/**
 * A managed PostgreSQL or Redis (#22): one platform-owned container pinned to the node that
 * holds its named volume, reachable only from the apps attached to it (AddonAttachment). It
 * outlives the app it was made for while another app is attached.
 */
@Entity({ name: 'addons' })
export class Addon {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  /** Unique on the platform, as Heroku's `postgresql-curly-12345`: `addons:info NAME`. */
  @Column({ type: 'varchar', length: 63, unique: true })
  name!: string;

  @Column({ type: 'varchar', length: 16 })
  type!: AddonType;

  /** The app it was made for (its log gets the add-on's events); null once that app is gone. */
  @Column({ type: 'varchar', length: 36, nullable: true })
  appId!: string | null;

  /** Its size (sizes.ts) and what that holds on its node: MiB, CPU weight. */
  @Column({ type: 'varchar', length: 32, default: 'basic' })
  size!: string;

  @Column({ type: 'integer', default: 256 })
  memory!: number;

  @Column({ type: 'integer', default: 512 })
  cpuShares!: number;

  /** The node holding its volume: set once at placement, never moved (the data is there). */
  @Column({ type: 'varchar', length: 36, nullable: true })
  nodeId!: string | null;

  /** Its named volume on that node (`paas volume ls` there). */
  @Column({ type: 'varchar', length: 128 })
  volume!: string;

  /** The TCP port it is published on at its node's serviceAddress, unique on the platform. */
  @Column({ type: 'integer', unique: true })
  port!: number;

  /** The generated password its URL carries (32 url-safe characters). */
  @Column({ type: 'varchar', length: 64 })
  password!: string;

  @Column({ type: 'varchar', length: 16 })
  state!: AddonState;

  @Column({ type: 'varchar', length: 64, nullable: true })
  containerId!: string | null;

  @Column({ type: 'integer', default: 0 })
  restartCount!: number;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  /** When it was first up (ISO): from then on its node never makes its volume again (DesiredAddon.fresh). */
  @Column({ type: 'varchar', length: 32, nullable: true })
  readyAt!: string | null;

  /** A daily backup at this UTC hour (0-23), or null for none (`pg:backups:schedule`). */
  @Column({ type: 'integer', nullable: true })
  backupHour!: number | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}

/** An app's use of an add-on: its config var `${name}_URL` and the network rule that lets it connect. */
@Entity({ name: 'addon_attachments' })
@Unique(['appId', 'name'])
@Index(['addonId'])
export class AddonAttachment {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  addonId!: string;

  @Column({ type: 'varchar', length: 36 })
  appId!: string;

  /** `DATABASE`, `REDIS`, or `--as NAME`: the config var is `${name}_URL`. */
  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @CreateDateColumn()
  createdAt!: Date;
}

export type AddonBackupState = 'running' | 'succeeded' | 'failed';

/**
 * One `pg:backups:capture`: a pg_dump in custom format, kept as a blob of the content store.
 * Kept after its add-on is destroyed, until deleted: it names the add-on, not only its id.
 */
@Entity({ name: 'addon_backups' })
@Index(['addonId'])
export class AddonBackup {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  addonId!: string;

  @Column({ type: 'varchar', length: 63 })
  addonName!: string;

  @Column({ type: 'varchar', length: 16 })
  addonType!: AddonType;

  /** `b001`, `b002`... per add-on, as Heroku numbers them. */
  @Column({ type: 'integer' })
  number!: number;

  @Column({ type: 'varchar', length: 16 })
  state!: AddonBackupState;

  /** The dump's blob (`sha256:...`) and size once captured. */
  @Column({ type: 'varchar', length: 71, nullable: true })
  digest!: string | null;

  @Column(NULLABLE_BYTES)
  size!: number | null;

  /** `manual` (pg:backups:capture) or `scheduled`. */
  @Column({ type: 'varchar', length: 16 })
  trigger!: string;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @CreateDateColumn()
  createdAt!: Date;

  @Column({ type: 'varchar', length: 32, nullable: true })
  finishedAt!: string | null;
}

/**
 * A log drain (#25): where the scheduler leader forwards the app's log lines (apps/api
 * src/drains). The URL is kept as given, password and all (the receiver needs it); views mask
 * it. Where delivery stands (cursor, counts, failures) lives in Redis beside the log itself.
 */
@Entity({ name: 'drains' })
@Unique(['appId', 'url'])
export class Drain {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  appId!: string;

  /** `https://`, `http://`, `syslog://HOST:PORT` or `syslog+tls://HOST:PORT`, normalised. */
  @Column({ type: 'varchar', length: 1024 })
  url!: string;

  @CreateDateColumn()
  createdAt!: Date;
}

export const ENTITIES = [
  App,
  ConfigVar,
  Build,
  Release,
  Formation,
  Instance,
  Node,
  Domain,
  ApiToken,
  JoinToken,
  Leader,
  Certificate,
  AcmeAccount,
  Addon,
  AddonAttachment,
  AddonBackup,
  Drain,
];
