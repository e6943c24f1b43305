/**
 * The heartbeat body's validation, by hand: at 1,000 instances a node a full heartbeat holds
 * 1,000 reports a second, and class-validator's nested validation (plus class-transformer
 * making an object per report) was the api's largest cost during a scale. The rules are the
 * ones HeartbeatDto documents (nodes.dto.ts, for OpenAPI); the details keep the vocabulary of
 * the other DTOs (`field` as `instances.3.state`, class-validator's rule names) and the
 * messages name the report: `instances[3].state must be one of starting, up, crashed, stopping`.
 * Nothing is coerced, unknown fields are refused, and the first MAX_DETAILS faults are listed.
 */
import { Body } from '@nestjs/common';
import {
  HEARTBEAT_MAX_INSTANCES,
  type HeartbeatRequest,
  type InstanceReport,
  type ReportedState,
} from '@paas/platform';
import { ApiError, type ErrorDetail } from '../common/api-error';

/** Every state of the protocol's ReportedState: the record fails to compile when the protocol adds one. */
export const REPORTED_STATES = Object.keys({
  starting: true,
  up: true,
  crashed: true,
  stopping: true,
} satisfies Record<ReportedState, true>) as ReportedState[];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATES = new Set<unknown>(REPORTED_STATES);
/** A body with thousands of bad reports answers with the first few. */
export const MAX_DETAILS = 20;

const REQUEST_FIELDS = new Set(['instances', 'full', 'gone', 'desiredVersion', 'removedVolumes']);
const REPORT_FIELDS = new Set<string>([
  'id',
  'releaseId',
  'state',
  'containerId',
  'address',
  'pid',
  'memoryBytes',
  'restartCount',
  'error',
  'final',
] satisfies (keyof InstanceReport)[]);

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A rule broken, and the end of its message (`must be a string`); null: none is. */
export type Fault = readonly [rule: string, tail: string] | null;

const NOT_STRING: Fault = ['isString', 'must be a string'];
const NOT_INTEGER: Fault = ['isInt', 'must be an integer'];
const NEGATIVE: Fault = ['min', 'must not be less than 0'];
const NOT_UUID: Fault = ['matches', 'must be a UUID'];
const NOT_STATE: Fault = ['isIn', `must be one of ${REPORTED_STATES.join(', ')}`];
export const NOT_OBJECT: Fault = ['nestedValidation', 'must be an object'];
export const UNKNOWN: Fault = ['unknownField', 'is not a known field'];

export const string = (value: unknown, maxLength: number): Fault =>
  typeof value !== 'string'
    ? NOT_STRING
    : value.length > maxLength
      ? ['maxLength', `must be at most ${maxLength} characters long`]
      : null;
const nullableString = (value: unknown, maxLength: number): Fault => (value === null ? null : string(value, maxLength));
const count = (value: unknown): Fault =>
  typeof value !== 'number' || !Number.isInteger(value) ? NOT_INTEGER : value < 0 ? NEGATIVE : null;
export const uuid = (value: unknown): Fault => (typeof value !== 'string' || !UUID.test(value) ? NOT_UUID : null);

/**
 * Collects faults until there are enough to tell. Where one is, is spelled only when there
 * is one: `instances.3.state` in details, `instances[3].state` in messages.
 */
export class Faults {
  readonly details: ErrorDetail[] = [];
  /** Some faults were not listed. */
  cut = false;

  add(fault: Fault, name: string, index?: number, key?: string): void {
    if (fault === null) return;
    if (this.details.length >= MAX_DETAILS) {
      this.cut = true;
      return;
    }
    const [rule, tail] = fault;
    const at = index === undefined ? '' : `.${index}`;
    const where = index === undefined ? '' : `[${index}]`;
    const last = key === undefined ? '' : `.${key}`;
    this.details.push({ field: `${name}${at}${last}`, rule, message: `${name}${where}${last} ${tail}` });
  }

  get full(): boolean {
    return this.details.length >= MAX_DETAILS;
  }
}

function report(faults: Faults, value: unknown, index: number): void {
  const add = (fault: Fault, key: string): void => faults.add(fault, 'instances', index, key);
  if (!isObject(value)) {
    faults.add(NOT_OBJECT, 'instances', index);
    return;
  }
  for (const key of Object.keys(value)) if (!REPORT_FIELDS.has(key)) add(UNKNOWN, key);
  add(uuid(value['id']), 'id');
  add(uuid(value['releaseId']), 'releaseId');
  add(STATES.has(value['state']) ? null : NOT_STATE, 'state');
  add(nullableString(value['containerId'], 64), 'containerId');
  add(nullableString(value['address'], 64), 'address');
  add(count(value['pid']), 'pid');
  add(value['memoryBytes'] === null ? null : count(value['memoryBytes']), 'memoryBytes');
  add(count(value['restartCount']), 'restartCount');
  add(nullableString(value['error'], 2000), 'error');
  const final = value['final'];
  if (final !== undefined && typeof final !== 'boolean') add(['isBoolean', 'must be a boolean'], 'final');
}

function list(faults: Faults, name: string, value: unknown, each: (item: unknown, index: number) => void): void {
  if (!Array.isArray(value)) {
    faults.add(['isArray', 'must be an array'], name);
    return;
  }
  if (value.length > HEARTBEAT_MAX_INSTANCES) {
    faults.add(['arrayMaxSize', `must contain no more than ${HEARTBEAT_MAX_INSTANCES} elements`], name);
    return;
  }
  for (let i = 0; i < value.length; i++) {
    if (faults.full) {
      faults.cut = true;
      return;
    }
    each(value[i], i);
  }
}

/** The body as a HeartbeatRequest, or an invalid_params ApiError listing what is wrong and where. */
export function parseHeartbeat(body: unknown): HeartbeatRequest {
  if (!isObject(body)) {
    throw ApiError.invalidParams('the body must be a JSON object (Content-Type: application/json)');
  }
  const faults = new Faults();
  for (const key of Object.keys(body)) if (!REQUEST_FIELDS.has(key)) faults.add(UNKNOWN, key);
  list(faults, 'instances', body['instances'], (item, i) => report(faults, item, i));
  const { full, gone, desiredVersion, removedVolumes } = body;
  if (full !== undefined && typeof full !== 'boolean') faults.add(['isBoolean', 'must be a boolean'], 'full');
  if (gone !== undefined) list(faults, 'gone', gone, (id, i) => faults.add(uuid(id), 'gone', i));
  if (desiredVersion !== undefined) faults.add(string(desiredVersion, 64), 'desiredVersion');
  if (removedVolumes !== undefined) {
    // an add-on's volume name (entities.ts Addon.volume)
    list(faults, 'removedVolumes', removedVolumes, (volume, i) => faults.add(string(volume, 128), 'removedVolumes', i));
  }
  if (faults.details.length > 0) {
    const more = faults.cut ? `; and more (the first ${MAX_DETAILS} are listed)` : '';
    throw ApiError.invalidParams(faults.details.map((d) => d.message).join('; ') + more, faults.details);
  }
  return body as unknown as HeartbeatRequest;
}

/** `@HeartbeatBody() body: HeartbeatRequest`: the body checked by parseHeartbeat. */
export const HeartbeatBody = (): ParameterDecorator => Body({ transform: parseHeartbeat });
