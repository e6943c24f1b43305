/**
 * What a machine that joined the platform keeps (`paas node join` writes it, `paas node up`
 * reads it), under `$PAAS_ROOT/node/` (0700):
 *
 *   ca.crt       the platform CA, pinned by its hash at the join: the only CA the agent
 *                trusts for the control plane (its PAAS_CA_FILE)
 *   node.token   the node's own credential (0600), bound to its name: it may register and
 *                heartbeat as that node and nothing else
 *   node.json    the rest (0600: it holds the registry's pull-only login): the name, the
 *                api's URL, the node's address, the registry and its login, when it joined
 *
 * Each file is written whole or not at all (writeFileAtomic), node.json last: a machine is
 * joined once node.json exists.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@paas/content';
import { CliError } from '../errors';

export interface NodeSettings {
  readonly name: string;
  readonly apiUrl: string;
  /** The node's IPv4 address as the router reaches it; null: its instances' bridge addresses. */
  readonly address: string | null;
  readonly caHash: string;
  readonly registry: {
    readonly address: string;
    readonly username: string | null;
    readonly password: string | null;
  };
  readonly joinedAt: string;
}

export function nodeDirectory(root: string): string {
  return join(root, 'node');
}

export const nodeFiles = (root: string) => ({
  ca: join(nodeDirectory(root), 'ca.crt'),
  token: join(nodeDirectory(root), 'node.token'),
  settings: join(nodeDirectory(root), 'node.json'),
});

/** The settings of a machine that joined, or undefined when it never did. */
export async function readNodeSettings(root: string): Promise<NodeSettings | undefined> {
  const file = nodeFiles(root).settings;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as Partial<NodeSettings>;
    if (typeof value.name === 'string' && typeof value.apiUrl === 'string' && value.registry)
      return value as NodeSettings;
  } catch {
    // reported below
  }
  throw new CliError(`${file} is not the settings \`paas node join\` writes: join again with --force`);
}

/** Writes the CA, the token, then the settings (the mark of a joined machine). */
export async function writeNodeSettings(
  root: string,
  settings: NodeSettings,
  caPem: string,
  token: string,
): Promise<void> {
  const files = nodeFiles(root);
  await mkdir(nodeDirectory(root), { recursive: true, mode: 0o700 });
  await writeFileAtomic(files.ca, caPem, 0o644);
  await writeFileAtomic(files.token, `${token}\n`, 0o600);
  await writeFileAtomic(files.settings, `${JSON.stringify(settings, null, 2)}\n`, 0o600);
}
