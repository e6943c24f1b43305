/**
 * Add-ons (#22): what a managed PostgreSQL or Redis is made of, in one place for the api (the
 * add-ons service, the desired sets, one-off runs) and the build worker (the release phase).
 *
 * An add-on is one container on the node that holds its named volume, published on a port of
 * PAAS_ADDON_PORTS at that node's service address; the apps attached to it get its URL as a
 * config var and `reach` to that endpoint (every other add-on port is closed to them). Its
 * entry in its node's desired set is a DesiredInstance with `addon` (protocol.ts), built here
 * from the row: the service's image, env (its password), volume target, port and check.
 *
 * The desired generation: the database's triggers move it for instance rows and app names
 * (migrations.ts DesiredGeneration); add-ons and attachments move it here, in the transaction
 * of the change (bumpNodes), since the add-ons' part of a set (its add-on entries, and the
 * `reach` of its app instances) is read from those tables.
 */
import { randomAdjective } from '@paas/engine';
import { randomBytes, randomInt } from 'node:crypto';
import { type EntityManager, In } from 'typeorm';
import { Addon, AddonAttachment, type AddonState, type AddonType, Instance, Node } from './model/entities';
import { APP_NAME, APP_NAME_RULE } from './names';
import type { ApiToken } from './model/entities';
import { type ScopedApp, tokenAllowsApp } from './tokens';
import { DEFAULT_TIMING, type DeployCheck } from './scheduling/checks';
import type { Allocation } from './scheduling/placement';
import type { DesiredInstance, ReportedState, ServiceEndpoint } from './scheduling/protocol';

/** Add-on names are DNS labels as app names are (`addons:info NAME`, the volume `addon-NAME-ID8`). */
export const ADDON_NAME = APP_NAME;
export const ADDON_NAME_RULE = APP_NAME_RULE;

/**
 * An attachment's name (`--as`): the config var is `${name}_URL`, so an environment variable
 * name in upper case, short enough for the var to fit the attachment column.
 */
export const ATTACHMENT_NAME = /^[A-Z][A-Z0-9_]{0,58}$/;
export const ATTACHMENT_NAME_RULE = 'upper-case letters, digits and _, starting with a letter, at most 59 long';

/** What an add-on of one type runs as. */
export interface AddonService {
  /** The base image (`paas image bootstrap postgres redis`); it has the clients too (psql, redis-cli). */
  readonly image: string;
  /** The service's port inside the container. */
  readonly port: number;
  /** Where the named volume is mounted. */
  readonly target: string;
  /** The attachment name when `--as` is not given: the config var is `${name}_URL`. */
  readonly attachAs: string;
  env(password: string): Record<string, string>;
  /** The URL an attached app gets. */
  url(password: string, address: string, port: number): string;
}

export const ADDON_SERVICES: Readonly<Record<AddonType, AddonService>> = {
  postgres: {
    image: 'postgres:15',
    port: 5432,
    target: '/var/lib/postgresql/data',
    attachAs: 'DATABASE',
    // PGDATA one level down: initdb refuses a non-empty directory, and a volume's root may hold lost+found
    env: (password) => ({
      POSTGRES_PASSWORD: password,
      POSTGRES_USER: 'postgres',
      POSTGRES_DB: 'postgres',
      PGDATA: '/var/lib/postgresql/data/pgdata',
    }),
    url: (password, address, port) => `postgres://postgres:${password}@${hostPart(address)}:${port}/postgres`,
  },
  redis: {
    image: 'redis:7',
    port: 6379,
    target: '/data',
    attachAs: 'REDIS',
    // the image's entrypoint (libs/images entrypoints.ts) reads REDIS_PASSWORD from its
    // environment and hands it to redis-server on stdin: on the command line it would show in
    // every `ps` of the node; it runs with --dir /data --appendonly yes itself
    env: (password) => ({ REDIS_PASSWORD: password }),
    // `default`, Redis's own user, named: redis-cli 7.0 sends an empty user name for `redis://:PW@`,
    // which the server refuses (WRONGPASS); every client takes the named form
    url: (password, address, port) => `redis://default:${password}@${hostPart(address)}:${port}`,
  },
};

function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** The config var of an attachment named `name`. */
export function attachmentVar(name: string): string {
  return `${name}_URL`;
}

/** `postgres-amber-12345`, as Heroku names add-ons. */
export function generateAddonName(type: AddonType): string {
  return `${type}-${randomAdjective()}-${randomInt(10_000, 100_000)}`;
}

