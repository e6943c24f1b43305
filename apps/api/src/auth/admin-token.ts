import { writeFileAtomic } from '@paas/content';
import { ApiToken, holdFirstStartLock, issueToken, transaction } from '@paas/platform';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DataSource } from 'typeorm';

/** `$PAAS_ROOT/platform/admin.token`: the local CLI's token when no login is stored. */
export function adminTokenPath(root: string): string {
  return join(root, 'platform', 'admin.token');
}

/**
 * On the first start (no token at all) makes an admin token and writes it where the local
 * CLI finds it. Returns the new token, or null when tokens exist already. The check and the
 * insert share a transaction under the first-start lock, so of api replicas starting together
 * on a new database one makes it and the others see it.
 */
export async function ensureAdminToken(dataSource: DataSource, root: string): Promise<string | null> {
  const token = await transaction(dataSource, async (manager) => {
    await holdFirstStartLock(manager);
    if ((await manager.count(ApiToken)) > 0) return null;
    return (await issueToken(manager, { name: 'admin', admin: true })).token;
  });
  if (token !== null) await writeSecret(adminTokenPath(root), `${token}\n`);
  return token;
}

/** The token only its owner reads, replaced atomically (libs/content), in a 0700 directory. */
async function writeSecret(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, content, 0o600);
}
