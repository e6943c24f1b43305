/**
 * `builds`, `builds:info`, `builds:output`: an app's builds, named by `#N` or id, and a
 * build's streamed output. Loaded on use from ./commands.ts.
 */
import type { Build } from '@paas/api-types';
import { CliError } from '../../errors';
import { table } from '../../format';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import type { ApiClient } from '../client';
import { header, imageLine, json, keyValues, processLines, shortAgo, shortCommit, when } from '../format';
import { type JsonFlag, appPath, appSession, parseCount } from '../session';
import { untilInterrupted } from '../../terminal';

export async function builds(io: CliIo, flags: AppFlags & JsonFlag & { num: string }): Promise<void> {
  const limit = parseCount('--num', flags.num);
  const { client, app } = await appSession(io, flags);
  const list = (await client.get<Build[]>(appPath(app, 'builds'))).slice(0, limit);
  if (flags.json) return io.out(json(list));
  if (list.length === 0) return io.out(`${app} has no builds: git push paas main starts one.\n`);
  io.out(header(`${app} Builds`));
  io.out(
    table(
      ['BUILD', 'STATUS', 'COMMIT', 'RELEASE', 'CREATED', 'ID'],
      list.map((b) => [
        `#${b.number}`,
        b.status,
        shortCommit(b.commit),
        b.release ? `v${b.release.version}` : '',
        shortAgo(b.createdAt),
        b.id,
      ]),
    ),
  );
}

/** A build named by `#3`, `3` or its id; the newest when not named. */
async function findBuild(client: ApiClient, app: string, ref: string | undefined): Promise<Build> {
  const number = ref === undefined ? undefined : /^#?(\d{1,9})$/.exec(ref)?.[1];
  if (ref !== undefined && number === undefined) return client.get<Build>(appPath(app, 'builds', ref));
  const list = await client.get<Build[]>(appPath(app, 'builds'));
  const found = number === undefined ? list[0] : list.find((b) => b.number === Number(number));
  if (!found)
    throw new CliError(number === undefined ? `${app} has no builds` : `build #${number} not found on ${app}`);
  return found;
}

export async function buildsInfo(io: CliIo, ref: string | undefined, flags: AppFlags & JsonFlag): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const found = await findBuild(client, app, ref);
  const build = await client.get<Build>(appPath(app, 'builds', found.id));
  if (flags.json) return io.out(json(build));
  io.out(header(`Build #${build.number} (${build.id})`));
  io.out(
    keyValues([
      ['Commit', build.commit ? `${build.commit}${build.ref ? ` (${build.ref})` : ''}` : undefined],
      ['Created', when(build.createdAt)],
      ['Error', build.error],
      ['Image', imageLine(build.imageRef, build.imageDigest)],
      ['Processes', processLines(build.processTypes)],
      ['Release', build.release ? `v${build.release.version}` : undefined],
      ['Stack', build.stack],
      ['Status', build.status],
      ['Updated', when(build.updatedAt)],
    ]),
  );
}

export async function buildsOutput(io: CliIo, ref: string | undefined, flags: AppFlags): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const build = await findBuild(client, app, ref);
  let status: string | undefined;
  const result = await untilInterrupted(async (signal) => {
    for await (const event of client.events(appPath(app, 'builds', build.id, 'log'), signal)) {
      if (event.event === 'end') {
        try {
          status = (JSON.parse(event.data) as { status?: string }).status;
        } catch {
          status = event.data;
        }
        break;
      }
      if (event.event === 'message') io.out(`${event.data}\n`);
    }
  });
  if (result === 'interrupted') return;
  if (status === 'failed') throw new CliError(`build #${build.number} failed`);
}
