/**
 * Uploaded and automatic certificates on the same domain (acme-issuer.ts MANUAL_WINS), against a
 * real ACME server (pebble): the api (the harness, without an ACME directory of its own, so no
 * other issuer runs) takes uploads and answers certs:auto through its REST routes; the issuer
 * here is built as the leader builds it (acme-orders.ts directoryOrders, challenges in the api's
 * Redis), its orders validated by pebble against a responder that plays the routers' part, one
 * round at a time.
 */
import { App, Domain } from '@paas/platform';
import { ACME_CHALLENGE_PATH, readAcmeChallenge } from '@paas/platform/certs';
import { TEST_DATABASES, type TestPki, freePort, makeTestPki, suitePebble } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureSealingKey, sealingKeyFile } from '@paas/platform/tls';
import { loadApiConfig } from '../config';
import { createApp } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { AcmeIssuer, type AcmeOrders } from './acme-issuer';
import { directoryOrders } from './acme-orders';
import type { CertsAutoView } from './certs-auto.dto';
import type { AddedCertView, CertView } from './certs.dto';

const DAY = 86_400_000;

for (const kind of TEST_DATABASES) {
  describe(`uploaded and automatic certificates on one domain, on ${kind}, with pebble`, { timeout: 120_000 }, () => {
    let api: TestApi;
    let pki: TestPki;
    let dir = '';
    let httpPort = 0;
    let responder: Server | undefined;
    const lines: string[] = [];

    before(async () => {
      httpPort = await freePort();
      responder = createServer((req, res) => {
        const path = req.url ?? '';
        const token = path.startsWith(ACME_CHALLENGE_PATH) ? path.slice(ACME_CHALLENGE_PATH.length) : '';
        void readAcmeChallenge(api.redis, token).then(
          (answer) => res.writeHead(answer === null ? 404 : 200).end(answer ?? 'not found'),
          () => res.writeHead(500).end(),
        );
      });
      await new Promise<void>((resolve) => responder?.listen(httpPort, '127.0.0.1', resolve));
    });
    const pebble = suitePebble(() => ({ httpPort }));
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'paas-acme-manual-'));
      pki = await makeTestPki();
      writeFileSync(join(dir, 'roots.pem'), pki.root.cert);
      writeFileSync(join(dir, 'pebble-tls.pem'), pebble().tlsCa);
      api = await startTestApi(kind, { PAAS_CERTS_TRUSTED_CA_FILE: join(dir, 'roots.pem') });
    });
    after(async () => {
      await api?.close();
      responder?.closeAllConnections();
      responder?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** The leader's issuer for pebble, over the api's database, Redis and sealing key; `wrap` may stand in the order's way. */
    function issuer(wrap: (orders: AcmeOrders) => AcmeOrders = (o) => o): AcmeIssuer {
      const config = loadApiConfig({
        PAAS_ROOT: api.root,
        PAAS_ACME_DIRECTORY: pebble().directoryUrl,
        PAAS_ACME_CA_FILE: join(dir, 'pebble-tls.pem'),
      });
      const sealingKey = () => ensureSealingKey(sealingKeyFile(api.root));
      const orders = directoryOrders(api.dataSource, api.redis, config, sealingKey);
      assert.ok(orders);
      return new AcmeIssuer(api.dataSource, async () => undefined, sealingKey, wrap(orders), {
        published: async () => undefined,
        log: async (_appId, line) => void lines.push(line),
        warn: (line) => lines.push(`warn ${line}`),
      });
    }

    /** An app with automatic certificates on (as certs:auto:enable leaves it) and these domains. */
    async function autoApp(label: string, hostnames: string[]): Promise<string> {
      const name = `${label}-${randomBytes(3).toString('hex')}`;
      await createApp(api, name);
      for (const hostname of hostnames) {
        const res = await api.request('POST', `/api/apps/${name}/domains`, { body: { hostname } });
        assert.equal(res.status, 201, res.text);
      }
      return name;
    }
    const enable = async (name: string) => {
      await api.dataSource.manager.update(App, { name }, { certsAuto: true });
    };
    const upload = async (name: string, hostnames: string[], now?: Date): Promise<AddedCertView> => {
      const leaf = await pki.leaf(hostnames, now);
      const res = await api.request('POST', `/api/apps/${name}/certs`, {
        body: { cert: pki.chain(leaf), key: leaf.key },
      });
      assert.equal(res.status, 201, res.text);
      return res.body as AddedCertView;
    };
    const auto = async (name: string) => {
      const res = await api.request('GET', `/api/apps/${name}/certs/auto`);
      assert.equal(res.status, 200, res.text);
      return res.body as CertsAutoView;
    };
    const stateOf = async (name: string, hostname: string) =>
      (await auto(name)).domains.find((d) => d.hostname === hostname);
    const certs = async (name: string) => (await api.request('GET', `/api/apps/${name}/certs`)).body as CertView[];
    const row = (hostname: string) => api.dataSource.manager.findOneByOrFail(Domain, { hostname });
    const host = (label: string) => `${label}.${randomBytes(3).toString('hex')}.paas.test`;

    it('an upload takes a domain over from ACME; the issuer leaves it alone, past its renewal time too, until it is removed', async () => {
      const d = host('www');
      const app = await autoApp('shop', [d]);
      await enable(app);
      const acme = issuer();
      assert.equal(await acme.round(), 1, lines.join('\n'));
      const [obtained] = await certs(app);
      assert.equal(obtained?.source, 'acme');
      assert.equal((await stateOf(app, d))?.state, 'issued');

      // valid since 250 days: past two thirds of its year, when an ACME certificate would be renewed
      const added = await upload(app, [d], new Date(Date.now() - 250 * DAY));
      assert.deepEqual(added.replaces, [{ id: obtained.id, domains: [d] }]);
      assert.deepEqual(added.overridesAuto, [d]);
      let state = await stateOf(app, d);
      assert.deepEqual(
        [state?.state, state?.certificateId, state?.certificateSource, state?.expiresAt, state?.nextAttemptAt],
        ['manual', added.id, 'manual', added.notAfter, added.notAfter],
        'certs:auto says at once that the upload serves it, and until when',
      );

      assert.equal(await acme.round(), 0, 'no order for a domain an upload serves, though it is renewal-due');
      const kept = await row(d);
      assert.deepEqual([kept.acmeState, kept.acmeNextAttemptAt], ['manual', added.notAfter]);
      assert.deepEqual(
        (await certs(app)).map((c) => [c.id, c.serving]),
        [
          [obtained.id, []],
          [added.id, [d]],
        ],
        'the upload still serves; the certificate from ACME is not renewed over it',
      );
      assert.match(
        lines.join('\n'),
        new RegExp(`Certificate ${added.id}, uploaded, serves ${d.replace(/\./g, '\\.')}`),
      );
      const log = await api.request('GET', `/api/apps/${app}/logs`);
      assert.match(log.text, /automatic certificates leave .* to it until it expires or is removed/);

      // removed: automatic certificates take the domain back (the one obtained first is still good)
      assert.equal((await api.request('DELETE', `/api/apps/${app}/certs/${added.id}`)).status, 200);
      state = await stateOf(app, d);
      assert.deepEqual([state?.state, state?.certificateSource], ['waiting', 'acme']);
      assert.equal(await acme.round(), 0);
      state = await stateOf(app, d);
      assert.deepEqual([state?.state, state?.certificateId], ['issued', obtained.id]);
      // and with that one gone too, the next round orders
      assert.equal((await api.request('DELETE', `/api/apps/${app}/certs/${obtained.id}`)).status, 200);
      assert.equal(await acme.round(), 1, lines.join('\n'));
      state = await stateOf(app, d);
      assert.equal(state?.state, 'issued');
      assert.equal(state?.certificateSource, 'acme');
      assert.notEqual(state?.certificateId, obtained.id);
    });

    it('enabled while an upload serves one domain: that one is manual, the others get certificates from ACME', async () => {
      const [mine, theirs] = [host('mine'), host('auto')];
      const app = await autoApp('blog', [mine, theirs]);
      const added = await upload(app, [mine]);
      assert.deepEqual(added.overridesAuto, [], 'automatic certificates are off yet');
      await enable(app);
      assert.equal((await stateOf(app, mine))?.state, 'manual');
      assert.equal(await issuer().round(), 1, lines.join('\n'));
      const view = await auto(app);
      assert.deepEqual(
        view.domains.map((s) => [s.hostname, s.state, s.certificateSource]).sort(),
        [
          [mine, 'manual', 'manual'],
          [theirs, 'issued', 'acme'],
        ].sort(),
      );
      const list = await certs(app);
      assert.deepEqual(list.find((c) => c.id === added.id)?.serving, [mine]);
      assert.equal(list.length, 2, 'one from ACME, for the other domain only');
      assert.deepEqual(list.find((c) => c.source === 'acme')?.names, [theirs]);
      assert.equal((await row(mine)).acmeAttempts, 0, 'never ordered');
    });

    it('an upload made while an order is under way stays: the certificate obtained is not kept over it', async () => {
      const d = host('race');
      const app = await autoApp('cafe', [d]);
      await enable(app);
      let added: AddedCertView | undefined;
      const racing = issuer((orders) => ({
        obtain: async (domains, signal) => {
          const got = await orders.obtain(domains, signal);
          added = await upload(app, [d]);
          return got;
        },
      }));
      assert.equal(await racing.round(), 1);
      assert.ok(added);
      assert.deepEqual(
        (await certs(app)).map((c) => [c.id, c.source, c.serving]),
        [[added.id, 'manual', [d]]],
        'nothing from ACME stored',
      );
      const state = await stateOf(app, d);
      assert.deepEqual([state?.state, state?.certificateId, state?.problem], ['manual', added.id, null]);
      assert.equal((await row(d)).acmeState, 'manual');
      assert.match(lines.join('\n'), new RegExp(`not kept: certificate ${added.id}, uploaded meanwhile`));
      assert.ok(!lines.some((l) => l.startsWith('warn')), lines.join('\n'));
    });
  });
}
