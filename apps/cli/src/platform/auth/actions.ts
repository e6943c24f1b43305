/**
 * `login`, `logout`, `whoami` and `git:credentials`: which API and token the platform verbs
 * use, and the token handed to `git push paas`. Loaded on use from ./commands.ts.
 */
import type { App, Token } from '@paas/api-types';
import { trustedCa } from '@paas/config';
import { CliError } from '../../errors';
import type { CliIo } from '../../io';
import { ApiClient, PlatformApiError } from '../client';
import { header, json, keyValues } from '../format';
import { type JsonFlag, session } from '../session';
import { normalizeUrl, readLogin, removeLogin, resolveTarget, saveLogin } from '../target';
import { promptLine, readStdin } from '../../terminal';

/**
 * git's credential helper protocol (`paas git:credentials get`): for the api's own host, the
 * token the CLI uses (any user name works); nothing for other hosts. `store` and `erase` are
 * accepted and ignored: the token lives in the CLI's login, not in git.
 */
export async function gitCredentials(io: CliIo, operation: string): Promise<void> {
  const input = await readStdin();
  if (operation !== 'get') return;
  const fields = new Map<string, string>();
  for (const line of input.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const target = await resolveTarget(io.env);
  const api = new URL(target.url);
  if (!target.token || fields.get('protocol') !== api.protocol.slice(0, -1) || fields.get('host') !== api.host) return;
  io.out(`username=paas\npassword=${target.token}\n`);
}

export async function login(io: CliIo, flags: { api?: string; token?: string }): Promise<void> {
  const stored = await readLogin(io.env).catch(() => undefined);
  const url = normalizeUrl(
    flags.api || io.env['PAAS_API_URL'] || stored?.url || (await resolveTarget(io.env)).url,
    flags.api ? '--api' : 'PAAS_API_URL',
  );
  let token = flags.token;
  if (token === undefined) {
    token = process.stdin.isTTY
      ? await promptLine(`Token for ${url}: `, true)
      : (await readStdin())
          .split(/\r?\n/)
          .find((l) => l.trim() !== '')
          ?.trim();
  }
  if (!token) throw new CliError('a token is required: --token TOKEN, or on stdin');
  const client = new ApiClient(url, token, url.startsWith('https:') ? trustedCa(io.env) : null);
  try {
    await client.get<App[]>('/api/apps');
  } catch (err) {
    if (err instanceof PlatformApiError && (err.status === 401 || err.status === 403)) {
      throw new CliError(`login to ${url} failed: the api refused the token (${err.code})`);
    }
    throw err;
  }
  await saveLogin(io.env, { url, token });
  io.out(`Logged in to ${url}\n`);
}

export async function logout(io: CliIo): Promise<void> {
  const removed = await removeLogin(io.env);
  if (removed) io.out(`Logged out${removed.url ? ` of ${removed.url}` : ''}\n`);
  else io.out('Not logged in\n');
}

export async function whoami(io: CliIo, flags: JsonFlag): Promise<void> {
  const { client, target } = await session(io);
  const list = await client.get<App[]>('/api/apps');
  let admin = false;
  let name: string | undefined;
  try {
    const tokens = await client.get<Token[]>('/api/tokens');
    admin = true;
    name = tokens.find((t) => t.prefix && target.token?.startsWith(t.prefix))?.name;
  } catch (err) {
    if (!(err instanceof PlatformApiError && err.status === 403)) throw err;
  }
  const prefix = `${(target.token ?? '').slice(0, 9)}…`;
  if (flags.json) {
    return io.out(
      json({ url: target.url, token: prefix, source: target.from, name: name ?? null, admin, apps: list.length }),
    );
  }
  io.out(header(target.url));
  io.out(
    keyValues([
      ['Token', `${prefix} (from ${target.from})`],
      ['Name', name],
      ['Admin', admin ? 'yes' : 'no'],
      ['Apps', String(list.length)],
    ]),
  );
}
