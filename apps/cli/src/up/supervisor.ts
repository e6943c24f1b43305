/**
 * Runs the platform's components as child processes in the foreground, like `heroku local`:
 * their output is prefixed with their name, each reports readiness over the IPC channel
 * (`process.send({ ready: true, url })`), and they stop together, in reverse order, only when
 * `stop()` is called. Only processes this supervisor started are signalled, by pid.
 *
 * A component that dies after it was ready is started again, with the same settings plus the
 * address it got the first time (`pin`), after a back-off that doubles from 100 ms to 10 s and
 * starts over once it has stayed up for 30 s; it counts as back when it is ready again and its
 * probe passes. A component that dies before its first ready fails `start` with the reason: a
 * bad setting must show its error, not a restart loop.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PaasError } from '@paas/errors';

/** What a component says once it serves: its URL (the router adds its admin and HTTPS URLs). */
export interface ReadyMessage {
  readonly ready: true;
  readonly url: string;
  readonly admin?: string | null;
  readonly tls?: string | null;
}

export interface ComponentSpec {
  readonly name: string;
  /** A JavaScript file run with the current node (for the default launch). */
  readonly script?: string;
  readonly args?: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A readiness probe run after the ready message; rejects or returns false when not ready. */
  readonly probe?: (url: string) => Promise<boolean>;
  /** Settings for a restart that keep what the first start got (a port asked as 0). */
  readonly pin?: (first: ReadyMessage) => Readonly<Record<string, string>>;
  /** Starts one run of something other than a node script (redis-server). */
  readonly launch?: Launch;
}

export interface Exit {
  /** The exit status, null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One run of a component: a process started once. */
export interface ComponentRun {
  /** Undefined until the process exists. */
  readonly pid: number | undefined;
  /** The ready message; rejects (ComponentExitedError or the reason) when it ends first. */
  readonly ready: Promise<ReadyMessage>;
  /** Settles once the process is gone and its output is drained. */
  readonly exited: Promise<Exit>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts a run of `spec` with `env`; its output lines go to `write`, prefixed. */
export type Launch = (
  spec: ComponentSpec,
  env: Readonly<Record<string, string | undefined>>,
  write: (line: string) => void,
) => ComponentRun;

/** Time as the supervisor sees it (a fake one in specs). */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface RunningComponent {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
}

export interface SupervisorOptions {
  readonly readyTimeoutMs?: number;
  readonly stopTimeoutMs?: number;
  /** The first restart's delay, doubled after each death up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A component up this long has its delay start over from `backoffMs`. */
  readonly resetAfterMs?: number;
  /** Where prefixed child output and the supervisor's own lines go. */
  readonly write?: (line: string) => void;
  readonly clock?: Clock;
  /** How components without a `launch` of their own start (default: fork their script). */
  readonly launch?: Launch;
}

export class ComponentExitedError extends PaasError {
  constructor(
    readonly component: string,
    /** Its exit status, null when a signal ended it. */
    readonly status: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super('unavailable', `${component} ${describeExit({ code: status, signal })}`);
  }
}

function describeExit({ code, signal }: Exit): string {
  if (signal) return `exited on signal ${signal}`;
  return code === null ? 'could not be run' : `exited with status ${code}`;
}

/** One component over its restarts. */
interface Slot {
  readonly spec: ComponentSpec;
  run: ComponentRun;
  /** The first ready message: the address restarts keep. */
  first?: ReadyMessage;
  /** When the current run got ready; undefined while it is not. */
  readyAt?: number;
  restarts: number;
  /** Deaths since the component last stayed up `resetAfterMs`: the back-off's exponent. */
  deaths: number;
  timer?: unknown;
}

export class Supervisor {
  private readonly slots: Slot[] = [];
  private readonly live = new Set<ComponentRun>();
  private readonly readyTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly resetAfterMs: number;
  private readonly write: (line: string) => void;
  private readonly clock: Clock;
  private readonly launch: Launch;
  private stopping: Promise<void> | undefined;

  constructor(options: SupervisorOptions = {}) {
    this.readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.backoffMs = options.backoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.resetAfterMs = options.resetAfterMs ?? 30_000;
    this.write = options.write ?? ((line) => process.stdout.write(line));
    this.clock = options.clock ?? systemClock;
    this.launch = options.launch ?? forkComponent;
  }

  /** Starts the components in order, each once the previous one is ready. */
  async start(specs: readonly ComponentSpec[]): Promise<RunningComponent[]> {
    const running: RunningComponent[] = [];
    for (const spec of specs) running.push(await this.startOne(spec));
    return running;
  }

