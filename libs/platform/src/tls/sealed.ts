/**
 * Secrets at rest: the private keys of apps' certificates are stored sealed (in the database
 * and in Redis's certificate table), and only the components that need the plain key (the
 * routers, the api that validates an upload) open them with the sealing key.
 *
 * The sealing key is 32 random bytes in `$PAAS_ROOT/platform/tls/sealing.key` (0600), made on
 * first use exactly once (written to a temp name and hard-linked into place, as platform-ca.ts
 * does, so replicas starting together on one root agree on one key). A sealed value is
 *
 *   v1:<base64 of 12-byte IV | 16-byte GCM tag | ciphertext>
 *
 * AES-256-GCM: a value changed at rest, or sealed under another key, fails to open with an
 * error that says so, never with a wrong plaintext. `associated` binds a value to what it is
 * for (a certificate's id): a sealed key moved to another row does not open there.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { platformTlsDirectory } from '@paas/config';
import { PaasError } from '@paas/errors';

const VERSION = 'v1:';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The sealing key's file under a platform root (`$PAAS_ROOT`). */
export function sealingKeyFile(paasRoot: string): string {
  return join(platformTlsDirectory(paasRoot), 'sealing.key');
}

export class SealError extends PaasError {
  constructor(message: string) {
    super('data_loss', message);
  }
}

/** The sealing key at `file`, made (0600, in a 0700 directory) when there is none yet. */
export function ensureSealingKey(file: string): Buffer {
  try {
    return loadSealingKey(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(temp, randomBytes(KEY_BYTES), { mode: 0o600 });
  try {
    linkSync(temp, file);
  } catch (err) {
    // another process made it first: theirs is the key
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(temp);
  }
  chmodSync(file, 0o600);
  return loadSealingKey(file);
}

/** The sealing key at `file`; throws ENOENT when there is none, a SealError when it is not one. */
export function loadSealingKey(file: string): Buffer {
  const key = readFileSync(file);
  if (key.length !== KEY_BYTES)
    throw new SealError(`${file}: not a sealing key (${key.length} bytes, want ${KEY_BYTES})`);
  return key;
}

/** `plain` sealed under `key`, bound to `associated`. */
export function seal(key: Buffer, plain: string, associated = ''): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associated));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return VERSION + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/** What `seal` sealed; a SealError when it was changed, sealed under another key or for another use. */
export function unseal(key: Buffer, sealed: string, associated = ''): string {
  if (!sealed.startsWith(VERSION)) throw new SealError('not a sealed value (it does not start with v1:)');
  const raw = Buffer.from(sealed.slice(VERSION.length), 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SealError('sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(associated));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new SealError('sealed value does not open: changed at rest, or sealed under another key');
  }
}
