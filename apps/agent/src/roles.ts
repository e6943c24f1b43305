/**
 * What the agent needs from the rest of the node and the platform, one small role each (as
 * containerd's interfaces are): the agent's files depend on these, never on the engine, the
 * registry client, the network or the clock directly. main.ts wires the real ones (runtime.ts,
 * images.ts, api-client.ts, app-log.ts, checked-marks.ts, checks.ts); the unit specs wire
 * small fakes (testing/fakes.ts), so the convergence and every lifecycle path run without
 * root in milliseconds.
 */
import type { TrustedCa } from '@paas/config';
import type { ContainerRecord, ContainerState, CreateOptions, ServiceEndpoint } from '@paas/engine';
import type {
  AddonType,
  DeployCheck,
  HeartbeatReply,
  HeartbeatRequest,
  NodeLogAnswer,
  NodeLogBatch,
  RegisterAnswer,
  RegisterRequest,
} from '@paas/platform';

/** Where a container is reached: its bridge address and the host ports it publishes. */
export interface ContainerAddress {
  readonly ip: string;
  readonly ports: readonly { readonly containerPort: number; readonly hostPort: number }[];
}

/** The node's containers (libs/engine): they run under their shims and outlive the agent. */
export interface ContainerRuntime {
  list(): Promise<ContainerRecord[]>;
  create(image: string, options: CreateOptions): Promise<ContainerRecord>;
  start(record: ContainerRecord): Promise<void>;
  state(record: ContainerRecord): Promise<ContainerState>;
  /** The stop signal, then SIGKILL after `timeoutSeconds`. */
  stop(record: ContainerRecord, timeoutSeconds: number): Promise<void>;
  /** Removes it, running or not, with its anonymous volumes (never a named one). */
  remove(record: ContainerRecord): Promise<void>;
  /**
   * Removes named volume `name` unless a container (running or not) uses it: true when it is
   * gone (removed now, or there was none), false while it is in use.
   */
  removeVolume(name: string): Promise<boolean>;
  /** Whether named volume `name` exists on the node. */
  hasVolume(name: string): Promise<boolean>;
  /**
   * Which add-on endpoints it may connect to from now on, running or not, without a restart
   * (a running one's bridge entries change at once); the record as it is now.
   */
  setReach(record: ContainerRecord, reach: readonly ServiceEndpoint[]): Promise<ContainerRecord>;
  /** Its network lease; null when it has none (not on the bridge, or not started). */
  address(record: ContainerRecord): Promise<ContainerAddress | null>;
  /**
   * Calls `onChange` when the container's state may have changed (its shim wrote a state
   * file), until `until` aborts. A hint, not a promise: a change can go unsignalled.
   */
  watch(record: ContainerRecord, onChange: () => void, until: AbortSignal): void;
  /** Memory in use by the container whose init is `pid`; null when unknown. */
  memory(pid: number): Promise<number | null>;
  /** Its output lines, from the start or only new ones, until `until` aborts. */
  logs(
    record: ContainerRecord,
    options: { readonly fromStart: boolean; readonly until: AbortSignal },
  ): AsyncIterable<string>;
}

/** Where release images come from: the platform registry as the control plane and this node name it. */
export interface ImageSource {
  /** The registry as the control plane names it (heartbeat answer). */
  readonly controlPlane: string;
  /** The same registry as this node reaches it. */
  readonly local: string;
  /** Registries spoken to over plain HTTP besides loopback ones (PAAS_INSECURE_REGISTRIES). */
  readonly insecure: readonly string[];
  /** The platform CA, trusted besides Node's roots (PAAS_CA_FILE, or the CA under PAAS_ROOT). */
  readonly trust: TrustedCa | null;
}

/** The node's image store (images.ts). */
export interface ImageStore {
  /** Makes sure `ref` is in the store, pulling it when missing. */
  ensure(ref: string, source: ImageSource, onLine?: (line: string) => void): Promise<void>;
  /**
   * Makes sure `ref` is in the store, bootstrapping base image `base` from the host's own
   * binaries when missing (an add-on's service image is never pulled).
   */
  bootstrap(ref: string, base: AddonType, onLine?: (line: string) => void): Promise<void>;
  /** The image's own command as one shell line (`imageCommand`). */
  command(ref: string): Promise<string>;
}

/** The control plane (api-client.ts); errors are `ControlPlaneError`s. */
export interface ControlPlane {
  register(request: RegisterRequest): Promise<RegisterAnswer>;
  heartbeat(name: string, request: HeartbeatRequest): Promise<HeartbeatReply>;
}

/** Whether the container still runs; a reason when it does not (`exited with code 1`). */
export type Liveness = () => Promise<string | null>;

/** The deploy check (checks.ts): resolves when it passes, throws `CheckFailedError` saying why not. */
export interface HealthChecker {
  run(check: DeployCheck, host: string, liveness: Liveness, signal: AbortSignal): Promise<void>;
}

/** Which instance a line of output is of: the app's log shows it as `app[web.1]`. */
export interface LogSource {
  readonly id: string;
  readonly appId: string;
  /** `web.1` */
  readonly name: string;
}

/**
 * The apps' log streams (app-log.ts): an instance's output lines. `append` takes the line
 * and returns at once: an instance's output pipe never waits for the control plane.
 */
export interface AppLog {
  append(source: LogSource, line: string): void;
}

/** The control plane's nudges to this node: "heartbeat now". */
export interface Nudges {
  /**
   * Calls `onNudge` for each nudge, and whenever nudges may have been missed (the stream to
   * the control plane was re-opened), until the returned function is called.
   */
  listen(onNudge: () => void): () => void;
}

/** The api's intake of instance output (api-client.ts); errors are `ControlPlaneError`s. */
export interface LogIntake {
  sendLogs(node: string, batch: NodeLogBatch): Promise<NodeLogAnswer>;
}

/**
 * The api's event stream of this node (api-client.ts): the names of its events as they come
 * (`ready`, then `nudge`s), until the stream ends, fails (a `ControlPlaneError`) or `signal`
 * aborts.
 */
export interface NodeEventStream {
  events(node: string, signal: AbortSignal): AsyncIterable<string>;
}

/**
 * What survives an agent restart besides the containers: at which restart count each
 * container last passed its check (checked-marks.ts). An adopted container marked at its
 * current count is up at once; any other is checked again.
 */
export interface CheckedMarks {
  get(containerId: string): Promise<number | null>;
  set(containerId: string, restarts: number): Promise<void>;
  forget(containerId: string): Promise<void>;
}

/** Time: real timers in the agent, a clock the specs advance by hand. */
export interface Clock {
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` after `ms` (without keeping the process alive); returns the cancel. */
  after(ms: number, fn: () => void): () => void;
  /** Milliseconds on a clock that only moves forward (for intervals, not dates). */
  now(): number;
}

export const systemClock: Clock = {
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      // the listener goes with the sleep: a long-lived signal (an instance's, the agent's)
      // would otherwise gather one per sleep that ended by its timer
      const woken = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', woken);
        resolve();
      }, ms);
      signal?.addEventListener('abort', woken, { once: true });
    }),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
  now: () => performance.now(),
};
