import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { App, Certificate, Domain } from '../model/entities';
import { suiteDatabase } from '../testing/databases';
import { suiteRedis } from '../testing/redis';
import { makeTestPki } from '../testing/test-pki';
import { CertTableKeeper, RedisCertTable, publishedCerts, servingCerts } from './publish';

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

describe('CertTableKeeper', () => {
  const redis = suiteRedis('paas-cert-keeper-');
  const db = suiteDatabase('sqlite');
  let ds: DataSource;
  before(() => {
    ds = db();
  });

  it('writes the table at its first keep, again once it was lost, and puts right what differs at each sync', async () => {
    const app = { id: '00000000-0000-4000-8000-000000000001', name: 'shop' };
    await ds.manager.insert(App, app);
    await ds.manager.insert(Domain, { id: app.id, appId: app.id, hostname: 'www.shop.test' });
    const chain = (await makeTestPki()).root.cert;
    const row = { ...cert(app.id, ['www.shop.test'], 0), appId: app.id, chain, createdAt: new Date() };
    await ds.manager.insert(Certificate, {
      ...row,
      key: 'v1:AAAA',
      source: 'manual',
      issuer: 'CN=x',
      notBefore: now.toISOString(),
      notAfter: new Date(Date.now() + 90 * DAY).toISOString(),
      fingerprint: 'AB',
    });
    const table = new RedisCertTable(redis());
    const warnings: string[] = [];
    let clock = 0;
    const keeper = new CertTableKeeper(
      ds.manager,
      table,
      (w) => warnings.push(w),
      1000,
      () => clock,
    );
    const entry = async () => (await table.read()).get('shop')?.map((c) => [c.id, c.domains]);
    await keeper.keep();
    assert.deepEqual(await entry(), [[app.id, ['www.shop.test']]]);
    assert.deepEqual(warnings, [], 'a first write is not news');
    // another api's write moves the version up: nothing to do
    await table.set('other', []);
    await keeper.keep();
    assert.deepEqual([...(await table.read()).keys()].sort(), ['other', 'shop']);
    await redis().flushall();
    await keeper.keep();
    assert.deepEqual(await entry(), [[app.id, ['www.shop.test']]]);
    assert.match(warnings.splice(0).join('\n'), /the certificate table was lost .*writing 1 apps' certificates again/);
    // an entry that differs (a publish that failed), and one with nothing to serve
    await table.set('shop', []);
    await table.set('stale', []);
    await keeper.keep();
    assert.deepEqual(await entry(), [], 'not before the next sync');
    clock = 1000;
    await keeper.keep();
    assert.deepEqual(await entry(), [[app.id, ['www.shop.test']]]);
    assert.deepEqual([...(await table.read()).keys()], ['shop']);
    assert.equal(warnings.length, 2, warnings.join('\n'));
  });
});
