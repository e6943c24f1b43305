import { ApiToken, issueToken, transaction } from '@paas/platform';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';

/** `$PAAS_ROOT/platform/admin.token`: the local CLI's token when no login is stored. */
export function adminTokenPath(root: string): string {
  return join(root, 'platform', 'admin.token');
}

/**
 * On the first start (no token at all) makes an admin token and writes it where the local
 * CLI finds it. Returns the new token, or null when tokens exist already. The check and the
 * insert share a transaction, so a second api starting beside this one sees the token.
 */
export async function ensureAdminToken(dataSource: DataSource, root: string): Promise<string | null> {
  const token = await transaction(dataSource, async (manager) => {
    if ((await manager.count(ApiToken)) > 0) return null;
    return (await issueToken(manager, { name: 'admin', admin: true })).token;
  });
  if (token !== null) await writeSecret(adminTokenPath(root), `${token}\n`);
  return token;
}

/** Writes a 0600 file atomically: temp file, fsync, rename, fsync of the directory. */
async function writeSecret(path: string, content: string): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  try {
    const file = await open(temp, 'w', 0o600);
    try {
      await file.chmod(0o600); // an old temp file of a crashed start keeps its mode otherwise
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
