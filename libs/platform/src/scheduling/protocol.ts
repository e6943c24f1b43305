/**
 * The agent <-> control plane protocol. Agents speak first and the control plane answers;
 * nothing connects to an agent, so a node behind NAT or in a namespace works the same.
 *
 *   POST /api/nodes/register            RegisterRequest  -> RegisterAnswer   (once per agent start)
 *   POST /api/nodes/:name/heartbeat     HeartbeatRequest -> HeartbeatAnswer  (every heartbeatMs)
 *
 * Both with a node token (`Authorization: Bearer`; an admin token works too). A full
 * heartbeat carries the state of every container of the node that has the `paas.instance`
 * label; its answer is the whole desired set of the node: every instance the node should run.
 * The set is authoritative: an agent runs exactly those and stops (gracefully) every other
 * instance container it has.
 *
 * At rest nothing changes, so neither side resends what the other already has (1,000
 * instances a node, one beat a second):
 *   - a heartbeat with `full: false` carries only the reports that changed since the last
 *     answered heartbeat; an instance it does not name is as last reported (never lost).
 *     Instances that left the node (stopped and removed) since then are named in `gone`, so
 *     a scale-down of 1,000 costs ids, not 1,000 reports a beat. An agent forgets a gone id
 *     only once a heartbeat carrying it (or a full one sent after it left) was answered.
 *     An agent sends a full report at its start, every FULL_REPORT_EVERY beats, after a
 *     heartbeat that failed, and when an answer asks (`fullReport`), so a container lost
 *     from under the agent is still found within seconds.
 *   - an answer carries `desiredVersion`, a fingerprint of the desired set; a heartbeat that
 *     echoes it gets `instances: null` (the agent's set still holds) unless the set changed.
 *   - `memoryBytes` is sampled every few seconds, and a move under MEMORY_REPORT_RATIO is no
 *     change.
 *
 * Between heartbeats the control plane wakes an agent: it publishes the node's name on
 * `nodeChannel(name)` in Redis whenever the node's desired set changed, the api relays that to
 * the agent's event stream (`GET /api/nodes/:name/events`; nodes have no Redis), and the agent
 * sends a heartbeat at once. An agent also sends one as soon as one of its instances changes state,
 * so a deploy or a scale moves at the speed of the containers, not of the heartbeat period.
 */
import { APP_LABEL } from '@paas/engine';
import type { DeployCheck } from './checks';

export type { DeployCheck } from './checks';

/** Where the control plane tells one agent that its desired set changed. */
export function nodeChannel(name: string): string {
  return `paas:node:${name}`;
}

/** Node names: a DNS-label-like word, as hostnames usually are. */
export const NODE_NAME = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;
export const NODE_NAME_RULE = '1-63 lower-case letters, digits, ".", "_" and "-", starting and ending alphanumeric';

/** The port an instance is told to listen on (`PORT`), as Heroku's 5000. */
export const INSTANCE_PORT = 5000;

/** Container labels an agent puts on instance containers, and finds them by after a restart. */
export const LABELS = {
  /** The engine isolates containers with this label from every other container. */
  app: APP_LABEL,
  appId: 'paas.app-id',
  instance: 'paas.instance',
  release: 'paas.release',
  version: 'paas.version',
  type: 'paas.type',
  number: 'paas.number',
  node: 'paas.node',
  /** On an add-on's container: the add-on's name (its `app` label holds the same). */
  addon: 'paas.addon',
} as const;

export interface RegisterRequest {
  readonly name: string;
  /** Where the node is reached: its IP (PAAS_NODE_ADDRESS) or host name. */
  readonly address: string;
  /** MiB the node offers to instances. */
  readonly memory: number;
  /** CPUs in thousandths (2000 = two cores). */
  readonly cpus: number;
  /** How much of `memory` placement may promise, in percent (PAAS_NODE_OVERCOMMIT; default 100). */
  readonly overcommit?: number;
  /** The agent's version, for the log. */
  readonly version?: string;
  /**
   * Where containers reach the add-ons this node runs (PAAS_NODE_ADDRESS, or on a single host
   * its bridge's gateway); absent from an agent that runs none.
   */
  readonly serviceAddress?: string;
}

export interface NodeSummary {
  readonly id: string;
  readonly name: string;
  readonly state: 'up' | 'down' | 'draining';
}

export interface RegisterAnswer {
  readonly node: NodeSummary;
  /** How often to send heartbeats. */
  readonly heartbeatMs: number;
}

/**
 * An instance as its agent sees it:
 *   starting  being pulled, created or started, or waiting for its health check
 *   up        running and passed its check (since its last start)
 *   crashed   exited (the shim may restart it) or failed its check; `error` says why
 *   stopping  leaving: draining, then stop signal, then removed
 */
export type ReportedState = 'starting' | 'up' | 'crashed' | 'stopping';

export interface InstanceReport {
  readonly id: string;
  readonly releaseId: string;
  readonly state: ReportedState;
  readonly containerId: string | null;
  /** Where the router reaches it: `IP:PORT`; null for a process without a port. */
  readonly address: string | null;
  /** The container's init pid on the node (0 when not running). */
  readonly pid: number;
  readonly memoryBytes: number | null;
  /** Restarts by the shim's restart policy. */
  readonly restartCount: number;
  readonly error: string | null;
  /** It cannot run here and its agent will not try again (`error` says why); absent: false. */
  readonly final?: boolean;
}

/** A full report every this many heartbeats, whatever else happened. */
export const FULL_REPORT_EVERY = 30;

