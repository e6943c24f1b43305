import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { publishedCerts, servingCerts } from './publish';

const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00Z');

function cert(id: string, names: string[], createdDaysAgo: number, expiresInDays = 90) {
  return {
    id,
    names,
    chain: `chain-${id}`,
    key: `v1:${id}`,
    notAfter: new Date(now.getTime() + expiresInDays * DAY).toISOString(),
    createdAt: new Date(now.getTime() - createdDaysAgo * DAY),
  };
}

describe('which certificate serves each domain', () => {
  it('is the newest covering one; older ones keep the domains the newer do not cover', () => {
    const certs = [cert('old', ['*.shop.test', 'shop.test'], 10), cert('new', ['www.shop.test'], 1)];
    const domains = ['www.shop.test', 'api.shop.test', 'shop.test', 'a.b.shop.test'];
    assert.deepEqual(
      [...servingCerts(certs, domains, now)],
      [
        ['api.shop.test', 'old'],
        ['shop.test', 'old'],
        ['www.shop.test', 'new'],
      ],
    );
    assert.deepEqual(publishedCerts(certs, domains, now), [
      {
        id: 'old',
        domains: ['api.shop.test', 'shop.test'],
        cert: 'chain-old',
        key: 'v1:old',
        notAfter: certs[0]?.notAfter,
      },
      { id: 'new', domains: ['www.shop.test'], cert: 'chain-new', key: 'v1:new', notAfter: certs[1]?.notAfter },
    ]);
  });

  it('is never an expired one, and a certificate serving nothing is not published', () => {
    const certs = [cert('valid', ['www.shop.test'], 10), cert('expired', ['www.shop.test'], 1, -1)];
    assert.deepEqual(
      publishedCerts(certs, ['www.shop.test'], now).map((c) => c.id),
      ['valid'],
    );
    assert.deepEqual(publishedCerts(certs, ['other.test'], now), []);
    assert.deepEqual(publishedCerts([certs[1] as ReturnType<typeof cert>], ['www.shop.test'], now), []);
  });

  it('between two made at once, is the one that lasts longer', () => {
    const certs = [cert('short', ['a.test'], 1, 30), cert('long', ['a.test'], 1, 300)];
    assert.deepEqual([...servingCerts(certs, ['a.test'], now)], [['a.test', 'long']]);
  });
});
