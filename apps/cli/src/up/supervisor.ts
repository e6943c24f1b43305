/**
 * Runs the platform's components as child processes in the foreground, like `heroku local`:
 * their output is prefixed with their name, each reports readiness over the IPC channel
 * (`process.send({ ready: true, url })`), and they stop together. Only processes this
 * supervisor started are signalled, by pid.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PaasError } from '@paas/errors';

export interface ComponentSpec {
  readonly name: string;
  /** A JavaScript file run with the current node. */
  readonly script: string;
  readonly args?: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A readiness probe run after the ready message; rejects or returns false when not ready. */
  readonly probe?: (url: string) => Promise<boolean>;
}

export interface RunningComponent {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
}

export interface SupervisorOptions {
  readonly readyTimeoutMs?: number;
  readonly stopTimeoutMs?: number;
  /** Where prefixed child output goes. */
  readonly write?: (line: string) => void;
}

interface Child {
  readonly spec: ComponentSpec;
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export class ComponentExitedError extends PaasError {
  constructor(
    readonly component: string,
    /** Its exit status, null when a signal ended it. */
    readonly status: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super('unavailable', `${component} exited ${signal ? `on signal ${signal}` : `with status ${status}`}`);
  }
}

export class Supervisor {
  private readonly children: Child[] = [];
  private readonly readyTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly write: (line: string) => void;
  private stopping: Promise<void> | undefined;

  constructor(options: SupervisorOptions = {}) {
    this.readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.write = options.write ?? ((line) => process.stdout.write(line));
  }

  /** Starts the components in order, each once the previous one is ready. */
  async start(specs: readonly ComponentSpec[]): Promise<RunningComponent[]> {
    const running: RunningComponent[] = [];
    for (const spec of specs) running.push(await this.startOne(spec));
    return running;
  }

  /** Resolves with the first component that exits on its own (a crash, from our view). */
  firstExit(): Promise<ComponentExitedError> {
    return Promise.race(
      this.children.map((c) =>
        c.exited.then(({ code, signal }) => new ComponentExitedError(c.spec.name, code, signal)),
      ),
    );
  }

  /** SIGTERM to every child, then SIGKILL to those still running after the timeout. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const live = this.children.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
      for (const child of live.reverse()) child.process.kill('SIGTERM');
      const all = Promise.all(live.map((c) => c.exited));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.stopTimeoutMs);
      });
      if ((await Promise.race([all, timeout])) === 'timeout') {
        for (const child of live) if (child.process.exitCode === null) child.process.kill('SIGKILL');
        await all;
      }
      clearTimeout(timer);
    })();
    return this.stopping;
  }

  private async startOne(spec: ComponentSpec): Promise<RunningComponent> {
    const proc = fork(spec.script, [...(spec.args ?? [])], {
      env: spec.env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      // 'close' comes after 'exit' once stdout and stderr are drained, so no line is lost.
      proc.once('close', (code, signal) => resolve({ code, signal }));
    });
    const child: Child = { spec, process: proc, exited };
    this.children.push(child);
    for (const stream of [proc.stdout, proc.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.write(`${spec.name} | ${line}\n`));
    }

    const url = await this.waitReady(child);
    if (spec.probe && !(await spec.probe(url).catch(() => false))) {
      throw new Error(`${spec.name} reported ready at ${url} but its readiness probe failed`);
    }
    if (proc.pid === undefined) throw new Error(`${spec.name} did not start`);
    return { name: spec.name, pid: proc.pid, url };
  }

  private waitReady(child: Child): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${child.spec.name} was not ready within ${this.readyTimeoutMs} ms`)),
        this.readyTimeoutMs,
      );
      const onMessage = (message: unknown): void => {
        if (isReady(message)) {
          clearTimeout(timer);
          child.process.off('message', onMessage);
          resolve(message.url);
        }
      };
      child.process.on('message', onMessage);
      void child.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new ComponentExitedError(child.spec.name, code, signal));
      });
    });
  }
}

function isReady(message: unknown): message is { ready: true; url: string } {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { ready?: unknown }).ready === true &&
    typeof (message as { url?: unknown }).url === 'string'
  );
}
