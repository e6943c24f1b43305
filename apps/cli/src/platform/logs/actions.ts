/**
 * `logs -a APP`: an app's log (platform events and processes), followed until Ctrl-C with
 * `-f`. Loaded on use from ./commands.ts.
 */
import type { LogLine } from '@paas/api-types';
import type { CliIo } from '../../io';
import type { AppFlags } from '../app';
import { type JsonFlag, appPath, appSession, parseCount } from '../session';
import { untilInterrupted } from '../../terminal';

/** Instances (`web.1`) speak as `app[web.1]`, the platform (`api`, `build`, `release`) as `paas[api]`. */
export function formatLogLine(entry: LogLine): string {
  const who = /^[a-z][a-z0-9_-]*\.\d+$/.test(entry.source)
    ? `app[${entry.source}]`
    : `paas[${entry.source || 'platform'}]`;
  return `${entry.t} ${who}: ${entry.line}\n`;
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
  flags: AppFlags & JsonFlag & { num: string; follow?: boolean; source?: string },
): Promise<void> {
  // 0: no backlog, only what comes (with -f); the api keeps at most APP_LOG_MAX lines and says so above it
  const tail = parseCount('--num', flags.num, 0);
  const { client, app } = await appSession(io, flags);
  const query = `?tail=${tail}${flags.follow ? '&follow=1' : ''}`;
  const source = flags.source;
  await untilInterrupted(async (signal) => {
    for await (const event of client.events(`${appPath(app, 'logs')}${query}`, signal)) {
      if (event.event === 'end') break;
      if (event.event !== 'message') continue;
      const entry = parseLogData(event.data);
      if (source && entry.source !== source && !entry.source.startsWith(`${source}.`)) continue;
      io.out(flags.json ? `${JSON.stringify(entry)}\n` : formatLogLine(entry));
    }
  });
}
