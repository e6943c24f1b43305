/**
 * `releases`, `releases:info`, `releases:output` and `rollback`: an app's releases and their
 * real state (a release serves only once its deploy is live). Loaded on use from ./commands.ts.
 */
import type { Build, Release } from '@paas/api-types';
import { CliError, EXIT_USAGE } from '../../errors';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import type { ApiClient } from '../client';
import { columns, header, imageLine, json, keyValues, processLines, shellQuote, shortAgo, when } from '../format';
import { type JsonFlag, action, appPath, appSession, parseCount } from '../session';
import { untilInterrupted } from '../../terminal';
import { failIfFailed, followRelease, releaseOutcome } from './follow';

/** `v12` or `12` -> 12. */
export function parseVersion(value: string): number {
  const match = /^v?(\d{1,9})$/.exec(value.trim());
  if (!match) throw new CliError(`invalid release '${value}': expected vN, e.g. v3`, EXIT_USAGE);
  return Number(match[1]);
}

/** States worth a word in a list: what is on its way or went wrong (live and superseded are history). */
const UNSETTLED: ReadonlySet<Release['status']> = new Set(['building', 'deploying', 'failed']);

function releaseLine(r: Release): string[] {
  const status = UNSETTLED.has(r.status) ? ` (${r.status}${r.waiting ? ', waiting for capacity' : ''})` : '';
  return [`v${r.version}`, `${r.description}${status}`, r.createdBy ?? '', shortAgo(r.createdAt)];
}

export async function releases(io: CliIo, flags: AppFlags & JsonFlag & { num: string }): Promise<void> {
  const limit = parseCount('--num', flags.num);
  const { client, app } = await appSession(io, flags);
  const list = (await client.get<Release[]>(appPath(app, 'releases'))).slice(0, limit);
  if (flags.json) return io.out(json(list));
  if (list.length === 0) return io.out(`${app} has no releases.\n`);
  const current = list.find((r) => r.current);
  io.out(header(`${app} Releases${current ? ` - Current: v${current.version}` : ''}`));
  io.out(columns(list.map(releaseLine)));
}

async function currentRelease(client: ApiClient, app: string): Promise<Release> {
  const list = await client.get<Release[]>(appPath(app, 'releases'));
  const current = list.find((r) => r.current) ?? list[0];
  if (!current) throw new CliError(`${app} has no releases yet`);
  return current;
}

export async function releasesInfo(
  io: CliIo,
  version: string | undefined,
  flags: AppFlags & JsonFlag & { shell?: boolean },
): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const release =
    version === undefined
      ? await currentRelease(client, app)
      : await client.get<Release>(appPath(app, 'releases', `v${parseVersion(version)}`));
  if (flags.json) return io.out(json(release));
  const keys = Object.keys(release.config ?? {}).sort();
  if (flags.shell) return io.out(keys.map((k) => `${k}=${shellQuote(release.config[k] ?? '')}\n`).join(''));
  io.out(header(`Release v${release.version}`));
  io.out(
    keyValues([
      ['By', release.createdBy],
      ['Change', release.description],
      ['Current', release.current ? 'yes' : 'no'],
      ['Image', imageLine(release.imageRef, release.imageDigest)],
      ['Processes', processLines(release.processTypes)],
      ['Status', release.status],
      ['Live', release.liveAt ? when(release.liveAt) : undefined],
      ['Error', release.error],
      ['Waiting', release.waiting],
      ['When', when(release.createdAt)],
    ]),
  );
  io.out(`\n${header(`v${release.version} Config vars`)}`);
  io.out(keyValues(keys.map((k) => [k, release.config[k] ?? ''])));
}

export async function rollback(
  io: CliIo,
  version: string | undefined,
  flags: AppFlags & JsonFlag & { wait?: boolean },
): Promise<void> {
  const wanted = version === undefined ? undefined : parseVersion(version);
  const { client, app } = await appSession(io, flags);
  let target = wanted;
  if (target === undefined) {
    const list = await client.get<Release[]>(appPath(app, 'releases'));
    const current = list.find((r) => r.current) ?? list[0];
    if (!current) throw new CliError(`${app} has no releases to roll back`);
    // The newest earlier release that passed its build and has an image (a config change before
    // the first deploy has none).
    const previous = list.find(
      (r) => r.version < current.version && ['deploying', 'live', 'superseded'].includes(r.status) && r.imageRef,
    );
    if (!previous) throw new CliError(`${app} has no deployed release before v${current.version} to roll back to`);
    target = previous.version;
  }
  const release = await action(
    io,
    `Rolling back ${app} to v${target}`,
    async () =>
      followRelease(
        client,
        app,
        await client.post<Release>(appPath(app, 'releases'), { release: target }),
        flags.wait !== false,
      ),
    // it serves only once its instances are up: say where it stands
    (r) => `done, ${releaseOutcome(r)}`,
  );
  if (flags.json) io.out(json(release));
  failIfFailed(release);
}

/**
 * The headline the build pipeline writes before a release command's output, and the prefix of
 * every headline after it (libs/platform builds/pipeline.ts and build-log.ts `step`).
 */
const RELEASE_PHASE = /^-----> Running release command: /;
const HEADLINE = /^-----> /;

/**
 * `releases:output [vN]` (Heroku's): what the release command of a release printed, read from
 * the build that made it (followed while it runs). A release made without a build (a config
 * change, a rollback, an add-on) ran none, and a build whose Procfile has no `release` neither.
 */
export async function releasesOutput(io: CliIo, version: string | undefined, flags: AppFlags): Promise<void> {
  const { client, app } = await appSession(io, flags);
  const release =
    version === undefined
      ? await currentRelease(client, app)
      : await client.get<Release>(appPath(app, 'releases', `v${parseVersion(version)}`));
  const build = (await client.get<Build[]>(appPath(app, 'builds'))).find((b) => b.release?.version === release.version);
  if (!build) {
    io.err(`v${release.version} was not made by a build (${release.description}): it ran no release command\n`);
    return;
  }
  let inPhase = false;
  let ran = false;
  const result = await untilInterrupted(async (signal) => {
    for await (const event of client.events(appPath(app, 'builds', build.id, 'log'), signal)) {
      if (event.event === 'end') break;
      if (event.event !== 'message') continue;
      if (RELEASE_PHASE.test(event.data)) inPhase = ran = true;
      else if (HEADLINE.test(event.data)) inPhase = false;
      if (inPhase) io.out(`${event.data}\n`);
    }
  });
  if (result !== 'interrupted' && !ran) {
    io.err(`v${release.version} ran no release command (build #${build.number}'s Procfile has no release process)\n`);
  }
}
