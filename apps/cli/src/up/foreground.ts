/**
 * The one foreground run of `paas up` and `paas node up`: one per run directory (its pid
 * file), whatever a killed run left behind stopped first (left-behind.ts), the components
 * started under one Supervisor and each recorded for `paas down`, then a signal awaited. The
 * signal stops the components, then this machine's app instances unless `keepApps` (down.ts).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openEngine } from '../context';
import { CliError } from '../errors';
import type { CliIo } from '../io';
import { stopApps } from './down';
import { recordComponent, stopRecorded } from './left-behind';
import { claimPidFile } from './pidfile';
import { type ComponentSpec, type RunningComponent, Supervisor, forkComponent } from './supervisor';

/** `spec` with each of its runs recorded under `dir` once ready (left-behind.ts), for `paas down`. */
function recorded(dir: string, spec: ComponentSpec): ComponentSpec {
  const launch = spec.launch ?? forkComponent;
  return {
    ...spec,
    launch: (s, env, write) => {
      const run = launch(s, env, write);
      run.ready.then(
        () => run.pid !== undefined && recordComponent(dir, spec.name, run.pid),
        () => undefined,
      );
      return run;
    },
  };
}

/** Starts components, recorded, in order; resolves once they are ready. */
export type StartComponents = (specs: readonly ComponentSpec[]) => Promise<RunningComponent[]>;

export interface ForegroundRun {
  /** Leave the app instances running after the stop (the next run's agent adopts them). */
  readonly keepApps: boolean;
  /** Starts what runs, through `start`; what it returns is announced. */
  readonly start: (start: StartComponents) => Promise<RunningComponent[]>;
  /** Says what is up (before "Press Ctrl-C to stop"). */
  readonly announce: (running: readonly RunningComponent[]) => void;
  /** What a failed start throws instead of its own error. */
  readonly failed?: (err: Error) => Error;
}

export async function runForeground(io: CliIo, run: string, spec: ForegroundRun): Promise<void> {
  const claim = claimPidFile(join(run, 'up.pid'));
  if ('owner' in claim) throw new CliError(`paas is already up for ${run} (pid ${claim.owner})`);
  const supervisor = new Supervisor({ write: (line) => io.out(line) });
  const components = join(run, 'up');
  let signalled: NodeJS.Signals | undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolveSignal) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolveSignal(sig));
  }).then((sig) => (signalled = sig));
  try {
    // what a killed run left running gives way (its apps keep running: the agent adopts them)
    await stopRecorded(components, io.out);
    const starting = spec.start((specs) => supervisor.start(specs.map((s) => recorded(components, s))));
    // after a signal the start is abandoned, and fails as the stop ends its components
    starting.catch(() => undefined);
    const running = await Promise.race([starting, stopSignal.then(() => [])]);
    if (signalled === undefined) {
      spec.announce(running);
      io.out(`Press Ctrl-C to stop${spec.keepApps ? ' (the apps keep running)' : ''}.\n`);
      await stopSignal;
    }
    io.out(`paas: ${signalled ?? 'signal'} received, stopping\n`);
  } catch (err) {
    throw spec.failed ? spec.failed(err as Error) : err;
  } finally {
    try {
      await supervisor.stop();
      rmSync(components, { recursive: true, force: true });
      // the agent is gone: nothing starts an instance again while they stop. A start that
      // failed leaves them as they were (kept by an earlier --keep-apps): `paas down` is there.
      if (signalled !== undefined && !spec.keepApps) await stopApps(io, await openEngine(io));
    } finally {
      claim.release();
    }
  }
}
