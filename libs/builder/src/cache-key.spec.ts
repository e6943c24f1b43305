import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { type Instruction, instructions, parse } from '@paas/dockerfile';
import { CACHE_KEY_VERSION, canonicalOperation, stepCacheKey } from './cache-key';
import { canonicalJson } from './canonical-json';

/** The typed instructions of a one-stage Dockerfile body. */
function steps(body: string, buildArgs: Record<string, string> = {}): Instruction[] {
  const stages = instructions(parse(`FROM busybox\n${body}\n`), { buildArgs });
  return [...(stages.stages[0]?.instructions ?? [])];
}
function step(body: string, buildArgs: Record<string, string> = {}): Instruction {
  const all = steps(body, buildArgs);
  const last = all[all.length - 1];
  assert.ok(last);
  return last;
}
const PARENT = 'sha256:' + 'a'.repeat(64);
const OTHER = 'sha256:' + 'b'.repeat(64);

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }),
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
    assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  });
  it('refuses values without a canonical form', () => {
    assert.throws(() => canonicalJson({ n: Number.NaN }));
    assert.throws(() => canonicalJson({ n: 1n }));
  });
});

describe('stepCacheKey', () => {
  it('is a sha256 hex of a versioned canonical body', () => {
    const key = stepCacheKey({ parent: PARENT, instruction: step('RUN echo hi') });
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(CACHE_KEY_VERSION, 1);
  });

  it('is stable across runs and ignores where and how the instruction was written', () => {
    const a = stepCacheKey({ parent: PARENT, instruction: step('RUN echo hi') });
    assert.equal(stepCacheKey({ parent: PARENT, instruction: step('RUN echo hi') }), a);
    // the same instruction on another line, after a comment
    assert.equal(stepCacheKey({ parent: PARENT, instruction: step('# a comment\n\nRUN echo hi') }), a);
    // COPY written as JSON or plain gives the same copy
    const plain = step('COPY a.txt /dst/');
    const json = step('COPY ["a.txt", "/dst/"]');
    assert.equal(
      stepCacheKey({ parent: PARENT, instruction: plain, sources: 'x' }),
      stepCacheKey({ parent: PARENT, instruction: json, sources: 'x' }),
    );
  });

  it("changes with the build's cache scope, and is the scopeless key without one", () => {
    const input = { parent: PARENT, instruction: step('RUN echo hi') };
    const plain = stepCacheKey(input);
    assert.equal(stepCacheKey({ ...input, scope: '' }), plain);
    // the key the CLI's builds have had: a scope must not move them
    assert.equal(
      plain,
      createHash('sha256')
        .update(canonicalJson({ v: 1, parent: PARENT, op: canonicalOperation(input.instruction), args: {} }))
        .digest('hex'),
    );
    const a = stepCacheKey({ ...input, scope: 'app-a' });
    assert.notEqual(a, plain);
    assert.notEqual(stepCacheKey({ ...input, scope: 'app-b' }), a);
    assert.equal(stepCacheKey({ ...input, scope: 'app-a' }), a);
  });

  it('changes with the parent, the instruction text after substitution, and the version of the cache', () => {
    const base = stepCacheKey({ parent: PARENT, instruction: step('ENV A=1') });
    assert.notEqual(stepCacheKey({ parent: OTHER, instruction: step('ENV A=1') }), base);
    assert.notEqual(stepCacheKey({ parent: undefined, instruction: step('ENV A=1') }), base);
    assert.notEqual(stepCacheKey({ parent: PARENT, instruction: step('ENV A=2') }), base);
    // substitution: the same text with another ARG value is another step
    const v1 = step('ARG V=1\nENV A=$V');
    const v2 = step('ARG V=1\nENV A=$V', { V: '2' });
    assert.notEqual(
      stepCacheKey({ parent: PARENT, instruction: v1 }),
      stepCacheKey({ parent: PARENT, instruction: v2 }),
    );
    assert.equal(stepCacheKey({ parent: PARENT, instruction: v1 }), base);
  });

  it('includes the build args in effect for RUN only', () => {
    const run = step('RUN echo hi');
    assert.notEqual(
      stepCacheKey({ parent: PARENT, instruction: run, args: { A: '1' } }),
      stepCacheKey({ parent: PARENT, instruction: run, args: { A: '2' } }),
    );
    assert.equal(
      stepCacheKey({ parent: PARENT, instruction: run, args: { A: '1', B: '2' } }),
      stepCacheKey({ parent: PARENT, instruction: run, args: { B: '2', A: '1' } }),
    );
    const env = step('ENV X=1');
    assert.equal(
      stepCacheKey({ parent: PARENT, instruction: env, args: { A: '1' } }),
      stepCacheKey({ parent: PARENT, instruction: env, args: { A: '2' } }),
    );
  });

  it('includes the content hash of copied files and the image copied from', () => {
    const copy = step('COPY a.txt /a.txt');
    const k = (sources?: string, from?: string) =>
      stepCacheKey({ parent: PARENT, instruction: copy, ...(sources ? { sources } : {}), ...(from ? { from } : {}) });
    assert.notEqual(k('1'), k('2'));
    assert.notEqual(k(undefined, PARENT), k(undefined, OTHER));
    // flags that change the result are part of the operation
    const chown = step('COPY --chown=1:1 a.txt /a.txt');
    const chmod = step('COPY --chmod=600 a.txt /a.txt');
    assert.notEqual(stepCacheKey({ parent: PARENT, instruction: chown, sources: '1' }), k('1'));
    assert.notEqual(stepCacheKey({ parent: PARENT, instruction: chmod, sources: '1' }), k('1'));
  });

  it('drops only the fields that cannot change the result', () => {
    const op = canonicalOperation(step('COPY --from=build --chown=1 a /b'));
    assert.equal(op['location'], undefined);
    assert.equal(op['original'], undefined);
    assert.equal(op['from'], undefined);
    assert.equal(op['json'], undefined);
    assert.equal(op['chown'], '1');
    assert.deepEqual(op['sources'], ['a']);
    assert.equal(op['dest'], '/b');
  });
});