/** 32 url-safe characters (192 random bits): nothing in a URL needs escaping. */
export function generateAddonPassword(): string {
  return randomBytes(24).toString('base64url');
}

export function addonVolume(name: string, id: string): string {
  // its id too: an add-on made later under a destroyed one's name, on a node that kept that
  // one's volume (its node was away when it was destroyed), never opens the old data
  return `addon-${name}-${id.slice(0, 8)}`;
}

/**
 * The check an add-on's container must pass to count as up: its port accepts connections.
 * PostgreSQL's first start runs initdb first, so it gets longer than an app's default.
 */
export function addonCheck(type: AddonType): DeployCheck {
  return { kind: 'tcp', port: ADDON_SERVICES[type].port, ...DEFAULT_TIMING, attempts: 480 };
}

/** What an add-on's entry in its node's desired set needs of its row. */
export type DesiredAddonRow = Pick<
  Addon,
  'id' | 'name' | 'type' | 'appId' | 'size' | 'memory' | 'cpuShares' | 'volume' | 'port' | 'password' | 'readyAt'
>;

/** Its databases get time to shut down cleanly, whatever the apps' stop timeout. */
const ADDON_STOP_TIMEOUT = 30;

/** An add-on's entry in its node's desired set (protocol.ts DesiredAddon says what each field holds). */
export function desiredAddonInstance(addon: DesiredAddonRow, stopTimeout: number): DesiredInstance {
  const service = ADDON_SERVICES[addon.type];
  return {
    id: addon.id,
    appId: addon.appId ?? addon.id,
    app: addon.name,
    type: addon.type,
    number: 1,
    releaseId: addon.id,
    version: 1,
    image: service.image,
    imageDigest: null,
    command: null,
    env: service.env(addon.password),
    size: addon.size,
    memory: addon.memory,
    cpuShares: addon.cpuShares,
    cpuQuota: null,
    port: service.port,
    check: addonCheck(addon.type),
    stopTimeout: Math.max(stopTimeout, ADDON_STOP_TIMEOUT),
    addon: {
      name: addon.name,
      type: addon.type,
      volume: addon.volume,
      target: service.target,
      hostPort: addon.port,
      fresh: addon.readyAt === null,
    },
  };
}

/**
 * The add-on state a report of its container means; null: nothing to record (it is stopping).
 * A `final` failure (its node will not try again: its volume is gone) fails the add-on.
 */
export function reportedAddonState(state: ReportedState, final = false): AddonState | null {
  if (final && state === 'crashed') return 'failed';
  switch (state) {
    case 'starting':
      return 'creating';
    case 'up':
      return 'up';
    case 'crashed':
      return 'crashed';
    case 'stopping':
      return null;
  }
}

/**
 * The endpoints each of these apps may reach: those of the add-ons attached to it that run
 * somewhere (not destroying, on a node that has a service address), sorted. Apps with none
 * are absent.
 */
