import type { App, Instance } from './api';

export interface AppSummary {
  readonly app: App;
  /** Instances that should run (not leaving), and those of them that are up. */
  readonly total: number;
  readonly up: number;
  readonly state: 'not deployed' | 'idle' | 'up' | 'starting' | 'deploying' | 'crashed';
}

/** What an app is doing, from its release and its instances, as the apps list says it. */
export function summarize(app: App, instances: readonly Instance[]): AppSummary {
  const running = instances.filter((i) => i.state !== 'stopping' && i.state !== 'down');
  const up = running.filter((i) => i.state === 'up').length;
  let state: AppSummary['state'];
  if (!app.release) state = 'not deployed';
  else if (running.length === 0) state = 'idle';
  else if (running.some((i) => i.state === 'crashed')) state = 'crashed';
  else if (running.some((i) => i.release.version !== app.release?.version)) state = 'deploying';
  else state = up === running.length ? 'up' : 'starting';
  return { app, total: running.length, up, state };
}
