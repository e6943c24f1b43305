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
const MAX_DETAILS = 20;

const REQUEST_FIELDS = new Set(['instances', 'full', 'gone', 'desiredVersion']);
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
] satisfies (keyof InstanceReport)[]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects faults until there are enough to tell. */
class Faults {
  readonly details: ErrorDetail[] = [];
  /** Some faults were not listed. */
  cut = false;

  add(field: string, rule: string, message: string): void {
    if (this.details.length < MAX_DETAILS) this.details.push({ field, rule, message });
    else this.cut = true;
  }

  get full(): boolean {
    return this.details.length >= MAX_DETAILS;
  }
}

/** `where` names the field in messages, `field` in details. */
interface At {
  readonly field: string;
  readonly where: string;
}

function string(faults: Faults, at: At, value: unknown, maxLength: number): void {
  if (typeof value !== 'string') faults.add(at.field, 'isString', `${at.where} must be a string`);
  else if (value.length > maxLength) {
    faults.add(at.field, 'maxLength', `${at.where} must be at most ${maxLength} characters long`);
  }
}

function count(faults: Faults, at: At, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    faults.add(at.field, 'isInt', `${at.where} must be an integer`);
  } else if (value < 0) faults.add(at.field, 'min', `${at.where} must not be less than 0`);
}

function uuid(faults: Faults, at: At, value: unknown): void {
  if (typeof value !== 'string' || !UUID.test(value)) faults.add(at.field, 'matches', `${at.where} must be a UUID`);
}

function nullable(value: unknown, check: () => void): void {
  if (value !== null) check();
}

function unknownFields(
  faults: Faults,
  value: Record<string, unknown>,
  known: Set<string>,
  at: (key: string) => At,
): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      const { field, where } = at(key);
      faults.add(field, 'unknownField', `${where} is not a known field`);
    }
  }
}

function report(faults: Faults, value: unknown, index: number): void {
  const at = (key: string): At => ({ field: `instances.${index}.${key}`, where: `instances[${index}].${key}` });
  if (!isObject(value)) {
    faults.add(`instances.${index}`, 'nestedValidation', `instances[${index}] must be an object`);
    return;
  }
  unknownFields(faults, value, REPORT_FIELDS, at);
  uuid(faults, at('id'), value['id']);
  uuid(faults, at('releaseId'), value['releaseId']);
  if (!STATES.has(value['state'])) {
    faults.add(at('state').field, 'isIn', `${at('state').where} must be one of ${REPORTED_STATES.join(', ')}`);
  }
  nullable(value['containerId'], () => string(faults, at('containerId'), value['containerId'], 64));
  nullable(value['address'], () => string(faults, at('address'), value['address'], 64));
  count(faults, at('pid'), value['pid']);
  nullable(value['memoryBytes'], () => count(faults, at('memoryBytes'), value['memoryBytes']));
  count(faults, at('restartCount'), value['restartCount']);
  nullable(value['error'], () => string(faults, at('error'), value['error'], 2000));
}

function list(faults: Faults, name: string, value: unknown, each: (item: unknown, index: number) => void): void {
  if (!Array.isArray(value)) {
    faults.add(name, 'isArray', `${name} must be an array`);
    return;
  }
  if (value.length > HEARTBEAT_MAX_INSTANCES) {
    faults.add(name, 'arrayMaxSize', `${name} must contain no more than ${HEARTBEAT_MAX_INSTANCES} elements`);
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
  unknownFields(faults, body, REQUEST_FIELDS, (key) => ({ field: key, where: key }));
  list(faults, 'instances', body['instances'], (item, i) => report(faults, item, i));
  const { full, gone, desiredVersion } = body;
  if (full !== undefined && typeof full !== 'boolean') faults.add('full', 'isBoolean', 'full must be a boolean');
  if (gone !== undefined) {
    list(faults, 'gone', gone, (id, i) => uuid(faults, { field: `gone.${i}`, where: `gone[${i}]` }, id));
  }
  if (desiredVersion !== undefined)
    string(faults, { field: 'desiredVersion', where: 'desiredVersion' }, desiredVersion, 64);
  if (faults.details.length > 0) {
    const more = faults.cut ? `; and more (the first ${MAX_DETAILS} are listed)` : '';
    throw ApiError.invalidParams(faults.details.map((d) => d.message).join('; ') + more, faults.details);
  }
  return body as unknown as HeartbeatRequest;
}

/** `@HeartbeatBody() body: HeartbeatRequest`: the body checked by parseHeartbeat. */
export const HeartbeatBody = (): ParameterDecorator => Body({ transform: parseHeartbeat });
