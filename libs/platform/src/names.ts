/**
 * The names users type: app names, config keys, process types, domains. One place, used by the
 * api's validation, the CLI's argument checks and the build worker, so all three agree.
 */
import { createHash } from 'node:crypto';

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

/**
 * Review apps (#25): a push of branch B to app APP makes `APP--slug(B)`. `--` never ends an
 * app name, so what comes before the last `--` names the parent to a reader; the link itself is
 * the review app's parentId and branch columns, never the name.
 */
export const REVIEW_SEPARATOR = '--';
/** Hex digits of sha256(branch) a shortened or colliding review app name ends with. */
const REVIEW_HASH_LENGTH = 7;

/** A branch as an app name's tail: lower case, [a-z0-9-], runs of anything else one dash, no dash at the ends. */
export function branchSlug(branch: string): string {
  return branch
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // é -> e, as the decomposition leaves it
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * The review app name of `branch` of app `parent`: `APP--slug`, or, with `hashed` (the plain
 * name is taken by another branch's app) or when that is longer than an app name may be,
 * `APP--slug-HASH` with the slug cut to fit and HASH the start of sha256 of the full branch
 * name, so two branches never share a name. Null when `parent` leaves no room for a tail.
 */
export function reviewAppName(parent: string, branch: string, hashed = false): string | null {
  const prefix = `${parent}${REVIEW_SEPARATOR}`;
  const slug = branchSlug(branch);
  const plain = `${prefix}${slug}`;
  if (!hashed && slug !== '' && APP_NAME.test(plain)) return plain;
  const hash = createHash('sha256').update(branch).digest('hex').slice(0, REVIEW_HASH_LENGTH);
  const room = 63 - prefix.length - hash.length - 1;
  if (room < 0) return null;
  const cut = slug.slice(0, room).replace(/-+$/, '');
  const name = cut ? `${prefix}${cut}-${hash}` : `${prefix}${hash}`;
  return APP_NAME.test(name) ? name : null;
}
