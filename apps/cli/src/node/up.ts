/**
 * `paas node up`: runs this machine's agent in the foreground from what `paas node join`
 * saved (settings.ts), as `paas up` runs its components (one Supervisor, one pid file, the
 * same record for `paas down`): the agent trusts only the pinned CA, authenticates with the
 * node's own credential, and pulls with the nodes' login. Ctrl-C stops the agent, then the
 * app instances of this machine unless --keep-apps (down.ts).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION } from '@paas/config';
import { loadCliConfig } from '../config';
import { openEngine } from '../context';
import { CliError } from '../errors';
import type { CliIo } from '../io';
import { stopApps } from '../up/down';
import { stopRecorded } from '../up/left-behind';
import { claimPidFile } from '../up/pidfile';
import { componentScript, recorded } from '../up/run';
import { type ComponentSpec, Supervisor } from '../up/supervisor';
import { type NodeSettings, nodeFiles, readNodeSettings } from './settings';

export interface NodeUpOptions {
  /** Leave the app instances running after the stop (the next start adopts them). */
  readonly keepApps?: boolean;
}

/** The agent of a joined machine, with its settings as the agent's environment (apps/agent config.ts). */
export function nodeAgent(
  root: string,
  settings: NodeSettings,
  env: Readonly<Record<string, string | undefined>>,
): ComponentSpec {
  const files = nodeFiles(root);
  const { registry } = settings;
  return {
    name: 'agent',
    script: componentScript('agent'),
    env: {
      ...env,
      PAAS_API_URL: settings.apiUrl,
      PAAS_CA_FILE: files.ca,
      // its own credential, never a PAAS_API_TOKEN of the caller's
      PAAS_API_TOKEN: undefined,
      PAAS_API_TOKEN_FILE: files.token,
      PAAS_NODE_NAME: settings.name,
      PAAS_NODE_ADDRESS: settings.address ?? undefined,
      PAAS_REGISTRY_ADDR: registry.address,
      PAAS_REGISTRY_USER: registry.username ?? undefined,
      PAAS_REGISTRY_PASSWORD: registry.password ?? undefined,
    },
  };
}

export async function runNodeUp(io: CliIo, options: NodeUpOptions = {}, joined?: NodeSettings): Promise<void> {
  const { root, run } = loadCliConfig(io.env).paths;
  const settings = joined ?? (await readNodeSettings(root));
  if (!settings)
    throw new CliError(
      `this machine has not joined a platform (no ${nodeFiles(root).settings}): run \`paas node join\` first`,
    );
  mkdirSync(run, { recursive: true, mode: 0o711 });
  const claim = claimPidFile(join(run, 'up.pid'));
  if ('owner' in claim) throw new CliError(`paas is already up for ${run} (pid ${claim.owner})`);
  const supervisor = new Supervisor({ write: (line) => io.out(line) });
  const components = join(run, 'up');
  let signalled: NodeJS.Signals | undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolveSignal) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolveSignal(sig));
  }).then((sig) => (signalled = sig));
  try {
    // what a killed `paas node up` left running gives way (its apps keep running: the agent adopts them)
    await stopRecorded(components, io.out);
    const starting = supervisor.start([
      recorded(components, nodeAgent(root, settings, { ...io.env, PAAS_ROOT: root, PAAS_RUN: run })),
    ]);
    starting.catch(() => undefined);
    const running = await Promise.race([starting, stopSignal.then(() => [])]);
    if (signalled === undefined) {
      const agent = running[0];
      io.out(`paas ${VERSION}: node ${settings.name} is up, registered with ${settings.apiUrl}\n`);
      if (agent) io.out(`  ${'agent'.padEnd(10)} pid ${agent.pid}\n`);
      io.out(`  ${'root'.padEnd(10)} ${root}\n`);
      io.out(`Press Ctrl-C to stop${options.keepApps ? ' (the apps keep running)' : ''}.\n`);
      await stopSignal;
    }
    io.out(`paas: ${signalled ?? 'signal'} received, stopping\n`);
  } catch (err) {
    throw new CliError(
      `the agent of node ${settings.name} did not start: ${(err as Error).message}; its settings are kept: fix the cause and run \`paas node up\``,
    );
  } finally {
    try {
      await supervisor.stop();
      rmSync(components, { recursive: true, force: true });
      if (signalled !== undefined && !options.keepApps) await stopApps(io, await openEngine(io));
    } finally {
      claim.release();
    }
  }
}
