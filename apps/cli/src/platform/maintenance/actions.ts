/** `maintenance`, `maintenance:on`, `maintenance:off`. Loaded on use from ./commands.ts. */
import type { Maintenance } from '@paas/api-types';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { json } from '../format';
import { type JsonFlag, action, appPath, appSession } from '../session';

export async function maintenance(io: CliIo, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const mode = await client.get<Maintenance>(appPath(app, 'maintenance'));
  io.out(flags.json ? json({ maintenance: mode.maintenance }) : `${mode.maintenance ? 'on' : 'off'}\n`);
}

/** The routers answer at once (the next route write); the instances keep running, nothing is released. */
export async function maintenanceSet(io: CliIo, on: boolean, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const mode = await action(
    io,
    `${on ? 'Enabling' : 'Disabling'} maintenance mode for ${app}`,
    () => client.patch<Maintenance>(appPath(app, 'maintenance'), { maintenance: on }),
    (m) => (m.changed ? 'done' : `it is ${on ? 'on' : 'off'} already, nothing changed`),
  );
  if (flags.json) io.out(json(mode));
}
