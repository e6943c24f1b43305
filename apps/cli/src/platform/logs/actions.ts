/**
 * `logs -a APP`: an app's log (platform events and processes), followed until Ctrl-C with
 * `-f`. Loaded on use from ./commands.ts.
 */
import type { LogLine } from '@paas/api-types';
import { isInstanceSource } from '@paas/platform/names';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { type JsonFlag, appPath, appSession, parseCount } from '../session';
import { untilInterrupted } from '../../terminal';

/** Whether a line's source is an instance of the app (`web.1`), not the platform (`api`, `build`). */
const fromInstance = isInstanceSource;

/** Instances (`web.1`) speak as `app[web.1]`, the platform (`api`, `build`, `release`) as `paas[api]`. */
export function formatLogLine(entry: LogLine): string {
  const who = fromInstance(entry.source) ? `app[${entry.source}]` : `paas[${entry.source || 'platform'}]`;
  return `${entry.t} ${who}: ${entry.line}\n`;
}

/**
 * Which lines to show: `--source app` the app's processes, `--source paas` (or Heroku's
 * `heroku`) the platform's events, another source its own lines (`web` also `web.1`...);
 * `--ps`/`--dyno` a process type or instance. Both at once: lines that pass both.
 */
export function logFilter(flags: { source?: string; ps?: string; dyno?: string }): (entry: LogLine) => boolean {
  const bySource = (name: string, source: string): boolean => source === name || source.startsWith(`${name}.`);
  const { source } = flags;
  const ps = flags.ps ?? flags.dyno;
  return (entry) => {
    if (ps !== undefined && !(fromInstance(entry.source) && bySource(ps, entry.source))) return false;
    if (source === undefined) return true;
    if (source === 'app') return fromInstance(entry.source);
    if (source === 'paas' || source === 'heroku') return !fromInstance(entry.source);
    return bySource(source, entry.source);
  };
}

function parseLogData(data: string): LogLine {
  try {
    const parsed = JSON.parse(data) as Partial<LogLine>;
    if (parsed && typeof parsed === 'object' && typeof parsed.line === 'string') {
      return { t: String(parsed.t ?? ''), source: String(parsed.source ?? ''), line: parsed.line };
    }
  } catch {
    // a plain line
  }
  return { t: '', source: '', line: data };
}

export async function logs(
  io: CliIo,
  flags: AppFlags &
    JsonFlag & { num: string; follow?: boolean; tail?: boolean; ps?: string; dyno?: string; source?: string },
): Promise<void> {
  // 0: no backlog, only what comes (with -f); the api keeps at most APP_LOG_MAX lines and says so above it
  const tail = parseCount('--num', flags.num, 0);
  const shown = logFilter(flags);
  const { client, app } = await appSession(io, flags);
  const query = `?tail=${tail}${flags.follow || flags.tail ? '&follow=1' : ''}`;
  await untilInterrupted(async (signal) => {
    for await (const event of client.events(`${appPath(app, 'logs')}${query}`, signal)) {
      if (event.event === 'end') break;
      if (event.event !== 'message') continue;
      const entry = parseLogData(event.data);
      if (!shown(entry)) continue;
      io.out(flags.json ? `${JSON.stringify(entry)}\n` : formatLogLine(entry));
    }
  });
}
