import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKOFF_CAP_MS, BACKOFF_FIRST_MS, needsCertificate, nextAttempt, renewAt } from './acme-policy';

const DAY = 86_400_000;
const t0 = new Date('2026-12-01T00:00:00Z');
const at = (ms: number): Date => new Date(t0.getTime() + ms);

describe('ACME renewal policy', () => {
  it('renews at two thirds of the lifetime: day 60 of 90, second 40 of 60', () => {
    assert.deepEqual(renewAt(t0, at(90 * DAY)), at(60 * DAY));
    assert.deepEqual(renewAt(t0, at(60_000)), at(40_000));
    assert.throws(() => renewAt(t0, t0), /lifetime is not positive/);
    assert.throws(() => renewAt(at(DAY), t0), /lifetime is not positive/);
  });

  it('backs off from 1 minute, doubling to a 6 hour cap, jittered within the second half of each step', () => {
    const wait = (failures: number, random: number): number =>
      nextAttempt(failures, t0, () => random).getTime() - t0.getTime();
    assert.equal(wait(1, 0), BACKOFF_FIRST_MS / 2);
    assert.ok(wait(1, 0.999) < BACKOFF_FIRST_MS && wait(1, 0.999) > BACKOFF_FIRST_MS * 0.99);
    assert.equal(wait(2, 0), BACKOFF_FIRST_MS);
    assert.equal(wait(3, 0), 2 * BACKOFF_FIRST_MS);
    assert.equal(wait(9, 0), (256 * BACKOFF_FIRST_MS) / 2, '2^8 minutes is within the cap');
    assert.equal(wait(10, 0), BACKOFF_CAP_MS / 2, '2^9 minutes is past it');
    assert.equal(wait(1000, 0.5), BACKOFF_CAP_MS * 0.75, 'no overflow far out');
    for (let failures = 1; failures < 20; failures++) {
      assert.ok(wait(failures + 1, 0) >= wait(failures, 0), `the least wait never shrinks (${failures})`);
      assert.ok(wait(failures, 0.999_999) <= BACKOFF_CAP_MS, `capped (${failures})`);
    }
    const spread = new Set(Array.from({ length: 20 }, () => nextAttempt(4, t0).getTime()));
    assert.ok(spread.size > 1, 'Math.random jitters by default');
    assert.throws(() => nextAttempt(0, t0), /positive integer, not 0/);
    assert.throws(() => nextAttempt(1.5, t0), /positive integer/);
  });

  it('says why a domain needs a certificate, and null while its own is good', () => {
    const held = { names: ['shop.example.com', '*.cdn.example.com'], notBefore: t0, notAfter: at(90 * DAY) };
    assert.equal(needsCertificate('shop.example.com', undefined, t0), 'missing');
    assert.equal(needsCertificate('shop.example.com', held, at(DAY)), null);
    assert.equal(needsCertificate('SHOP.example.com', held, at(DAY)), null, 'names match without case');
    assert.equal(needsCertificate('img.cdn.example.com', held, at(DAY)), null, 'a wildcard covers one label');
    assert.equal(needsCertificate('a.b.cdn.example.com', held, at(DAY)), 'uncovered', 'not two');
    assert.equal(needsCertificate('cdn.example.com', held, at(DAY)), 'uncovered', 'nor none');
    assert.equal(needsCertificate('blog.example.com', held, at(DAY)), 'uncovered');
    assert.equal(needsCertificate('shop.example.com', held, at(60 * DAY - 1)), null);
    assert.equal(needsCertificate('shop.example.com', held, at(60 * DAY)), 'renewal-due');
    assert.equal(needsCertificate('shop.example.com', held, at(90 * DAY)), 'expired');
  });
});