/** The most reports (and the most gone ids) one heartbeat may carry. */
export const HEARTBEAT_MAX_INSTANCES = 5000;

/** A memory reading that moved by less than this share is not a change worth a report or a write. */
export const MEMORY_REPORT_RATIO = 0.05;

/** Whether `now` says something `before` did not (memory only when it moved by MEMORY_REPORT_RATIO). */
export function reportChanged(before: InstanceReport | undefined, now: InstanceReport): boolean {
  if (!before) return true;
  if (
    before.releaseId !== now.releaseId ||
    before.state !== now.state ||
    before.containerId !== now.containerId ||
    before.address !== now.address ||
    before.pid !== now.pid ||
    before.restartCount !== now.restartCount ||
    before.error !== now.error ||
    (before.final ?? false) !== (now.final ?? false)
  ) {
    return true;
  }
  return memoryMoved(before.memoryBytes, now.memoryBytes);
}

/** Whether a memory reading moved enough to be recorded (null to a number and back always does). */
export function memoryMoved(before: number | null, now: number | null): boolean {
  if (before === now) return false;
  if (before === null || now === null) return true;
  return Math.abs(now - before) > before * MEMORY_REPORT_RATIO;
}

export interface HeartbeatRequest {
  /** Every instance container of the node (full), or only those whose report changed. */
  readonly instances: readonly InstanceReport[];
  /** False: `instances` holds only changes since the last answered heartbeat. Default true. */
  readonly full?: boolean;
  /**
   * Ids of instances that left the node (stopped and removed) since the last answered
   * heartbeat: each counts as a full report lacking it would. An id the control plane does
   * not know is ignored; an id `instances` also reports is not gone (the report wins).
   */
  readonly gone?: readonly string[];
  /** The `desiredVersion` of the last answer whose set the agent holds. */
  readonly desiredVersion?: string;
  /** Volumes of `removeVolumes` the node has removed (or never had) since its last answered heartbeat. */
  readonly removedVolumes?: readonly string[];
}

/** One instance a node should run. */
export interface DesiredInstance {
  readonly id: string;
  readonly appId: string;
  readonly app: string;
  readonly type: string;
  readonly number: number;
  readonly releaseId: string;
  readonly version: number;
  /** The release image as the build pushed it (`REGISTRY/APP:vN`). */
  readonly image: string;
  readonly imageDigest: string | null;
  /** The process type's command (run with `sh -c`), or null for the image's own command. */
  readonly command: string | null;
  /** The release's config vars plus PORT and DYNO. */
  readonly env: Readonly<Record<string, string>>;
  /** Its size (sizes.ts): memory limit in MiB, CPU weight (cpu.shares), hard CPU limit. */
  readonly size: string;
  readonly memory: number;
  readonly cpuShares: number;
  /** Thousandths of a core, or null for none. */
  readonly cpuQuota: number | null;
  /** The port published for the router (web), or null. */
  readonly port: number | null;
  readonly check: DeployCheck;
  /** Seconds between the stop signal and SIGKILL. */
  readonly stopTimeout: number;
  /**
   * The add-on endpoints (`serviceAddress:port`) this container may open connections to: those
   * of the add-ons its app is attached to. Every other add-on port is closed to it (the
   * engine's per-bridge reach set, libs/engine network/rules.ts).
   */
  readonly reach?: readonly ServiceEndpoint[];
  /** Present when the instance is an add-on's container rather than an app's (see DesiredAddon). */
  readonly addon?: DesiredAddon;
}

/** An add-on's address as containers use it. */
export interface ServiceEndpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * What makes an add-on's entry in a desired set differ from an app instance's. Its
 * DesiredInstance has `id` = the add-on's id (reports come back under it), `appId` = the app it
 * was made for (or the add-on's id once that app is gone), `app` = the add-on's name, `type` =
 * its add-on type, `number` 1, `releaseId` = the add-on's id, `version` 1, the service image,
 * its env (passwords), `port` = the service's port inside the container, and its check.
 */
export interface DesiredAddon {
  readonly name: string;
  readonly type: string;
  /** Its named volume on this node and where it is mounted in the container. */
  readonly volume: string;
  readonly target: string;
  /** Published on the node's serviceAddress at this port (to `port` of the container). */
  readonly hostPort: number;
  /**
   * Never up yet: only then may its node make its volume. A missing volume of an add-on that
   * was up is lost data, not a new database: the agent fails it (`final`) instead.
   */
  readonly fresh: boolean;
}

export interface HeartbeatAnswer {
  readonly node: NodeSummary;
  /** The registry release images are pushed to, as the control plane names it (`host:port`). */
  readonly registry: string;
  readonly heartbeatMs: number;
  /** How long a leaving instance keeps running after it left the route table (in-flight requests). */
  readonly drainMs: number;
  /** A fingerprint of the node's desired set. */
  readonly desiredVersion: string;
  /** The whole desired set. */
  readonly instances: readonly DesiredInstance[];
  /** The next heartbeat should be full (the control plane's view of the node may be stale). */
  readonly fullReport: boolean;
  /**
   * Named volumes of destroyed add-ons on this node: the agent removes each once no container
   * of its uses it (and says so in `removedVolumes`); the add-on's row goes then.
   */
  readonly removeVolumes?: readonly string[];
}

/** The answer to a heartbeat that echoed the current `desiredVersion`: the set is not resent. */
export type HeartbeatAnswerSameSet = Omit<HeartbeatAnswer, 'instances'> & { readonly instances: null };

/** What a heartbeat gets: the whole set, or null for "the one you have". */
export type HeartbeatReply = HeartbeatAnswer | HeartbeatAnswerSameSet;
