/**
 * `paas node up`: runs this machine's agent in the foreground from what `paas node join`
 * saved (settings.ts), as `paas up` runs its components (one Supervisor, one pid file, the
 * same record for `paas down`): the agent trusts only the pinned CA, authenticates with the
 * node's own credential, and pulls with the nodes' login. Ctrl-C stops the agent, then the
 * app instances of this machine unless --keep-apps (down.ts).
 */
import { mkdirSync } from 'node:fs';
import { VERSION } from '@paas/config';
import { loadCliConfig } from '../config';
import { CliError } from '../errors';
import type { CliIo } from '../io';
import { runForeground } from '../up/foreground';
import { componentScript } from '../up/run';
import type { ComponentSpec } from '../up/supervisor';
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
  await runForeground(io, run, {
    keepApps: options.keepApps ?? false,
    start: (start) => start([nodeAgent(root, settings, { ...io.env, PAAS_ROOT: root, PAAS_RUN: run })]),
    announce: ([agent]) => {
      io.out(`paas ${VERSION}: node ${settings.name} is up, registered with ${settings.apiUrl}\n`);
      if (agent) io.out(`  ${'agent'.padEnd(10)} pid ${agent.pid}\n`);
      io.out(`  ${'root'.padEnd(10)} ${root}\n`);
    },
    failed: (err) =>
      new CliError(
        `the agent of node ${settings.name} did not start: ${err.message}; its settings are kept: fix the cause and run \`paas node up\``,
      ),
  });
}
