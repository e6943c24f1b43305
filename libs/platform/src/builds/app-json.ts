/**
 * app.json, as Dokku reads it. Only `healthchecks` matters to the build: it is checked here,
 * at push time, so a typo fails the push with the key's path instead of a deploy that later
 * waits on a check that can never pass. `environments.review` is read by the git receiver when
 * a push makes a review app (parseReviewEnvironment). The rest of the file (env, formation,
 * scripts, cron…) belongs to other parts of the platform and is left alone.
 */
import type { AddonType, HealthcheckSpec } from '../model/entities';
import {
  CONFIG_KEY,
  CONFIG_KEY_RULE,
  CONFIG_VALUE_RULE,
  PROCESS_TYPE,
  PROCESS_TYPE_RULE,
  isConfigValue,
} from '../names';
import { AppBuildError } from './errors';

export class AppJsonError extends AppBuildError {
  constructor(where: string, reason: string) {
    super(`app.json${where ? ` ${where}` : ''}: ${reason}`);
  }
}

export interface AppJson {
  /** Process type -> its checks; null when app.json declares none. */
  readonly healthchecks: Record<string, HealthcheckSpec[]> | null;
  /** Keys Dokku knows that this platform does not act on (shown in the build output). */
  readonly warnings: string[];
}

const CHECK_TYPES = new Set(['startup', 'liveness', 'readiness']);
/** Dokku's healthcheck keys this platform keeps, with the check each value must pass. */
const KEPT = {
  type: 'string',
  path: 'string',
  port: 'integer',
  attempts: 'integer',
  timeout: 'integer',
  wait: 'integer',
  content: 'string',
} as const;
/** Dokku's other healthcheck keys: valid there, not used here (yet). */
const IGNORED = new Set([
  'name',
  'description',
  'command',
  'httpHeaders',
  'initialDelay',
  'listening',
  'scheme',
  'uptime',
  'warn',
  'onFailure',
]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** app.json's top level: a JSON object (a byte order mark is allowed before it). */
function parseAppJsonDocument(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new AppJsonError('', `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc)) throw new AppJsonError('', 'expected a JSON object at the top level');
  return doc;
}

export function parseAppJson(text: string): AppJson {
  const doc = parseAppJsonDocument(text);
  const warnings: string[] = [];
  const raw = doc['healthchecks'];
  if (raw === undefined || raw === null) return { healthchecks: null, warnings };
  if (!isObject(raw)) throw new AppJsonError('healthchecks', 'expected an object of process type -> list of checks');
  const healthchecks: Record<string, HealthcheckSpec[]> = {};
  for (const [type, list] of Object.entries(raw)) {
    const where = `healthchecks.${type}`;
    if (!PROCESS_TYPE.test(type))
      throw new AppJsonError(where, `${JSON.stringify(type)} is not a valid process type: ${PROCESS_TYPE_RULE}`);
    if (!Array.isArray(list)) throw new AppJsonError(where, 'expected a list of checks');
    healthchecks[type] = list.map((check, i) => parseCheck(check, `${where}[${i}]`, warnings));
  }
  return { healthchecks, warnings };
}

function parseCheck(check: unknown, where: string, warnings: string[]): HealthcheckSpec {
  if (!isObject(check)) throw new AppJsonError(where, 'expected an object');
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(check)) {
    if (IGNORED.has(key)) {
      warnings.push(`app.json ${where}.${key} is not supported here and is ignored`);
      continue;
    }
    const kind = (KEPT as Record<string, 'string' | 'integer'>)[key];
    if (!kind) throw new AppJsonError(`${where}.${key}`, 'unknown healthcheck key');
    if (kind === 'string' && typeof value !== 'string') throw new AppJsonError(`${where}.${key}`, 'expected a string');
    if (kind === 'integer' && !(Number.isInteger(value) && (value as number) >= 0)) {
      throw new AppJsonError(`${where}.${key}`, 'expected a whole number >= 0');
    }
    out[key] = value as string | number;
  }
  const type = (out['type'] as string | undefined) ?? 'startup';
  if (!CHECK_TYPES.has(type))
    throw new AppJsonError(`${where}.type`, `expected startup, liveness or readiness, got ${JSON.stringify(type)}`);
  const path = out['path'] as string | undefined;
  if (path !== undefined && !path.startsWith('/'))
    throw new AppJsonError(`${where}.path`, `expected a path starting with /, got ${JSON.stringify(path)}`);
  const port = out['port'] as number | undefined;
  if (port !== undefined && (port < 1 || port > 65535))
    throw new AppJsonError(`${where}.port`, `port ${port} is out of range 1-65535`);
  const attempts = out['attempts'] as number | undefined;
  if (attempts !== undefined && attempts < 1)
    throw new AppJsonError(`${where}.attempts`, 'expected at least 1 attempt');
  return { ...out, type } as HealthcheckSpec;
}

/** What app.json's `environments.review` asks of a review app (Heroku's format). */
export interface ReviewEnvironment {
  /** Fresh add-ons made for the review app at its creation, in order. */
  readonly addons: readonly AddonType[];
  /** Config vars over the ones copied from the parent. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Heroku's add-on plans (`heroku-postgresql:essential-0`) and ours, to our add-on types. A
 * plan's tier after `:` is not ours to honour: the add-on gets the default size.
 */
const REVIEW_ADDON_PLANS: Readonly<Record<string, AddonType>> = {
  'heroku-postgresql': 'postgres',
  postgres: 'postgres',
  postgresql: 'postgres',
  'heroku-redis': 'redis',
  redis: 'redis',
};

/**
 * app.json's `environments.review` (null text: no app.json): `addons` as names or
 * `{ "plan": NAME }`, `env` as Heroku's `{ KEY: "value" }` or `{ KEY: { "value": "..." } }`.
 * Anything malformed throws an AppJsonError naming the field.
 */
export function parseReviewEnvironment(text: string | null): ReviewEnvironment {
  const none: ReviewEnvironment = { addons: [], env: {} };
  if (text === null) return none;
  const doc = parseAppJsonDocument(text);
  const environments = doc['environments'];
  if (environments === undefined || environments === null) return none;
  if (!isObject(environments)) throw new AppJsonError('environments', 'expected an object of environment -> settings');
  const review = environments['review'];
  if (review === undefined || review === null) return none;
  if (!isObject(review)) throw new AppJsonError('environments.review', 'expected an object');
  return { addons: reviewAddons(review['addons']), env: reviewEnv(review['env']) };
}

function reviewAddons(raw: unknown): AddonType[] {
  const where = 'environments.review.addons';
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new AppJsonError(where, 'expected a list of add-on plans');
  // two plans of one service would make two add-ons setting the same config var: the second
  // one's creation fails after the review app was made, so it is refused here
  const first = new Map<AddonType, string>();
  return raw.map((item: unknown, i) => {
    const at = `${where}[${i}]`;
    const plan = isObject(item) ? item['plan'] : item;
    const field = isObject(item) ? `${at}.plan` : at;
    if (typeof plan !== 'string') throw new AppJsonError(field, 'expected a plan name (a string)');
    // own keys only: "constructor" or "__proto__" is no plan
    const name = plan.split(':')[0] ?? '';
    const type = Object.hasOwn(REVIEW_ADDON_PLANS, name) ? REVIEW_ADDON_PLANS[name] : undefined;
    if (!type) {
      const known = Object.keys(REVIEW_ADDON_PLANS).join(', ');
      throw new AppJsonError(field, `unknown add-on plan ${JSON.stringify(plan)}: expected one of ${known}`);
    }
    const earlier = first.get(type);
    if (earlier !== undefined) {
      throw new AppJsonError(
        field,
        `a second ${type} add-on (${earlier} is one already): a review app gets one of each`,
      );
    }
    first.set(type, at);
    return type;
  });
}

function reviewEnv(raw: unknown): Record<string, string> {
  const where = 'environments.review.env';
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw new AppJsonError(where, 'expected an object of config var -> value');
  // without a prototype, so a var named __proto__ is kept as any other
  const env = Object.create(null) as Record<string, string>;
  for (const [key, entry] of Object.entries(raw)) {
    const at = `${where}.${key}`;
    if (!CONFIG_KEY.test(key)) throw new AppJsonError(at, `${JSON.stringify(key)} is not ${CONFIG_KEY_RULE}`);
    const value = isObject(entry) ? entry['value'] : entry;
    if (!isConfigValue(value))
      throw new AppJsonError(isObject(entry) ? `${at}.value` : at, `expected ${CONFIG_VALUE_RULE}`);
    env[key] = value;
  }
  return env;
}
