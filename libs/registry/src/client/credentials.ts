/**
 * Saved registry logins: `$PAAS_ROOT/registry-auth.json`, in the `auths` shape of Docker's
 * `config.json` (`{"auths":{"host:5000":{"auth":"base64(user:password)"}}}`), mode 0600 and
 * replaced atomically.
 */
import { readFile } from 'node:fs/promises';
import { withLock, writeFileAtomic } from '@paas/content';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

interface AuthFile {
  auths: Record<string, { auth?: string }>;
}

export class CredentialStore {
  constructor(readonly path: string) {}

  async get(host: string): Promise<Credentials | undefined> {
    const entry = (await this.read()).auths[host];
    if (!entry?.auth) return undefined;
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }

  async set(host: string, credentials: Credentials): Promise<void> {
    await this.update((file) => {
      file.auths[host] = {
        auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64'),
      };
    });
  }

  /** Removes the login for `host`; false when there was none. */
  async remove(host: string): Promise<boolean> {
    let found = false;
    await this.update((file) => {
      found = file.auths[host] !== undefined;
      Reflect.deleteProperty(file.auths, host);
    });
    return found;
  }

  private async update(change: (file: AuthFile) => void): Promise<void> {
    await withLock(`${this.path}.lock`, async () => {
      const file = await this.read();
      change(file);
      await writeFileAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
    });
  }

  private async read(): Promise<AuthFile> {
    try {
      const file = JSON.parse(await readFile(this.path, 'utf8')) as Partial<AuthFile>;
      return { ...file, auths: file.auths ?? {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { auths: {} };
      throw err;
    }
  }
}
