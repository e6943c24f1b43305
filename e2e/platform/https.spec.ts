/**
 * HTTPS with automatic certificates, end to end: the real platform (api with its scheduler and
 * ACME issuer in the test process, an agent, the router with 2 workers and its TLS listener)
 * and a real ACME server (Debian's pebble, libs/platform testing/pebble.ts) whose DNS answers
 * the router's address and whose HTTP-01 validation connects to the router's HTTP port, where
 * every router worker answers the key authorizations the issuer put in Redis.
 *
 *   a static site deployed with git push, a custom domain, `paas certs:auto:enable` -> issued;
 *   a TLS client trusting only pebble's root gets the site over https for the name, on fresh
 *   connections spread over both workers; pebble's 20 s certificates renew by themselves (a new
 *   serial served without a restart); a domain whose challenge cannot be answered (its name
 *   resolves where nothing listens) is `failed` with pebble's problem in `paas certs:auto`,
 *   HTTP keeps serving, and its next attempt is later (the back-off); `paas maintenance:on`
 *   answers 503 with the maintenance page on every host over HTTP and HTTPS while the instance
 *   keeps running untouched (no release), and `maintenance:off` serves again.
 *
 * Only loopback: pebble, its resolver, the router and the api listen on 127.0.0.1. Everything is
 * stopped and removed in `after`, failed or not.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import type { CertsAuto, Instance, Release } from '@paas/api-types';
import { type Pebble, freePort, startPebble } from '@paas/platform/testing';
import { paasAsync } from '../support/cli';
import { httpGet, waitFor } from '../support/platform';
import { type PlatformHost, startPlatformHost } from './support/host';

const VALIDITY_S = 20;

interface Fetched {
  readonly status: number;
  readonly body: string;
  readonly serial: string;
  readonly validTo: string;
}

/** GET https://NAME/ on a fresh connection to the router's TLS port, trusting only `root`, checking the name. */
function httpsGet(port: number, name: string, root: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        servername: name,
        path: '/',
        headers: { host: name },
        ca: root,
        agent: false,
        timeout: 5000,
      },
      (res) => {
        const peer = (res.socket as unknown as { getPeerCertificate(): PeerCertificate }).getPeerCertificate();
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, serial: peer.serialNumber, validTo: peer.valid_to }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`https://${name}/: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS with certificates from ACME (pebble) through the router', { timeout: 180_000 }, () => {
  const suffix = randomBytes(3).toString('hex');
  const DOMAIN = `secure-${suffix}.shop.test`;
  const BROKEN = `unreachable-${suffix}.shop.test`;
  let host: PlatformHost | undefined;
  let pebble: Pebble | undefined;
  let dir = '';
  let httpPort = 0;
  let tlsPort = 0;
  const cli = async (...args: string[]): Promise<string> => {
    const r = await paasAsync([...args, '-a', 'shop'], host?.cliEnv);
    assert.equal(r.status, 0, `paas ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  /** The states as the api answers them (polled; the CLI's table is checked once each). */
  const auto = async (): Promise<CertsAuto> =>
    (await (host as PlatformHost).call('GET', '/api/apps/shop/certs/auto')) as CertsAuto;
  const stateOf = async (hostname: string) => (await auto()).domains.find((d) => d.hostname === hostname);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paas-https-'));
    [httpPort, tlsPort] = [await freePort(), await freePort()];
    pebble = await startPebble({
      httpPort,
      validitySeconds: VALIDITY_S,
      // the broken domain resolves where nothing serves HTTP-01
      resolve: (name) => (name.startsWith('unreachable-') ? '127.0.0.2' : '127.0.0.1'),
    });
    writeFileSync(join(dir, 'pebble-tls.pem'), pebble.tlsCa);
    const router = `127.0.0.1:${httpPort}`;
    host = await startPlatformHost({
      api: {
        PAAS_ROUTER_ADDR: router,
        PAAS_RECONCILE_MS: '250',
        PAAS_ACME_DIRECTORY: pebble.directoryUrl,
        PAAS_ACME_CA_FILE: join(dir, 'pebble-tls.pem'),
        PAAS_ACME_EMAIL: 'ops@shop.test',
        PAAS_ACME_INTERVAL_MS: '500',
      },
      router: {
        PAAS_ROUTER_ADDR: router,
        PAAS_ROUTER_TLS_ADDR: `127.0.0.1:${tlsPort}`,
        PAAS_ROUTER_WORKERS: '2',
      },
    });
  });

  after(async () => {
    try {
      if (host) {
        const left = await host.stop();
        assert.deepEqual(
          left,
          { mounts: [], containers: [], cgroups: [], problems: [] },
          'the platform left something',
        );
      }
    } finally {
      await pebble?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('obtains a certificate with certs:auto:enable that verifies for the name on every router worker', async () => {
    const h = host as PlatformHost;
    const checkout = await h.checkout('shop');
    h.commit(checkout, { 'index.html': 'shop over https\n' }, 'v1');
    const pushed = await h.push(checkout);
    assert.equal(pushed.status, 0, pushed.output);
    await cli('domains:add', DOMAIN);
    await cli('domains:add', BROKEN);
    await waitFor(`the router serves ${DOMAIN} over HTTP`, 30_000, async () => {
      const res = await httpGet(`http://127.0.0.1:${httpPort}/`, DOMAIN, 5000);
      return res.status === 200 && res.body === 'shop over https\n';
    });
    const enabled = await cli('certs:auto:enable');
    assert.match(enabled, /paas certs:auto -a shop/);
    await waitFor(`${DOMAIN} issued`, 60_000, async () => (await stateOf(DOMAIN))?.state === 'issued').catch(
      async (err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(await auto())}\n${pebble?.log().slice(-2000)}`);
      },
    );
    const table = await cli('certs:auto');
    assert.deepEqual(
      (JSON.parse(await cli('certs:auto', '--json')) as CertsAuto).domains.map((d) => d.hostname).sort(),
      [DOMAIN, BROKEN].sort(),
    );
    assert.match(table, new RegExp(`${DOMAIN.replace(/\./g, '\\.')}\\s+Cert issued\\s+\\d{4}-\\d\\d-\\d\\d`));
    const root = (pebble as Pebble).root;
    await waitFor('the router serves the new certificate', 15_000, async () =>
      httpsGet(tlsPort, DOMAIN, root).then(
        (r) => r.status === 200,
        () => false,
      ),
    );
    // fresh connections, spread by the kernel over both workers' shared listener
    for (let i = 0; i < 8; i++) {
      const res = await httpsGet(tlsPort, DOMAIN, root);
      assert.deepEqual([res.status, res.body], [200, 'shop over https\n']);
    }
    // the chain verifies for this name only, and only against pebble's root
    await assert.rejects(httpsGet(tlsPort, DOMAIN, (pebble as Pebble).tlsCa), /unable to get local issuer|self.signed/);
  });

  it('renews the short-lived certificate by itself: a new serial served without a restart', async () => {
    const root = (pebble as Pebble).root;
    const { serial: first, validTo } = await httpsGet(tlsPort, DOMAIN, root);
    const pids = [...(host as PlatformHost).daemons.values()].map((d) => d.child.pid);
    await waitFor('a renewed certificate served', 60_000, async () => {
      const res = await httpsGet(tlsPort, DOMAIN, root).catch(() => null);
      return res !== null && res.status === 200 && res.serial !== first;
    });
    for (let i = 0; i < 6; i++) {
      const res = await httpsGet(tlsPort, DOMAIN, root);
      assert.equal(res.status, 200);
      assert.notEqual(res.serial, first, 'every worker serves the renewed certificate');
    }
    assert.deepEqual(
      [...(host as PlatformHost).daemons.values()].map((d) => [d.child.pid, d.child.exitCode]),
      pids.map((pid) => [pid, null]),
      'no daemon restarted',
    );
    const state = await stateOf(DOMAIN);
    assert.equal(state?.state, 'issued');
    // renewed, not replaced once expired: its order started while the first was still valid
    assert.ok(
      Date.parse(state.lastAttemptAt ?? '') < Date.parse(validTo),
      `renewal ordered at ${state.lastAttemptAt}, the first certificate valid until ${validTo}`,
    );
  });

  it('records a failed challenge with pebble’s problem, keeps serving HTTP, and tries again later', async () => {
    await waitFor(`${BROKEN} failed`, 30_000, async () => (await stateOf(BROKEN))?.state === 'failed');
    const state = await stateOf(BROKEN);
    assert.ok(state?.problem);
    assert.match(state.problem.type, /^urn:ietf:params:acme:error:/);
    assert.match(state.problem.detail, new RegExp(BROKEN.replace(/\./g, '\\.')));
    assert.ok(
      Date.parse(state.nextAttemptAt ?? '') - Date.parse(state.lastAttemptAt ?? '') >= 30_000,
      `backed off: ${JSON.stringify(state)}`,
    );
    const table = await cli('certs:auto');
    const row = table.split('\n').find((l) => l.startsWith(BROKEN)) ?? '';
    assert.match(row, /Failed/);
    assert.ok(row.includes(state.problem.detail.slice(0, 40)), table);
    const res = await httpGet(`http://127.0.0.1:${httpPort}/`, BROKEN, 5000);
    assert.deepEqual([res.status, res.body], [200, 'shop over https\n'], 'HTTP keeps serving');
  });

  it('maintenance:on answers 503 and the page on every host, HTTP and HTTPS, leaving the instance alone; off serves again', async () => {
    const h = host as PlatformHost;
    const root = (pebble as Pebble).root;
    /** Each running instance's name, container and that container's process. */
    const running = async (): Promise<Array<[string, string | null, number]>> => {
      const up = ((await h.call('GET', '/api/apps/shop/instances')) as Instance[]).filter((i) => i.state === 'up');
      const pid = async (id: string | null): Promise<number> =>
        Number((await paasAsync(['inspect', '-f', '{{.State.Pid}}', id ?? ''], h.cliEnv)).stdout.trim());
      return Promise.all(
        up.map(async (i): Promise<[string, string | null, number]> => [
          i.name,
          i.containerId,
          await pid(i.containerId),
        ]),
      );
    };
    const before = await running();
    assert.ok(before.length > 0 && before.every(([, id, pid]) => id && pid > 0), JSON.stringify(before));
    const releases = ((await h.call('GET', '/api/apps/shop/releases')) as Release[]).map((r) => r.version);
    const plain = (name: string) => httpGet(`http://127.0.0.1:${httpPort}/`, name, 5000);

    const on = await paasAsync(['maintenance:on', '-a', 'shop'], h.cliEnv);
    assert.deepEqual([on.status, on.stderr], [0, 'Enabling maintenance mode for shop... done\n']);
    await waitFor('the router answers 503 for shop', 15_000, async () => (await plain(DOMAIN)).status === 503);
    for (const name of [DOMAIN, 'shop.localhost']) {
      const res = await plain(name);
      assert.equal(res.status, 503, name);
      assert.match(res.body, /<title>Down for maintenance<\/title>[^]*shop is down for maintenance/, name);
    }
    const secure = await httpsGet(tlsPort, DOMAIN, root);
    assert.equal(secure.status, 503);
    assert.match(secure.body, /shop is down for maintenance/);
    assert.equal((await cli('maintenance')).trim(), 'on');
    const again = await paasAsync(['maintenance:on', '-a', 'shop'], h.cliEnv);
    assert.deepEqual(
      [again.status, again.stderr],
      [0, 'Enabling maintenance mode for shop... it is on already, nothing changed\n'],
    );
    const bad = (await h.call('PATCH', '/api/apps/shop/maintenance', { maintenance: 'yes' }, 400)) as {
      details: Array<{ field: string }>;
    };
    assert.equal(bad.details[0]?.field, 'maintenance');
    const unknown = await paasAsync(['maintenance:on', '-a', 'no-such-app'], h.cliEnv);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /^paas: .*no-such-app.*not found\n$/);

    assert.deepEqual(await running(), before, 'the same containers, the same processes');
    assert.deepEqual(
      ((await h.call('GET', '/api/apps/shop/releases')) as Release[]).map((r) => r.version),
      releases,
      'no release',
    );
    const off = await paasAsync(['maintenance:off', '-a', 'shop'], h.cliEnv);
    assert.deepEqual([off.status, off.stderr], [0, 'Disabling maintenance mode for shop... done\n']);
    await waitFor('shop serves again', 15_000, async () => (await plain(DOMAIN)).status === 200);
    assert.deepEqual(
      [(await httpsGet(tlsPort, DOMAIN, root)).status, (await plain(DOMAIN)).body],
      [200, 'shop over https\n'],
    );
    assert.deepEqual(await running(), before);
  });

  it('disables: no more orders, and the certificate obtained keeps serving', async () => {
    const said = await cli('certs:auto:disable');
    assert.match(said, /keep serving until they expire/);
    assert.match(await cli('certs:auto'), /Automatic certificates are disabled for shop/);
    const state = await stateOf(DOMAIN);
    assert.deepEqual([state?.state, state?.problem], [null, null]);
    assert.ok(state?.certificateId, 'the certificate obtained is still the one serving the domain');
    const res = await httpsGet(tlsPort, DOMAIN, (pebble as Pebble).root);
    assert.deepEqual([res.status, res.body], [200, 'shop over https\n']);
  });
});
