import {
  AcmeAccount,
  AcmeProblemError,
  App,
  ensureAccountKey,
  Certificate,
  Domain,
  type ObtainedCertificate,
  renewAt,
  unseal,
} from '@paas/platform';
import { TEST_DATABASES, type TestPki, makeTestPki, suiteDatabase } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes, randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { DataSource, EntityManager } from 'typeorm';
import { AcmeIssuer, type AcmeOrders } from './acme-issuer';
import { databaseAccountKeys } from './acme-orders';

const T0 = new Date('2026-12-06T18:00:00.000Z');

/** An ACME server's part played by a test PKI: each order answered by `answer`, one at a time or not. */
function fakeOrders(pki: TestPki, clock: () => Date) {
  const orders: string[][] = [];
  let inFlight = 0;
  let most = 0;
  const state = {
    orders,
    most: () => most,
    answer: async (domains: readonly string[], _signal: AbortSignal): Promise<ObtainedCertificate> => {
      const leaf = await pki.leaf(domains, clock());
      const cert = new X509Certificate(leaf.cert);
      return {
        // as an ACME server sends it: PEM blocks, each ending in a newline
        certPem: `${leaf.cert.trimEnd()}\n${pki.intermediate.cert.trimEnd()}\n`,
        keyPem: leaf.key,
        notBefore: new Date(cert.validFrom),
        notAfter: new Date(cert.validTo),
      };
    },
  };
  const role: AcmeOrders = {
    obtain: async (domains, signal) => {
      orders.push([...domains]);
      most = Math.max(most, ++inFlight);
      try {
        await new Promise((resolve) => setImmediate(resolve));
        return await state.answer(domains, signal);
      } finally {
        inFlight--;
      }
    },
  };
  return { ...state, role, set: (answer: typeof state.answer) => (state.answer = answer) };
}

