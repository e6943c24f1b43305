/**
 * Which API the platform verbs talk to, and with which token:
 *
 * 1. the URL: `PAAS_API_URL`, else the stored login's, else `http://` + `PAAS_API_ADDR`
 *    (the local api, 127.0.0.1:7000 by default);
 * 2. the token: `PAAS_API_TOKEN`, else the stored login's when it is for that URL, else the
 *    local admin token `$PAAS_ROOT/platform/admin.token` when it is readable and the api is
 *    on loopback, or is this machine's own api off loopback (`PAAS_API_ADDR`, so https)
 *    whose certificate chains to the platform CA: that token never leaves the machine.
 *
 * `paas login` stores `{url, token}` in `$XDG_CONFIG_HOME/paas/platform.json` (by default
 * `~/.config/paas/platform.json`), mode 0600, replaced atomically.
 */
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Env, type TrustedCa, isLoopbackHost, localApiUrl, paths, trustedCa } from '@paas/config';
import { writeFileAtomic } from '@paas/content';
import { PaasError } from '@paas/errors';

export interface StoredLogin {
  readonly url: string;
  readonly token: string;
}

export type TokenSource = 'env' | 'login' | 'admin' | 'none';

export interface Target {
  readonly url: string;
  readonly token: string | undefined;
  readonly source: TokenSource;
  /** Where the token came from, for messages: a file path or `$PAAS_API_TOKEN`. */
  readonly from: string;
  /** The CA an https api must chain to: PAAS_CA_FILE, else the platform CA of PAAS_ROOT if here. */
  readonly ca: TrustedCa | null;
}

export function loginPath(env: Env): string {
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return join(base, 'paas', 'platform.json');
}

/** `$PAAS_ROOT/platform/admin.token`: the token the local api makes on its first start. */
export function adminTokenPath(root: string): string {
  return join(root, 'platform', 'admin.token');
}

/** The local api's URL: `http://127.0.0.1:7000` by default, https off loopback (@paas/config). */
export { localApiUrl } from '@paas/config';

/** An http(s) URL without a trailing slash; throws with `what` in the message otherwise. */
export function normalizeUrl(value: string, what: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new TargetError(`${what}: not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TargetError(`${what}: not an http(s) URL: ${value}`);
  if (url.search || url.hash) throw new TargetError(`${what}: a base URL has no query or fragment: ${value}`);
  return url.href.replace(/\/+$/, '');
}

/** No platform to talk to: no login, an unreadable login file, a bad PAAS_API_URL. */
export class TargetError extends PaasError {
  constructor(message: string) {
    super('unprocessable', message);
  }
}

export async function readLogin(env: Env): Promise<StoredLogin | undefined> {
  const path = loginPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoredLogin>;
    if (typeof parsed.url === 'string' && typeof parsed.token === 'string')
      return { url: parsed.url, token: parsed.token };
  } catch {
    // fall through
  }
  throw new TargetError(`${path} is not a paas login file; remove it or run 'paas login' again`);
}

export async function saveLogin(env: Env, login: StoredLogin): Promise<string> {
  const path = loginPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${JSON.stringify({ url: login.url, token: login.token }, null, 2)}\n`, 0o600);
  return path;
}

/** Removes the stored login; the one removed, if there was one. */
export async function removeLogin(env: Env): Promise<StoredLogin | undefined> {
  const login = await readLogin(env).catch(() => undefined);
  try {
    await unlink(loginPath(env));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return undefined;
  }
  return login ?? { url: '', token: '' };
}

async function readAdminToken(env: Env): Promise<string | undefined> {
  try {
    const token = (await readFile(adminTokenPath(paths(env).root), 'utf8')).trim();
    return token || undefined;
  } catch {
    return undefined; // missing or not readable by this user: not the local admin
  }
}

export async function resolveTarget(env: Env): Promise<Target> {
  const login = await readLogin(env);
  const envUrl = env['PAAS_API_URL'];
  const url = envUrl ? normalizeUrl(envUrl, 'PAAS_API_URL') : (login?.url ?? localApiUrl(env));
  const ca = url.startsWith('https:') ? trustedCa(env) : null;
  const envToken = env['PAAS_API_TOKEN'];
  if (envToken) return { url, token: envToken, source: 'env', from: '$PAAS_API_TOKEN', ca };
  if (login && login.url === url) return { url, token: login.token, source: 'login', from: loginPath(env), ca };
  // The local admin token never leaves the machine: it is only sent to a loopback api, or to
  // this machine's own api off loopback (PAAS_API_ADDR) over TLS checked against the CA
  const local =
    isLoopbackHost(new URL(url).hostname) || (url === localApiUrl(env) && url.startsWith('https:') && ca !== null);
  const admin = local ? await readAdminToken(env) : undefined;
  if (admin) return { url, token: admin, source: 'admin', from: adminTokenPath(paths(env).root), ca };
  return { url, token: undefined, source: 'none', from: '', ca };
}