export async function reachOfApps(
  manager: EntityManager,
  appIds: readonly string[],
): Promise<Map<string, ServiceEndpoint[]>> {
  const out = new Map<string, ServiceEndpoint[]>();
  if (appIds.length === 0) return out;
  const rows = await manager
    .createQueryBuilder(AddonAttachment, 't')
    .innerJoin(Addon, 'a', 'a.id = t.addonId')
    .innerJoin(Node, 'n', 'n.id = a.nodeId')
    .select('t.appId', 'appId')
    .addSelect('n.serviceAddress', 'address')
    .addSelect('a.port', 'port')
    .where('t.appId IN (:...appIds)', { appIds: [...new Set(appIds)] })
    .andWhere('a.state <> :destroying', { destroying: 'destroying' })
    .andWhere('n.serviceAddress IS NOT NULL')
    .getRawMany<{ appId: string; address: string; port: number | string }>();
  for (const row of rows) {
    const list = out.get(row.appId) ?? [];
    const port = Number(row.port);
    if (!list.some((e) => e.address === row.address && e.port === port)) list.push({ address: row.address, port });
    out.set(row.appId, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port);
  return out;
}

/**
 * Whether a token may see and use an add-on, given the names of the apps it is attached to (and
 * the app it was made for): admin and unscoped tokens every add-on, also one no app holds any
 * more (a destroyed add-on's backups); a token scoped to apps only through one of them; node
 * tokens none. Whoever may not is answered as for an add-on that does not exist (404), so a
 * tenant learns nothing of another's add-ons, not even their names.
 */
export function addonVisibleTo(token: ApiToken, apps: Iterable<string | ScopedApp>): boolean {
  if (token.node) return false;
  if (token.admin || token.apps === null) return true;
  for (const app of apps) if (tokenAllowsApp(token, app)) return true;
  return false;
}

/** Where a client reaches an add-on, and with which password (users and databases as ADDON_SERVICES makes them). */
export interface AddonClientTarget {
  readonly host: string;
  readonly port: number;
  readonly password: string;
}

/** The add-on's node's service address and its published port; null while it has no node with one. */
export async function addonClientTarget(manager: EntityManager, addon: Addon): Promise<AddonClientTarget | null> {
  const node = addon.nodeId ? await manager.findOneBy(Node, { id: addon.nodeId }) : null;
  if (!node?.serviceAddress) return null;
  return { host: node.serviceAddress, port: addon.port, password: addon.password };
}

/** The endpoints one app may reach (reachOfApps). */
export async function appReach(manager: EntityManager, appId: string): Promise<ServiceEndpoint[]> {
  return (await reachOfApps(manager, [appId])).get(appId) ?? [];
}

/**
 * Takes the add-ons' rows for the rest of the transaction (in id order), so that attaches,
 * detaches, destroys, app deletions and captures of one add-on happen one after another: on
 * PostgreSQL a row lock; SQLite's write transactions are serial already.
 */
export async function lockAddons(manager: EntityManager, ids: readonly string[]): Promise<void> {
  if (ids.length === 0 || manager.connection.options.type !== 'postgres') return;
  await manager.query('SELECT "id" FROM "addons" WHERE "id" = ANY($1) ORDER BY "id" FOR UPDATE', [[...ids]]);
}

/**
 * Moves the desired generation of these nodes, in the caller's transaction; the names of the
 * nodes moved, to wake their agents once it commits (nodeChannel).
 */
export async function bumpNodes(manager: EntityManager, nodeIds: Iterable<string | null>): Promise<string[]> {
  const ids = [...new Set([...nodeIds].filter((id): id is string => id !== null))];
  if (ids.length === 0) return [];
  await manager
    .createQueryBuilder()
    .update(Node)
    .set({ desiredGeneration: () => '"desiredGeneration" + 1' })
    .where({ id: In(ids) })
    .execute();
  return (await manager.find(Node, { where: { id: In(ids) }, select: { id: true, name: true } })).map((n) => n.name);
}

/** The nodes whose set holds instances of these apps (their `reach` follows the apps' attachments). */
export async function nodesOfApps(manager: EntityManager, appIds: readonly string[]): Promise<string[]> {
  if (appIds.length === 0) return [];
  const rows = await manager
    .createQueryBuilder(Instance, 'i')
    .select('DISTINCT i.nodeId', 'nodeId')
    .where('i.appId IN (:...appIds)', { appIds: [...new Set(appIds)] })
    .andWhere('i.desired = :run', { run: 'run' })
    .andWhere('i.nodeId IS NOT NULL')
    .getRawMany<{ nodeId: string }>();
  return rows.map((r) => r.nodeId);
}

/**
 * Takes an add-on out of service, in the caller's transaction (which unset its apps' config
 * vars already): its attachments go, it leaves its node's set, and that node removes its
 * volume (`destroying` until the node says so: HeartbeatRequest.removedVolumes); with its
 * node gone, its row goes at once (nothing is left to remove). Its backups stay. Returns the
 * names of the nodes to wake.
 */
export async function markAddonDestroying(
  manager: EntityManager,
  addon: Pick<Addon, 'id' | 'nodeId'>,
): Promise<string[]> {
  const attached = await manager.find(AddonAttachment, { where: { addonId: addon.id }, select: { appId: true } });
  await manager.delete(AddonAttachment, { addonId: addon.id });
  const node = addon.nodeId ? await manager.findOne(Node, { where: { id: addon.nodeId }, select: { id: true } }) : null;
  if (node) await manager.update(Addon, { id: addon.id }, { state: 'destroying', error: null });
  else await manager.delete(Addon, { id: addon.id });
  return bumpNodes(manager, [
    node?.id ?? null,
    ...(await nodesOfApps(
      manager,
      attached.map((a) => a.appId),
    )),
  ]);
}

/** What an add-on holds on its node, as placement counts instances (scheduling/placement.ts). */
export function addonAllocation(
  addon: Pick<Addon, 'id' | 'type' | 'memory' | 'cpuShares'>,
): Omit<Allocation, 'nodeId'> {
  return { appId: addon.id, type: addon.type, memory: addon.memory, cpuShares: addon.cpuShares };
}
