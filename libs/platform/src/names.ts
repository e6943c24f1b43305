/**
 * The names users type: app names, config keys, process types, domains. One place, used by the
 * api's validation, the CLI's argument checks and the build worker, so all three agree.
 */

/**
 * A DNS label (RFC 1123), so `APP.<domain>` is a valid host name: a-z, 0-9 and inner dashes,
 * at least two characters (docs/api.md "Limits", as Heroku's names).
 */
export const APP_NAME = /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
export const APP_NAME_RULE =
  'a DNS label: 2-63 lower-case letters, digits and dashes, starting with a letter and not ending with a dash';

/** An environment variable name as POSIX shells accept it. */
export const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const CONFIG_KEY_RULE = 'an environment variable name: letters, digits and _, not starting with a digit';
export const CONFIG_VALUE_MAX = 32 * 1024;
export const CONFIG_VALUE_RULE = `a string of at most ${CONFIG_VALUE_MAX} bytes without NUL (no environment can hold one)`;

/** A Procfile process type (`web`, `worker`, `release`...). */
export const PROCESS_TYPE = /^[a-z][a-z0-9_-]{0,29}$/;
export const PROCESS_TYPE_RULE = 'a process type: 1-30 lower-case letters, digits, - and _, starting with a letter';

export { MAX_QUANTITY } from './formation';

/**
 * Whether a log line's source is an instance of the app (`web.1`, `run.3`), not the platform
 * (`api`, `build`, `router`): `app[web.1]` against `paas[api]` in `paas logs`, APP-NAME `app`
 * against `paas` in a drain's messages.
 */
export function isInstanceSource(source: string): boolean {
  return /^[a-z][a-z0-9_-]*\.\d+$/.test(source);
}

/** A fully qualified host name for a custom domain. */
export const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

export function isAppName(value: string): boolean {
  return APP_NAME.test(value);
}

/**
 * What an existing app may be called: any DNS label, since apps made before the two-character
 * rule keep their one-letter names (and their routes). New names follow APP_NAME.
 */
const ROUTABLE_APP_NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const ROUTABLE_APP_NAME_RULE = 'a DNS label: 1-63 lower-case letters, digits and dashes, starting with a letter';

export function isRoutableAppName(value: string): boolean {
  return ROUTABLE_APP_NAME.test(value);
}

function isConfigKey(value: string): boolean {
  return CONFIG_KEY.test(value);
}

/** A value an environment can hold: execve(2) ends each `KEY=value` at its first NUL. */
export function isConfigValue(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\0') && Buffer.byteLength(value) <= CONFIG_VALUE_MAX;
}

/**
 * Why an environment cannot be given to a process (a key or value no execve can carry), or
 * null. Config vars are checked when set; this catches any that got in before.
 */
export function envProblem(env: Readonly<Record<string, string>>): string | null {
  for (const [key, value] of Object.entries(env)) {
    if (!isConfigKey(key)) return `config var ${JSON.stringify(key)} is not ${CONFIG_KEY_RULE}`;
    if (value.includes('\0')) return `config var ${key} holds a NUL byte, which no environment can hold`;
  }
  return null;
}
