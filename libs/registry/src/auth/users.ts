/**
 * Registry users: `<root>/auth/users.json`, passwords hashed with scrypt and a per-user salt,
 * compared in constant time. A user may push (default: pull and push), only pull, or also
 * delete (pull, push and delete: what a registry's janitor needs, Docker's `delete` action).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { withLock, writeFileAtomic } from '@paas/content';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
const KEY_LENGTH = 32;
const USER = /^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$/;

export type UserAccess = 'pull' | 'push' | 'delete';

/** The repository actions each level of access grants, as token scopes name them. */
export const USER_ACTIONS: Readonly<Record<UserAccess, readonly string[]>> = {
  pull: ['pull'],
  push: ['pull', 'push'],
  delete: ['pull', 'push', 'delete'],
};

interface UserRecord {
  salt: string;
  hash: string;
  access: UserAccess;
}

interface UsersFile {
  users: Record<string, UserRecord>;
}

export class UserStore {
  private readonly path: string;

  constructor(registryRoot: string) {
    this.path = join(registryRoot, 'auth', 'users.json');
  }

  /** Adds or replaces a user. */
  async set(name: string, password: string, access: UserAccess = 'push'): Promise<void> {
    if (!USER.test(name)) throw new Error(`invalid user name "${name}"`);
    if (password.length === 0) throw new Error('empty password');
    if (!Object.hasOwn(USER_ACTIONS, access))
      throw new Error(`invalid access "${access}": expected pull, push or delete`);
    const salt = randomBytes(16);
    const hash = await scrypt(password, salt, KEY_LENGTH);
    await mkdir(join(this.path, '..'), { recursive: true, mode: 0o700 });
    await withLock(`${this.path}.lock`, async () => {
      const file = await this.read();
      file.users[name] = { salt: salt.toString('hex'), hash: hash.toString('hex'), access };
      await writeFileAtomic(this.path, JSON.stringify(file, null, 2), 0o600);
    });
  }

  async remove(name: string): Promise<boolean> {
    return withLock(`${this.path}.lock`, async () => {
      const file = await this.read();
      if (!file.users[name]) return false;
      Reflect.deleteProperty(file.users, name);
      await writeFileAtomic(this.path, JSON.stringify(file, null, 2), 0o600);
      return true;
    });
  }

  /** The user's access when the password is right; undefined otherwise. */
  async check(name: string, password: string): Promise<UserAccess | undefined> {
    const record = (await this.read()).users[name];
    // hash anyway so that unknown users take as long as wrong passwords
    const salt = record ? Buffer.from(record.salt, 'hex') : randomBytes(16);
    const hash = await scrypt(password, salt, KEY_LENGTH);
    if (!record) return undefined;
    const expected = Buffer.from(record.hash, 'hex');
    return expected.length === hash.length && timingSafeEqual(expected, hash) ? record.access : undefined;
  }

  private async read(): Promise<UsersFile> {
    try {
      const file = JSON.parse(await readFile(this.path, 'utf8')) as UsersFile;
      return file.users ? file : { users: {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { users: {} };
      throw err;
    }
  }
}
