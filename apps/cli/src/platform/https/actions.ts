/** `https`, `https:redirect`, `https:hsts`. Loaded on use from ./commands.ts. */
import type { HttpsSettings } from '@paas/api-types';
import { CliError, EXIT_USAGE } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { header, json, keyValues } from '../format';
import { type JsonFlag, action, appPath, appSession } from '../session';

/** A year, the max-age browsers' preload lists ask for at least. */
const DEFAULT_HSTS_MAX_AGE = 31_536_000;

export async function https(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  show(io, app, await client.get<HttpsSettings>(appPath(app, 'https')), flags);
}

export async function httpsRedirect(io: CliIo, value: string, flags: AppFlags & JsonFlag): Promise<void> {
  const on = onOff(value, 'https:redirect');
  const { client, app } = await appSession(io, flags);
  const settings = await action(io, `${on ? 'Enabling' : 'Disabling'} the HTTPS redirect of ${app}`, () =>
    client.patch<HttpsSettings>(appPath(app, 'https'), { httpsRedirect: on }),
  );
  show(io, app, settings, flags);
}

export async function httpsHsts(
  io: CliIo,
  value: string,
  flags: AppFlags & JsonFlag & { maxAge?: string },
): Promise<void> {
  const on = onOff(value, 'https:hsts');
  if (!on && flags.maxAge !== undefined) throw new CliError('--max-age goes with https:hsts on', EXIT_USAGE);
  let maxAge = DEFAULT_HSTS_MAX_AGE;
  if (flags.maxAge !== undefined) {
    if (!/^\d{1,9}$/.test(flags.maxAge))
      throw new CliError(`--max-age ${JSON.stringify(flags.maxAge)}: expected whole seconds`, EXIT_USAGE);
    maxAge = Number(flags.maxAge);
  }
  const { client, app } = await appSession(io, flags);
  const settings = await action(io, `${on ? 'Enabling' : 'Disabling'} HSTS for ${app}`, () =>
    client.patch<HttpsSettings>(appPath(app, 'https'), { hstsMaxAge: on ? maxAge : null }),
  );
  show(io, app, settings, flags);
}

function show(io: CliIo, app: string, settings: HttpsSettings, flags: JsonFlag): void {
  if (flags.json) return io.out(json(settings));
  io.out(header(`${app} HTTPS`));
  io.out(
    keyValues([
      ['Redirect', settings.httpsRedirect ? 'on (plain HTTP answers 308 to https://)' : 'off'],
      ['HSTS', settings.hstsMaxAge === null ? 'off' : `on (max-age=${settings.hstsMaxAge})`],
    ]),
  );
}

function onOff(value: string, verb: string): boolean {
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new CliError(`${verb} ${JSON.stringify(value)}: expected on or off`, EXIT_USAGE);
}
