/**
 * Taking the apps of `paas up` down: every app instance container under this PAAS_ROOT (the
 * engine's `paas.app` label; the user's own `paas run` containers are left alone) is stopped
 * gracefully, side by side, and removed with its shim, cgroup, mounts, netns and veth; then
 * the bridge, when nothing else is on it (Engine.takeDown). The desired state stays in the
 * database, so the next `paas up` starts the apps again, as `docker compose up` after `down`.
 *
 *   stopApps   Ctrl-C (SIGINT, SIGTERM, SIGHUP) of `paas up`, once its components stopped;
 *              not with `paas up --keep-apps`, nor when the agent alone dies or restarts
 *   runDown    `paas down`: the same for what a `paas up` that could not stop left (kill -9,
 *              a power cut); refused while a `paas up` runs for this PAAS_RUN
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { APP_LABEL, type Engine } from '@paas/engine';
import { loadCliConfig } from '../config';
import { openEngine } from '../context';
import { CliError } from '../errors';
import type { CliIo } from '../io';
import { stopRecorded } from './left-behind';
import { claimPidFile } from './pidfile';

/** Stops and removes the app instance containers (and the bridge when nothing else is on it); how many. */
export async function stopApps(io: CliIo, engine: Engine): Promise<number> {
  const apps = (await engine.containers.list()).filter((record) => record.labels[APP_LABEL] !== undefined);
  if (apps.length > 0) io.out(`stopping ${apps.length} app instance${apps.length === 1 ? '' : 's'}\n`);
  const { failed, bridgeRemoved } = await engine.takeDown(apps, {
    graceful: true,
    onRemoved: (record) => io.out(`  removed ${record.name} (container ${record.id.slice(0, 12)})\n`),
  });
  if (bridgeRemoved && engine.network) io.out(`  removed the bridge ${engine.network.settings.name}\n`);
  if (failed.length > 0) {
    const why = failed.map(({ record, error }) => `${record.name}: ${error.message}`).join('; ');
    throw new CliError(`could not remove ${failed.length} app instance(s): ${why}; run \`paas down\` again`);
  }
  return apps.length;
}

/** `paas down`. */
export async function runDown(io: CliIo): Promise<void> {
  const { run } = loadCliConfig(io.env).paths;
  // after a power cut $PAAS_RUN (a tmpfs) is gone, the containers' records are not
  mkdirSync(run, { recursive: true, mode: 0o711 });
  // held while taking down, so a `paas up` started meanwhile waits for none of it
  const claim = claimPidFile(join(run, 'up.pid'));
  if ('owner' in claim) {
    throw new CliError(
      `paas is up for ${run} (pid ${claim.owner}): stop it with Ctrl-C or \`kill ${claim.owner}\`; its apps stop with it`,
    );
  }
  try {
    // the agent first, or it would start the instances again
    const stopped = await stopRecorded(join(run, 'up'), io.out);
    const removed = await stopApps(io, await openEngine(io));
    if (stopped + removed === 0) io.out(`nothing of paas up is left for ${run}\n`);
  } finally {
    claim.release();
  }
}
