/**
 * The platform's own registry users, so that its components never need an open registry:
 *
 *   paas-builder  the build workers: push release images, pull base images, delete old ones
 *   paas-node     the agents: pull release images, nothing else
 *
 * Each password is made once (32 random bytes) and kept in `<dir>/registry-<role>.json`
 * (`{"username","password"}`, mode 0600, written atomically, never replaced); every call
 * makes sure the registry's user store knows the user with that password and access, so it
 * is idempotent and heals a users.json that lost or changed them. `paas up` and the test
 * cluster call it before they start the registry and hand each component its pair through
 * PAAS_REGISTRY_USER / PAAS_REGISTRY_PASSWORD.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock, writeFileAtomic } from '@paas/content';
import type { Credentials } from '../client/credentials';
import { type UserAccess, UserStore } from './users';

export type PlatformRegistryRole = 'builder' | 'node';

export const PLATFORM_REGISTRY_USERS: Readonly<
  Record<PlatformRegistryRole, { readonly username: string; readonly access: UserAccess }>
> = {
  builder: { username: 'paas-builder', access: 'delete' },
  node: { username: 'paas-node', access: 'pull' },
};

/** Where a role's credentials are kept under `dir` (`$PAAS_ROOT/platform`). */
export function platformCredentialsPath(dir: string, role: PlatformRegistryRole): string {
  return join(dir, `registry-${role}.json`);
}

/**
 * Makes (once) and returns the credentials of every platform role, registering each with the
 * user store of the registry at `registryRoot`.
 */
export async function ensurePlatformRegistryUsers(
  registryRoot: string,
  dir: string,
): Promise<Record<PlatformRegistryRole, Credentials>> {
  const users = new UserStore(registryRoot);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const out = {} as Record<PlatformRegistryRole, Credentials>;
  for (const role of Object.keys(PLATFORM_REGISTRY_USERS) as PlatformRegistryRole[]) {
    const { username, access } = PLATFORM_REGISTRY_USERS[role];
    const path = platformCredentialsPath(dir, role);
    out[role] = await withLock(`${path}.lock`, async () => {
      let credentials = await readCredentials(path);
      if (!credentials) {
        credentials = { username, password: randomBytes(32).toString('base64url') };
        await writeFileAtomic(path, `${JSON.stringify(credentials)}\n`, 0o600);
      }
      if ((await users.check(credentials.username, credentials.password)) !== access) {
        await users.set(credentials.username, credentials.password, access);
      }
      return credentials;
    });
  }
  return out;
}

async function readCredentials(path: string): Promise<Credentials | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const value = JSON.parse(text) as Partial<Credentials>;
    if (typeof value.username === 'string' && typeof value.password === 'string' && value.password) {
      return { username: value.username, password: value.password };
    }
  } catch {
    // reported below
  }
  throw new Error(`${path}: expected {"username":"...","password":"..."}; remove it to make new credentials`);
}
