/**
 * What every platform verb shares, over the REST API (docs/api.md): the API session (which
 * API, which token, which app), the paths of an app's resources, the `Doing something... done`
 * progress line, `KEY=value` arguments, count flags (`-n N`), and `fail`. What a verb reports about its progress goes
 * to stderr as Heroku's CLI does; what it answers goes to stdout; failures are
 * `paas: <message>`. Loaded on first use with the verb's own module (see ./define.ts).
 */
import { CliError, EXIT_USAGE } from '../errors';
import type { CliIo } from '../io';
import { type AppFlags, resolveApp } from './app';
import { ApiClient, ApiUnreachableError, PlatformApiError, apiPath } from './client';
import { ScaleArgumentError } from './scale';
import { type Target, TargetError, resolveTarget } from './target';

export interface JsonFlag {
  json?: boolean;
}

export interface Session {
  readonly client: ApiClient;
  readonly target: Target;
}

export async function session(io: CliIo): Promise<Session> {
  const target = await resolveTarget(io.env);
  if (!target.token) {
    throw new CliError(
      `not logged in to the paas API at ${target.url}: run 'paas login --api ${target.url}' (or set PAAS_API_TOKEN)`,
    );
  }
  return { client: new ApiClient(target.url, target.token, target.ca), target };
}

export async function appSession(io: CliIo, flags: AppFlags): Promise<Session & { app: string }> {
  const app = await resolveApp(flags, io.env, process.cwd());
  return { ...(await session(io)), app };
}

export const appPath = (app: string, ...rest: (string | number)[]): string => apiPath('apps', app, ...rest);

/**
 * Prints a platform failure as `paas: <message>` and turns it into the exit code; errors that
 * are not the user's (bugs) go on to the CLI's generic report with their stack.
 */
export async function fail(io: CliIo, err: unknown): Promise<never> {
  if (err instanceof PlatformApiError) {
    io.err(`paas: ${err.message}\n`);
    // a detail that only repeats the message (one field's refusal) is not said twice
    for (const detail of err.details ?? []) {
      const line = describeDetail(detail);
      if (line !== err.message) io.err(`  - ${line}\n`);
    }
    if (err.status === 401) {
      const target = await resolveTarget(io.env).catch(() => undefined);
      const from = target?.from ? ` (token from ${target.from})` : '';
      io.err(`paas: the API at ${target?.url ?? 'the api'} refused the token${from}; run 'paas login'\n`);
    }
    throw new CliError('', 1);
  }
  if (err instanceof ApiUnreachableError || err instanceof TargetError) {
    io.err(`paas: ${err.message}\n`);
    throw new CliError('', 1);
  }
  if (err instanceof ScaleArgumentError) {
    io.err(`paas: ${err.message}\n`);
    throw new CliError('', EXIT_USAGE);
  }
  if (err instanceof CliError && err.message) {
    io.err(`paas: ${err.message}\n`);
    throw new CliError('', err.exitCode);
  }
  throw err;
}

function describeDetail(detail: unknown): string {
  if (typeof detail === 'string') return detail;
  if (detail && typeof detail === 'object') {
    const d = detail as Record<string, unknown>;
    const field = typeof d['field'] === 'string' ? d['field'] : typeof d['property'] === 'string' ? d['property'] : '';
    const text =
      typeof d['message'] === 'string'
        ? d['message']
        : typeof d['rule'] === 'string'
          ? d['rule']
          : Array.isArray(d['constraints'])
            ? d['constraints'].join(', ')
            : '';
    if (text) return field && !text.includes(field) ? `${field}: ${text}` : text;
  }
  return JSON.stringify(detail);
}

/** `Doing something... done` on stderr around `work`. */
export async function action<T>(
  io: CliIo,
  what: string,
  work: () => Promise<T>,
  done: (result: T) => string = () => 'done',
): Promise<T> {
  const result = await work();
  io.err(`${what}... ${done(result)}\n`);
  return result;
}

/** `KEY=value` arguments; the value may contain `=` and be empty. */
export function parseAssignments(args: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid config var '${arg}': expected KEY=value`, EXIT_USAGE);
    vars[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return vars;
}

/**
 * A count flag such as `-n/--num N`: decimal digits only (not '', ' 1', '1.5', '-1', '1e3' or
 * '0x10', which Number() takes), at least `min` (0 where "none" means something to the verb),
 * and exact: at most Number.MAX_SAFE_INTEGER.
 */
export function parseCount(flag: string, value: string, min: 0 | 1 = 1): number {
  const invalid = (expected: string): CliError => new CliError(`invalid ${flag} '${value}': ${expected}`, EXIT_USAGE);
  const count = Number(value);
  if (!/^\d+$/.test(value) || count < min) throw invalid(`expected ${min === 0 ? 'a number' : 'a positive number'}`);
  if (!Number.isSafeInteger(count)) throw invalid(`expected at most ${Number.MAX_SAFE_INTEGER}`);
  return count;
}