for (const kind of TEST_DATABASES) {
  describe(`the ACME issuer on ${kind}`, () => {
    const db = suiteDatabase(kind);
    let ds: DataSource;
    let pki: TestPki;
    const sealingKey = randomBytes(32);
    before(async () => {
      pki = await makeTestPki();
      ds = db();
    });

    async function setup(apps: Record<string, { auto: boolean; domains: string[] }>) {
      const ids: Record<string, string> = {};
      // each test's apps alone are auto
      await ds.manager.createQueryBuilder().update(App).set({ certsAuto: false }).execute();
      for (const [name, { auto, domains }] of Object.entries(apps)) {
        const id = randomUUID();
        ids[name] = id;
        await ds.manager.insert(App, { id, name: `${name}-${id.slice(0, 8)}`, certsAuto: auto });
        for (const hostname of domains) await ds.manager.insert(Domain, { id: randomUUID(), appId: id, hostname });
      }
      let now = T0;
      const clock = () => now;
      const orders = fakeOrders(pki, clock);
      const published: string[] = [];
      const lines: string[] = [];
      let fenced = false;
      const fence = async (_em: EntityManager) => {
        if (fenced) throw new Error('another api took office');
      };
      const issuer = new AcmeIssuer(
        ds,
        fence,
        () => sealingKey,
        orders.role,
        {
          published: async (appId) => void published.push(appId),
          log: async (_appId, line) => void lines.push(line),
          warn: (line) => lines.push(`warn ${line}`),
        },
        clock,
        () => 0.5,
      );
      const domain = (hostname: string) => ds.manager.findOneByOrFail(Domain, { hostname });
      const certs = (appId: string) => ds.manager.find(Certificate, { where: { appId } });
      return {
        ids,
        issuer,
        orders,
        published,
        lines,
        domain,
        certs,
        at: (date: Date) => (now = date),
        fence: (on: boolean) => (fenced = on),
      };
    }

    const host = (label: string) => `${label}.${randomBytes(3).toString('hex')}.test`;

    it('orders one certificate per domain of the auto apps, one at a time, stored sealed as source acme and published', async () => {
      const [a, b, c] = [host('a'), host('b'), host('other')];
      const s = await setup({ shop: { auto: true, domains: [a, b] }, other: { auto: false, domains: [c] } });
      assert.equal(await s.issuer.round(), 2, s.lines.join('\n'));
      assert.deepEqual(s.orders.orders.map((o) => o[0]).sort(), [a, b].sort());
      assert.equal(s.orders.most(), 1, 'one order at a time');
      const stored = await s.certs(s.ids['shop'] as string);
      assert.deepEqual(stored.map((c) => c.names[0]).sort(), [a, b].sort(), s.lines.join('\n'));
      for (const cert of stored) {
        assert.equal(cert.source, 'acme');
        assert.match(cert.key, /^v1:/);
        const key = unseal(sealingKey, cert.key, cert.id);
        assert.ok(new X509Certificate(cert.chain).checkPrivateKey((await import('node:crypto')).createPrivateKey(key)));
        const d = await s.domain(cert.names[0] as string);
        assert.equal(d.acmeState, 'issued');
        assert.equal(d.acmeProblem, null);
        assert.equal(d.acmeNextAttemptAt, renewAt(new Date(cert.notBefore), new Date(cert.notAfter)).toISOString());
      }
      assert.deepEqual(s.published, [s.ids['shop'], s.ids['shop']]);
      assert.equal((await s.domain(c)).acmeState, null, 'an app without certsAuto is left alone');
      assert.equal(await s.issuer.round(), 0, 'nothing is due until the renewal time');
    });

    it('records a failure with the problem document and tries again only after the back-off', async () => {
      const d = host('fails');
      const s = await setup({ shop: { auto: true, domains: [d] } });
      const problem = {
        type: 'urn:ietf:params:acme:error:connection',
        detail: `1 of 1 authorizations failed: ${d}: connection refused`,
        status: 400,
        subproblems: [{ identifier: d, type: 'urn:ietf:params:acme:error:connection', detail: 'connection refused' }],
      };
      const good = s.orders.answer;
      s.orders.set(async () => {
        throw new AcmeProblemError(problem);
      });
      assert.equal(await s.issuer.round(), 1);
      let row = await s.domain(d);
      assert.equal(row.acmeState, 'failed');
      assert.deepEqual(row.acmeProblem, problem);
      assert.equal(row.acmeAttempts, 1);
      assert.equal(row.acmeLastAttemptAt, T0.toISOString());
      // nextAttempt(1) with random 0.5: 30 s + 15 s
      assert.equal(row.acmeNextAttemptAt, new Date(T0.getTime() + 45_000).toISOString());
      assert.match(s.lines.join('\n'), /not obtained \(attempt 1\): 1 of 1 authorizations failed/);
      assert.equal(await s.issuer.round(), 0, 'not before its next attempt');
      s.at(new Date(T0.getTime() + 45_000));
      assert.equal(await s.issuer.round(), 1);
      row = await s.domain(d);
      assert.equal(row.acmeAttempts, 2);
      // nextAttempt(2): 60 s + 30 s
      assert.equal(row.acmeNextAttemptAt, new Date(T0.getTime() + 45_000 + 90_000).toISOString());
      s.orders.set(good);
      s.at(new Date(T0.getTime() + 135_000));
      assert.equal(await s.issuer.round(), 1);
      row = await s.domain(d);
      assert.deepEqual([row.acmeState, row.acmeProblem, row.acmeAttempts], ['issued', null, 0]);
    });

    it('renews at two thirds of the lifetime, the new certificate replacing the one it renews', async () => {
      const d = host('renew');
      const s = await setup({ shop: { auto: true, domains: [d] } });
      assert.equal(await s.issuer.round(), 1);
      const [first] = await s.certs(s.ids['shop'] as string);
      assert.ok(first);
      const renewal = renewAt(new Date(first.notBefore), new Date(first.notAfter));
      s.at(new Date(renewal.getTime() - 1000));
      assert.equal(await s.issuer.round(), 0);
      s.at(renewal);
      assert.equal(await s.issuer.round(), 1);
      const after = await s.certs(s.ids['shop'] as string);
      assert.equal(after.length, 1, 'the renewed certificate takes the old one’s place');
      assert.notEqual(after[0]?.id, first.id);
      const row = await s.domain(d);
      assert.equal(row.acmeState, 'issued');
      assert.ok(Date.parse(row.acmeNextAttemptAt ?? '') > renewal.getTime());
    });

    it('writes nothing once its term is over, and leaves an order cut short due again without a certificate', async () => {
      const d = host('fenced');
      const s = await setup({ shop: { auto: true, domains: [d] } });
      s.fence(true);
      await assert.rejects(s.issuer.round(), /another api took office/);
      assert.equal(s.orders.orders.length, 0, 'no order without office');
      assert.equal((await s.domain(d)).acmeState, null);
      s.fence(false);
      // the term ends while the order is under way
      const good = s.orders.answer;
      s.orders.set(async (domains, signal) => {
        s.fence(true);
        return good(domains, signal);
      });
      await assert.rejects(s.issuer.round(), /another api took office/);
      let row = await s.domain(d);
      assert.equal(row.acmeState, 'issuing');
      assert.equal(row.acmeNextAttemptAt, T0.toISOString(), 'due at once for the next leader');
      assert.deepEqual(await s.certs(s.ids['shop'] as string), []);
      // an api that stops mid-order
      s.fence(false);
      s.orders.set(
        (_domains, signal) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
      );
      s.issuer.poke();
      while (s.orders.orders.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      await s.issuer.stop();
      row = await s.domain(d);
      assert.deepEqual([row.acmeState, row.acmeAttempts], ['issuing', 2]);
      assert.deepEqual(await s.certs(s.ids['shop'] as string), []);
      assert.ok(!s.lines.some((l) => l.startsWith('warn')), s.lines.join('\n'));
    });

    it('keeps one ACME account key per directory: replicas racing to make it all use the first saved', async () => {
      const directory = `https://acme.${randomBytes(3).toString('hex')}.test/dir`;
      const keys = await Promise.all(
        [1, 2, 3].map(() => ensureAccountKey(databaseAccountKeys(ds, directory), sealingKey, directory)),
      );
      assert.equal(new Set(keys).size, 1, 'one key');
      assert.match(keys[0] ?? '', /^-----BEGIN PRIVATE KEY-----/);
      const rows = await ds.manager.find(AcmeAccount, { where: { directoryUrl: directory } });
      assert.equal(rows.length, 1);
      assert.match(rows[0]?.key ?? '', /^v1:/, 'kept sealed');
      assert.equal(await ensureAccountKey(databaseAccountKeys(ds, directory), sealingKey, directory), keys[0]);
      const other = await ensureAccountKey(databaseAccountKeys(ds, `${directory}2`), sealingKey, `${directory}2`);
      assert.notEqual(other, keys[0], 'another directory, another account');
    });
  });
}
