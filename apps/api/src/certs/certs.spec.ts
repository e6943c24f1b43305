import { Certificate, issueToken, loadSealingKey, sealingKeyFile, unseal } from '@paas/platform';
import { CERTS_KEY, MAX_CERTS_PER_APP, readAppCerts } from '@paas/platform/certs';
import { TEST_DATABASES, type TestPki, makeTestPki } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { In } from 'typeorm';
import { SchedulerService } from '../scheduler/scheduler.service';
import { appNamed, createApp } from '../testing/fixtures';
import { type Answer, type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';

/** The base64 lines of a PEM key: what must never show up anywhere. */
function keyLines(pem: string): string[] {
  return pem.split('\n').filter((l) => l.length > 16 && !l.startsWith('-----'));
}

function assertNoKey(text: string, pem: string, where: string): void {
  for (const line of keyLines(pem)) assert.ok(!text.includes(line), `${where} holds the private key`);
  assert.ok(!/PRIVATE KEY|v1:[A-Za-z0-9+/]{20}/.test(text), `${where} holds a key`);
}

for (const kind of TEST_DATABASES) {
  describe(`certs on ${kind}`, () => {
    let api: TestApi;
    let pki: TestPki;
    let dir: string;
    let tenant: string;
    const path = '/api/apps/shop/certs';
    const keys: string[] = [];
    const answers: Answer[] = [];
    const call = async (method: string, url: string, options?: Parameters<TestApi['request']>[2]): Promise<Answer> => {
      const res = await api.request(method, url, options);
      answers.push(res);
      return res;
    };
    const upload = async (names: string[], chain = true): Promise<{ res: Answer; key: string; cert: string }> => {
      const leaf = await pki.leaf(names);
      keys.push(leaf.key);
      const cert = chain ? pki.chain(leaf) : leaf.cert;
      return { res: await call('POST', path, { body: { cert, key: leaf.key } }), key: leaf.key, cert: leaf.cert };
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'paas-certs-'));
      pki = await makeTestPki();
      writeFileSync(join(dir, 'roots.pem'), pki.root.cert);
      api = await startTestApi(kind, { PAAS_DOMAIN: 'paas.test', PAAS_CERTS_TRUSTED_CA_FILE: join(dir, 'roots.pem') });
      await createApp(api, 'shop');
      await createApp(api, 'other');
      for (const hostname of ['www.shop.test', 'api.shop.test'])
        await api.request('POST', '/api/apps/shop/domains', { body: { hostname } });
      await api.request('POST', '/api/apps/other/domains', { body: { hostname: 'other.test' } });
      tenant = (await issueToken(api.dataSource.manager, { name: 'tenant', apps: ['other'] })).token;
    });
    after(async () => {
      await api?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('stores an uploaded certificate with its key sealed, answers without the key, and publishes it', async () => {
      const { res, key, cert } = await upload(['www.shop.test', '*.shop.test']);
      assert.equal(res.status, 201, res.text);
      const x = new X509Certificate(cert);
      assert.deepEqual(
        { ...res.body, id: undefined, createdAt: undefined },
        {
          id: undefined,
          createdAt: undefined,
          names: ['www.shop.test', '*.shop.test'],
          domains: ['api.shop.test', 'www.shop.test'],
          serving: ['api.shop.test', 'www.shop.test'],
          issuer: 'CN=paas test intermediate',
          notBefore: new Date(x.validFrom).toISOString(),
          notAfter: new Date(x.validTo).toISOString(),
          source: 'manual',
          fingerprint: x.fingerprint256,
          replaces: [],
          overridesAuto: [],
        },
      );
      const row = await api.dataSource.manager.findOneByOrFail(Certificate, { id: res.body.id });
      assert.match(row.key, /^v1:/);
      const file = sealingKeyFile(api.root);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(unseal(loadSealingKey(file), row.key, row.id).trim(), key.trim(), 'sealed for its own id');
      assert.throws(() => unseal(loadSealingKey(file), row.key, 'another-id'));
      const { certs } = await readAppCerts(api.redis, 'shop');
      assert.deepEqual(certs, [
        {
          id: row.id,
          domains: ['api.shop.test', 'www.shop.test'],
          cert: row.chain,
          key: row.key,
          notAfter: row.notAfter,
        },
      ]);
      const list = await call('GET', path);
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.map((c: { id: string; serving: string[] }) => [c.id, c.serving]),
        [[row.id, ['api.shop.test', 'www.shop.test']]],
      );
      const one = await call('GET', `${path}/${row.id}`);
      assert.equal(one.status, 200);
      assert.equal(one.body.fingerprint, x.fingerprint256);
    });

    it('refuses what does not validate with a 400 naming the field and what is wrong, storing nothing', async () => {
      const leaf = await pki.leaf(['www.shop.test']);
      const other = await pki.leaf(['www.shop.test']);
      const far = await pki.leaf(['www.elsewhere.test']);
      keys.push(leaf.key, other.key, far.key);
      const cases: [unknown, string, RegExp][] = [
        [
          { cert: pki.chain(leaf), key: other.key },
          'key',
          /key: is not the key of certificate 1 \(CN=www\.shop\.test\)/,
        ],
        [{ cert: leaf.cert, key: leaf.key }, 'cert', /the chain is incomplete: certificate 1/],
        [
          { cert: pki.chain(far), key: far.key },
          'cert',
          /cover none of the app's domains \(api\.shop\.test, www\.shop\.test\)/,
        ],
        [{ cert: 'garbage', key: leaf.key }, 'cert', /not a PEM certificate/],
        [{ cert: leaf.key, key: leaf.key }, 'cert', /holds a private key/],
        [{ cert: pki.chain(leaf) }, 'key', /key must be a string/],
        [{ cert: pki.chain(leaf), key: 'x'.repeat(17 * 1024) }, 'key', /at most 16 KiB/],
      ];
      const before = await api.dataSource.manager.count(Certificate);
      for (const [body, field, message] of cases) {
        const res = await call('POST', path, { body });
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.code, 'invalid_params');
        assert.equal(res.body.details[0].field, field, res.text);
        assert.match(res.body.message, message);
      }
      assert.equal(await api.dataSource.manager.count(Certificate), before);
    });

    it("keeps another tenant's token off the app's certificates", async () => {
      const leaf = await pki.leaf(['www.shop.test']);
      keys.push(leaf.key);
      const id = (await call('GET', path)).body[0].id as string;
      for (const [method, url, body] of [
        ['GET', path, undefined],
        ['GET', `${path}/${id}`, undefined],
        ['POST', path, { cert: pki.chain(leaf), key: leaf.key }],
        ['DELETE', `${path}/${id}`, undefined],
      ] as const) {
        const res = await call(method, url, { token: tenant, ...(body ? { body } : {}) });
        assert.equal(res.status, 403, `${method} ${url}`);
      }
      assert.equal((await call('GET', '/api/apps/other/certs', { token: tenant })).status, 200);
      assert.equal((await call('GET', `/api/apps/other/certs/${id}`, { token: tenant })).status, 404);
      assert.equal((await call('DELETE', `/api/apps/other/certs/${id}`, { token: tenant })).status, 404);
    });

    it('lets a newer certificate take over the domains it covers, and says which it replaces', async () => {
      const first = (await call('GET', path)).body[0].id as string;
      const dup = await call('POST', path, {
        body: { cert: (await api.dataSource.manager.findOneByOrFail(Certificate, { id: first })).chain, key: keys[0] },
      });
      assert.equal(dup.status, 409, 'the same certificate again');
      const { res } = await upload(['www.shop.test']);
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(res.body.serving, ['www.shop.test']);
      assert.deepEqual(res.body.replaces, [{ id: first, domains: ['www.shop.test'] }]);
      // kept to the millisecond, not SQLite's second: which upload is newer decides what serves
      const rows = await api.dataSource.manager.find(Certificate, { where: { id: In([first, res.body.id]) } });
      assert.ok(
        rows.some((r) => r.createdAt.getMilliseconds() !== 0),
        rows.map((r) => r.createdAt.toISOString()).join(),
      );
      const { certs } = await readAppCerts(api.redis, 'shop');
      assert.deepEqual(
        certs?.map((c) => [c.id, c.domains]),
        [
          [first, ['api.shop.test']],
          [res.body.id, ['www.shop.test']],
        ],
      );
    });

    it('publishes again when domains go, and drops the entry with the last served domain and the app', async () => {
      assert.equal((await call('DELETE', '/api/apps/shop/domains/api.shop.test')).status, 200);
      let certs = (await readAppCerts(api.redis, 'shop')).certs;
      assert.deepEqual(
        certs?.map((c) => c.domains),
        [['www.shop.test']],
        'the first certificate serves no domain now',
      );
      const list = (await call('GET', path)).body as { serving: string[]; domains: string[] }[];
      assert.deepEqual(
        list.map((c) => [c.domains, c.serving]),
        [
          [['www.shop.test'], []],
          [['www.shop.test'], ['www.shop.test']],
        ],
      );
      // removing the serving one hands the domain back to the older one
      const newer = (list[1] as unknown as { id: string }).id;
      assert.equal((await call('DELETE', `${path}/${newer}`)).status, 200);
      assert.equal((await call('DELETE', `${path}/${newer}`)).status, 404);
      certs = (await readAppCerts(api.redis, 'shop')).certs;
      assert.deepEqual(
        certs?.map((c) => c.domains),
        [['www.shop.test']],
      );
      assert.equal((await call('DELETE', '/api/apps/shop/domains/www.shop.test')).status, 200);
      assert.equal((await readAppCerts(api.redis, 'shop')).certs, null, 'nothing served: no entry');
      await api.request('POST', '/api/apps/shop/domains', { body: { hostname: 'www.shop.test' } });
      assert.equal((await readAppCerts(api.redis, 'shop')).certs?.length, 1, 'served again once the domain is back');
      const shop = (await call('GET', '/api/apps/shop')).body.id as string;
      assert.equal((await call('DELETE', '/api/apps/shop')).status, 200);
      assert.equal((await readAppCerts(api.redis, 'shop')).certs, null);
      assert.equal(await api.dataSource.manager.countBy(Certificate, { appId: shop }), 0, 'deleted with the app');
    });

    it('has the leading api write the table again when Redis lost it', async () => {
      await createApp(api, 'again');
      await api.request('POST', '/api/apps/again/domains', { body: { hostname: 'again.test' } });
      const leaf = await pki.leaf(['again.test']);
      keys.push(leaf.key);
      const res = await call('POST', '/api/apps/again/certs', { body: { cert: pki.chain(leaf), key: leaf.key } });
      assert.equal(res.status, 201, res.text);
      const scheduler = api.api.app.get(SchedulerService);
      await scheduler.reconcileNow();
      await api.redis.del(CERTS_KEY, `${CERTS_KEY}:version`);
      assert.equal((await readAppCerts(api.redis, 'again')).certs, null);
      await scheduler.reconcileNow();
      assert.deepEqual(
        (await readAppCerts(api.redis, 'again')).certs?.map((c) => c.id),
        [res.body.id],
      );
      // the table is keyed by name: a rename moves the entry
      assert.equal((await call('PATCH', '/api/apps/again', { body: { name: 'renamed' } })).status, 200);
      assert.equal((await readAppCerts(api.redis, 'again')).certs, null);
      assert.deepEqual(
        (await readAppCerts(api.redis, 'renamed')).certs?.map((c) => c.id),
        [res.body.id],
      );
      await call('PATCH', '/api/apps/renamed', { body: { name: 'again' } });
    });

    it('refuses a certificate past the most an app may have', async () => {
      const full = await createApp(api, 'full');
      const row = await api.dataSource.manager.findOneByOrFail(Certificate, {
        appId: (await appNamed(api, 'again')).id,
      });
      for (let i = 0; i < MAX_CERTS_PER_APP; i++)
        await api.dataSource.manager.insert(Certificate, {
          ...row,
          id: `full-${i}`,
          appId: full.id,
          fingerprint: `F${i}`,
        });
      const res = await call('POST', '/api/apps/full/certs', { body: { cert: row.chain, key: keys[0] } });
      assert.equal(res.status, 422, res.text);
      assert.match(res.body.message, /^app 'full' has 50 certificates, the most it may have: remove one first/);
    });

    it('never shows a key in an answer, an error or the app log', async () => {
      assert.ok(answers.length > 10 && keys.length > 5);
      const logs = [
        ...(await apiLogLines(api, (await api.request('GET', '/api/apps/again')).body.id)),
        ...(await apiLogLines(api, (await api.request('GET', '/api/apps/other')).body.id)),
      ];
      assert.ok(
        logs.some((l) => /^Added certificate .* for again\.test/.test(l)),
        logs.join('\n'),
      );
      for (const key of keys) {
        for (const [i, res] of answers.entries()) assertNoKey(res.text, key, `answer ${i}`);
        assertNoKey(logs.join('\n'), key, 'the app log');
      }
    });
  });
}
