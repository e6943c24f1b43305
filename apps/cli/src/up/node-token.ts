/**
 * The agent's credential under `paas up`: a node token (docs/api.md "Authentication"), which
 * may register this host as a node and send its heartbeats and nothing else, so the agent never
 * holds the admin token. Made once through the api with the local admin token and kept, 0600,
 * in `$PAAS_ROOT/platform/node.token`; later starts reuse the file. A revoked one is replaced:
 * the file is checked against the api's token list whenever the admin token is at hand.
 */
import { writeFileAtomic } from '@paas/content';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrustedCa } from '@paas/config';
import { CliError } from '../errors';
import { ApiClient } from '../platform/client';
import { adminTokenPath } from '../platform/target';
import type { IssuedToken, Token } from '@paas/api-types';

const TOKEN = /^paas_[0-9A-Za-z]{40}$/;

export function nodeTokenPath(root: string): string {
  return join(root, 'platform', 'node.token');
}

/** The file's token; with `shape`, only a well-formed one (a garbled node token is made again). */
async function readToken(path: string, shape?: RegExp): Promise<string | undefined> {
  try {
    const token = (await readFile(path, 'utf8')).trim();
    return token && (!shape || shape.test(token)) ? token : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Makes the node token unless a valid one is stored; returns the file the agent reads it from. */
export async function ensureNodeToken(root: string, apiUrl: string, ca: TrustedCa | null = null): Promise<string> {
  const path = nodeTokenPath(root);
  const stored = await readToken(path, TOKEN);
  const admin = await readToken(adminTokenPath(root));
  if (!admin) {
    if (stored) return path;
    throw new CliError(
      `cannot make the agent's node token: no admin token in ${adminTokenPath(root)}; ` +
        `make one with \`paas tokens:create NAME --node\` and write it to ${path} (mode 0600)`,
    );
  }
  const client = new ApiClient(apiUrl, admin, ca);
  if (stored) {
    const tokens = await client.get<Token[]>('/api/tokens');
    if (tokens.some((t) => t.node && stored.startsWith(t.prefix))) return path;
  }
  const made = await client.post<IssuedToken>('/api/tokens', { name: 'paas up agent', node: true });
  await mkdir(join(root, 'platform'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${made.token}\n`, 0o600);
  return path;
}
