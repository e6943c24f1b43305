import { HEARTBEAT_MAX_INSTANCES } from '@paas/platform';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { ApiError } from '../common/api-error';
import { parseHeartbeat } from './heartbeat-body';

const report = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: randomUUID(),
  releaseId: randomUUID(),
  state: 'up',
  containerId: 'c0ffee',
  address: '10.0.0.2:32768',
  pid: 42,
  memoryBytes: 1024,
  restartCount: 0,
  error: null,
  ...over,
});

/** The ApiError parseHeartbeat throws for `body`. */
function refused(body: unknown): ApiError {
  try {
    parseHeartbeat(body);
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.code, 'invalid_params');
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(body).slice(0, 200)}`);
}

const faults = (err: ApiError): string[] => (err.details ?? []).map((d) => `${d.field} ${d.rule}`);

describe('parseHeartbeat', () => {
  it('lets a well-formed heartbeat through as it is', () => {
    const bodies = [
      { instances: [] },
      { instances: [report(), report({ containerId: null, address: null, memoryBytes: null, pid: 0 })] },
      { instances: [report({ state: 'crashed', error: 'exited with code 1' })], full: false, gone: [randomUUID()] },
      { instances: [], full: true, desiredVersion: 'v'.repeat(64) },
    ];
    for (const body of bodies) assert.equal(parseHeartbeat(body), body);
  });

  it('names the report and the field that is wrong, and the rule it breaks', () => {
    const cases: [string, Record<string, unknown>, string, string][] = [
      ['an unknown state', { state: 'running' }, 'state isIn', 'must be one of starting, up, crashed, stopping'],
      ['a state of another type', { state: 1 }, 'state isIn', 'must be one of'],
      ['an id that is no UUID', { id: 'web.1' }, 'id matches', 'must be a UUID'],
      ['a missing releaseId', { releaseId: undefined }, 'releaseId matches', 'must be a UUID'],
      ['a pid as a string', { pid: '42' }, 'pid isInt', 'must be an integer'],
      ['a fractional pid', { pid: 4.2 }, 'pid isInt', 'must be an integer'],
      ['a negative restart count', { restartCount: -1 }, 'restartCount min', 'must not be less than 0'],
      ['a null pid', { pid: null }, 'pid isInt', 'must be an integer'],
      ['memory as a string', { memoryBytes: '1k' }, 'memoryBytes isInt', 'must be an integer'],
      ['a container id as a number', { containerId: 7 }, 'containerId isString', 'must be a string'],
      ['a missing address', { address: undefined }, 'address isString', 'must be a string'],
      ['a huge address', { address: 'a'.repeat(65) }, 'address maxLength', 'must be at most 64 characters long'],
      ['a huge error', { error: 'e'.repeat(2001) }, 'error maxLength', 'must be at most 2000 characters long'],
      ['an unknown field', { cpu: 1 }, 'cpu unknownField', 'is not a known field'],
    ];
    for (const [what, over, fault, message] of cases) {
      const body = { instances: [report(), report(), report(), report(over)] };
      const err = refused(JSON.parse(JSON.stringify(body)));
      assert.deepEqual(faults(err), [`instances.3.${fault}`], what);
      const field = fault.split(' ')[0] ?? '';
      assert.ok(err.message.startsWith(`instances[3].${field} ${message}`), `${what}: ${err.message}`);
    }
  });

  it('refuses what is not a list of reports, and more than the protocol allows', () => {
    assert.deepEqual(faults(refused({})), ['instances isArray']);
    assert.deepEqual(faults(refused({ instances: report() })), ['instances isArray']);
    assert.deepEqual(faults(refused({ instances: [report(), 'up', null] })), [
      'instances.1 nestedValidation',
      'instances.2 nestedValidation',
    ]);
    const many = Array.from({ length: HEARTBEAT_MAX_INSTANCES + 1 }, () => report());
    assert.deepEqual(faults(refused({ instances: many })), ['instances arrayMaxSize']);
    const gone = Array.from({ length: HEARTBEAT_MAX_INSTANCES + 1 }, () => randomUUID());
    assert.deepEqual(faults(refused({ instances: [], gone })), ['gone arrayMaxSize']);
    assert.equal(parseHeartbeat({ instances: many.slice(1), gone: gone.slice(1) }).instances.length, many.length - 1);
  });

  it('checks the other fields, which are optional but never null', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ full: 'no' }, 'full isBoolean'],
      [{ full: null }, 'full isBoolean'],
      [{ desiredVersion: 7 }, 'desiredVersion isString'],
      [{ desiredVersion: 'v'.repeat(65) }, 'desiredVersion maxLength'],
      [{ gone: randomUUID() }, 'gone isArray'],
      [{ gone: null }, 'gone isArray'],
      [{ gone: [randomUUID(), 'web.1'] }, 'gone.1 matches'],
      [{ lost: [] }, 'lost unknownField'],
    ];
    for (const [fields, fault] of cases) assert.deepEqual(faults(refused({ instances: [], ...fields })), [fault]);
    assert.deepEqual(faults(refused({ instances: [{ ...report(), final: 'yes' }] })), ['instances.0.final isBoolean']);
    assert.equal(parseHeartbeat({ instances: [{ ...report(), final: true }] }).instances[0]?.final, true);
    assert.match(refused({ instances: [], gone: [7] }).message, /^gone\[0\] must be a UUID$/);
  });

  it('refuses a body that is no object, and lists only the first faults of a body full of them', () => {
    for (const body of [null, [], 'instances', 7]) {
      assert.match(refused(body).message, /the body must be a JSON object/);
    }
    const err = refused({ instances: Array.from({ length: 1000 }, () => report({ state: 'running' })) });
    assert.equal(err.details?.length, 20);
    assert.equal(err.details?.[19]?.field, 'instances.19.state');
    assert.match(err.message, /and more \(the first 20 are listed\)$/);
  });
});
