/**
 * The platform's managed Redis as a component of `paas up`'s supervisor: each run is a
 * redis-server started by startLocalRedis on the same unix socket under $PAAS_ROOT, with its
 * append-only file, so a restarted one comes back at the same URL with the data it had.
 */
import { type LocalRedis, startLocalRedis } from '@paas/platform/redis-server';
import type { ComponentRun, ComponentSpec, Exit, ReadyMessage } from './supervisor';

export function managedRedis(dir: string): ComponentSpec {
  return { name: 'redis', env: {}, launch: () => redisRun(dir) };
}

function redisRun(dir: string): ComponentRun {
  let redis: LocalRedis | undefined;
  let killed: NodeJS.Signals | undefined;
  const started = startLocalRedis(dir, { persist: true }).then((r) => {
    redis = r;
    // a stop that came while it was starting
    if (killed) r.process.kill(killed);
    return r;
  });
  const ready = started.then((r): ReadyMessage => ({ ready: true, url: r.url }));
  ready.catch(() => undefined); // an abandoned restart: nobody waits
  const exited = started.then(
    (r) =>
      new Promise<Exit>((resolve) => {
        const { exitCode, signalCode } = r.process;
        if (exitCode !== null || signalCode !== null) resolve({ code: exitCode, signal: signalCode });
        else r.process.once('exit', (code, signal) => resolve({ code, signal }));
      }),
    // startLocalRedis saw it exit (or stopped it); `ready` carries the reason
    (): Exit => ({ code: 1, signal: null }),
  );
  return {
    get pid() {
      return redis?.process.pid;
    },
    ready,
    exited,
    kill: (signal) => {
      killed = signal;
      const child = redis?.process;
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