  /**
   * Stops the components one by one, the last started first (the router before the api it
   * routes for, Redis after its clients): SIGTERM, then SIGKILL if it is still there after the
   * stop timeout. Nothing is restarted from then on.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const slot of this.slots) this.clock.clearTimeout(slot.timer);
      const live = this.slots.map((s) => s.run).filter((run) => this.live.has(run));
      for (const run of live.reverse()) await this.stopRun(run);
    })();
    return this.stopping;
  }

  private async stopRun(run: ComponentRun): Promise<void> {
    run.kill('SIGTERM');
    let timer: unknown;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = this.clock.setTimeout(() => resolve('timeout'), this.stopTimeoutMs);
    });
    if ((await Promise.race([run.exited, timeout])) === 'timeout') {
      run.kill('SIGKILL');
      await run.exited;
    }
    this.clock.clearTimeout(timer);
  }

  private async startOne(spec: ComponentSpec): Promise<RunningComponent> {
    // a start still under way when Ctrl-C came: nothing more is launched, so nothing outlives the stop
    if (this.stopping) throw new Error(`${spec.name} not started: the platform is stopping`);
    const run = this.runOf(spec, spec.env);
    const slot: Slot = { spec, run, restarts: 0, deaths: 0 };
    this.slots.push(slot);
    const ready = await this.whenReady(spec, run);
    slot.first = ready;
    slot.readyAt = this.clock.now();
    void run.exited.then((exit) => this.onExit(slot, run, exit));
    if (run.pid === undefined) throw new Error(`${spec.name} did not start`);
    return { name: spec.name, pid: run.pid, url: ready.url };
  }

  private runOf(spec: ComponentSpec, env: Readonly<Record<string, string | undefined>>): ComponentRun {
    const run = (spec.launch ?? this.launch)(spec, env, this.write);
    this.live.add(run);
    void run.exited.then(() => this.live.delete(run));
    return run;
  }

  /** The run's ready message once its probe passes; rejects on exit, timeout or a failed probe. */
  private async whenReady(spec: ComponentSpec, run: ComponentRun): Promise<ReadyMessage> {
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(
        () => reject(new Error(`${spec.name} was not ready within ${this.readyTimeoutMs} ms`)),
        this.readyTimeoutMs,
      );
    });
    try {
      const ready = await Promise.race([run.ready, timeout]);
      if (spec.probe && !(await spec.probe(ready.url).catch(() => false))) {
        throw new Error(`${spec.name} reported ready at ${ready.url} but its readiness probe failed`);
      }
      return ready;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /** A supervised run ended: schedule the next one, unless we are stopping. */
  private onExit(slot: Slot, run: ComponentRun, exit: Exit): void {
    if (this.stopping || slot.run !== run) return;
    this.scheduleRestart(slot, describeExit(exit));
  }

  /** Says what happened (`exited on signal SIGKILL`) and starts the component again after its delay. */
  private scheduleRestart(slot: Slot, what: string): void {
    if (slot.readyAt !== undefined && this.clock.now() - slot.readyAt >= this.resetAfterMs) slot.deaths = 0;
    const delay = Math.min(this.backoffMs * 2 ** slot.deaths, this.maxBackoffMs);
    slot.deaths++;
    slot.restarts++;
    slot.readyAt = undefined;
    this.write(`${slot.spec.name} ${what}; restarting in ${delay / 1000} s (restart ${slot.restarts})\n`);
    slot.timer = this.clock.setTimeout(() => void this.restart(slot), delay);
  }

  private async restart(slot: Slot): Promise<void> {
    slot.timer = undefined;
    if (this.stopping) return;
    const { spec } = slot;
    let run: ComponentRun;
    try {
      run = this.runOf(spec, { ...spec.env, ...(slot.first && spec.pin?.(slot.first)) });
    } catch (err) {
      this.scheduleRestart(slot, `could not be started: ${(err as Error).message}`);
      return;
    }
    slot.run = run;
    void run.exited.then((exit) => this.onExit(slot, run, exit));
    try {
      const ready = await this.whenReady(spec, run);
      if (this.stopping || slot.run !== run) return;
      slot.readyAt = this.clock.now();
      this.write(`${spec.name} is back at ${ready.url} (pid ${run.pid})\n`);
    } catch (err) {
      // an exit is onExit's to report; a run that hangs or fails its probe is ended, and so restarted
      if (this.stopping || err instanceof ComponentExitedError || !this.live.has(run)) return;
      this.write(`${spec.name} did not come back: ${(err as Error).message}; killing it\n`);
      run.kill('SIGKILL');
    }
  }
}

/** The default launch: the spec's script on the current node, ready over the IPC channel. */
export function forkComponent(
  spec: ComponentSpec,
  env: Readonly<Record<string, string | undefined>>,
  write: (line: string) => void,
): ComponentRun {
  if (!spec.script) throw new Error(`${spec.name}: no script to run`);
  const proc: ChildProcess = fork(spec.script, [...(spec.args ?? [])], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const exited = new Promise<Exit>((resolve) => {
    // 'close' comes after 'exit' once stdout and stderr are drained, so no line is lost.
    proc.once('close', (code, signal) => resolve({ code, signal }));
    // a process that could not be made (EAGAIN, ENOMEM) has no exit to wait for
    proc.on('error', (err) => {
      write(`${spec.name} | ${err.message}\n`);
      if (proc.pid === undefined) resolve({ code: null, signal: null });
    });
  });
  for (const stream of [proc.stdout, proc.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => write(`${spec.name} | ${line}\n`));
  }
  const ready = new Promise<ReadyMessage>((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if (isReady(message)) {
        proc.off('message', onMessage);
        resolve(message);
      }
    };
    proc.on('message', onMessage);
    void exited.then(({ code, signal }) => reject(new ComponentExitedError(spec.name, code, signal)));
  });
  ready.catch(() => undefined); // a run that ends after a restart was abandoned: nobody waits
  return {
    get pid() {
      return proc.pid;
    },
    ready,
    exited,
    kill: (signal) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}

function isReady(message: unknown): message is ReadyMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { ready?: unknown }).ready === true &&
    typeof (message as { url?: unknown }).url === 'string'
  );
}
