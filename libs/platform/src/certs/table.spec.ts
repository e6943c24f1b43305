import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { redisOptions } from '../redis';
import { suiteRedis } from '../testing/redis';
import { waitFor } from '../testing/wait';
import { ensurePlatformCa, issueLeaf } from '../tls/platform-ca';
import { seal } from '../tls/sealed';
import type { TableChange } from '../versioned-table';
import {
  CERTS_CHANNEL,
  CERTS_KEY,
  CERTS_VERSION_KEY,
  CertWatcher,
  type TableCert,
  parseAppCerts,
  readAppCerts,
  readCertTable,
  rebuildCertTable,
  removeAppCerts,
  setAppCerts,
  validateTableCert,
} from './table';

describe('the certificate table', () => {
  const redis = suiteRedis('paas-cert-table-');
  const sealingKey = randomBytes(32);
  let dir: string;
  let shop: TableCert;
  let blog: TableCert;
  /** Another connection to the suite's server. */
  const connect = (): Redis => new Redis(redisOptions(`unix://${String(redis().options.path)}`));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paas-cert-table-ca-'));
    const ca = await ensurePlatformCa(join(dir, 'tls'));
    const make = async (id: string, domains: string[]): Promise<TableCert> => {
      const leaf = await issueLeaf(ca, { commonName: domains[0] ?? id, sans: domains });
      return { id, domains, cert: leaf.cert, key: seal(sealingKey, leaf.key, id), notAfter: '2030-01-01T00:00:00Z' };
    };
    shop = await make('c-1', ['shop.example.com', '*.shop.example.com']);
    blog = await make('c-2', ['blog.example.org']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    await redis().flushall();
  });

  it('writes, versions and announces each app change, and reads entries back normalized', async () => {
    const subscriber = connect();
    try {
      const messages: string[] = [];
      subscriber.on('message', (_channel, text: string) => messages.push(text));
      await subscriber.subscribe(CERTS_CHANNEL);
      assert.equal(
        await setAppCerts(redis(), 'shop', [{ ...shop, domains: ['Shop.Example.COM.', '*.shop.example.com'] }]),
        1,
      );
      assert.equal(await setAppCerts(redis(), 'blog', [blog]), 2);
      assert.equal(await removeAppCerts(redis(), 'blog'), 3);
      assert.equal(await removeAppCerts(redis(), 'blog'), null, 'removing an absent entry changes nothing');
      assert.equal(await redis().get(CERTS_VERSION_KEY), '3');
      const table = await readCertTable(redis());
      assert.equal(table.version, 3);
      assert.deepEqual([...table.certs.keys()], ['shop']);
      assert.deepEqual(table.certs.get('shop')?.[0]?.domains, ['shop.example.com', '*.shop.example.com']);
      assert.equal(table.certs.get('shop')?.[0]?.notAfter, '2030-01-01T00:00:00.000Z');
      assert.deepEqual(JSON.parse((await redis().hget(CERTS_KEY, 'shop')) ?? '').app, 'shop');
      await waitFor(() => messages.length === 3, 'three messages');
      assert.deepEqual(
        messages.map((m) => JSON.parse(m)),
        [
          { version: 1, app: 'shop' },
          { version: 2, app: 'blog' },
          { version: 3, app: 'blog' },
        ],
      );
      const rebuilt = await rebuildCertTable(redis(), new Map([['blog', [blog]]]));
      assert.equal(rebuilt, 5, 'a rebuild bumps the version by two');
      assert.deepEqual([...(await readCertTable(redis())).certs.keys()], ['blog']);
    } finally {
      subscriber.disconnect();
    }
  });

  it('refuses to write an invalid list, saying which app, certificate and field, and writes nothing', async () => {
    const cases: Array<[string, readonly TableCert[], RegExp]> = [
      ['Bad_App', [shop], /certificates of app "Bad_App": the app name is not a DNS label/],
      ['shop', [{ ...shop, id: '' }], /certs\[0\]\.id "" is not 1-200/],
      ['shop', [{ ...shop, domains: [] }], /certificate|certs\[0\] "c-1": domains \[\] is not a list/],
      ['shop', [{ ...shop, domains: ['ok.example.com', '*.*.example.com'] }], /domains\[1\] "\*\.\*\.example\.com"/],
      ['shop', [{ ...shop, cert: 'hello' }], /"c-1": cert is not a PEM certificate chain/],
      ['shop', [{ ...shop, key: '-----BEGIN PRIVATE KEY-----' }], /"c-1": key is not a sealed value/],
      ['shop', [{ ...shop, notAfter: 'soon' }], /"c-1": notAfter "soon" is not an ISO date/],
      ['shop', [shop, { ...blog, id: shop.id }], /certs\[1\]\.id "c-1" is listed twice/],
      ['shop', Array.from({ length: 51 }, (_, i) => ({ ...shop, id: `c-${i}` })), /51 certificates, more than 50/],
    ];
    for (const [app, certs, message] of cases) await assert.rejects(setAppCerts(redis(), app, certs), message);
    await assert.rejects(removeAppCerts(redis(), '../x'), /app name/);
    await assert.rejects(rebuildCertTable(redis(), new Map([['shop', [{ ...shop, key: 'plain' }]]])), /key is not/);
    assert.equal(await redis().exists(CERTS_KEY, CERTS_VERSION_KEY), 0);
  });

  it('reading skips and reports a broken certificate, keeping the rest of its app, and a broken entry whole', async () => {
    await setAppCerts(redis(), 'good', [blog]);
    const { domains: _dropped, ...noDomains } = shop;
    await redis().hset(
      CERTS_KEY,
      'shop',
      JSON.stringify({ app: 'shop', certs: [noDomains, blog, 'junk'] }),
      'worse',
      '\u0000',
      'other',
      JSON.stringify({ app: 'good', certs: [] }),
      'Nope',
      JSON.stringify({ app: 'Nope', certs: [] }),
    );
    const table = await readCertTable(redis());
    assert.deepEqual([...table.certs.keys()].sort(), ['good', 'shop']);
    assert.deepEqual(
      table.certs.get('shop')?.map((c) => c.id),
      ['c-2'],
    );
    const problems = table.invalid.map((i) => `${i.field}: ${i.error}`).sort();
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(problems.join('\n'), /Nope: .*the app name is not/);
    assert.match(problems.join('\n'), /other: .*the entry names app "good"/);
    assert.match(problems.join('\n'), /shop: .*certs\[0\] "c-1": domains undefined is not a list/);
    assert.match(problems.join('\n'), /shop: .*certs\[2\] "junk" is not an object/);
    assert.match(problems.join('\n'), /worse: .*which is not JSON/);
    const one = await readAppCerts(redis(), 'shop');
    assert.deepEqual(
      one.certs?.map((c) => c.id),
      ['c-2'],
    );
    assert.equal(one.invalid.length, 2);
    assert.throws(() => parseAppCerts('shop', '{"app":"shop","certs":{}}'), /certs \{\} is not an array/);
    assert.throws(() => validateTableCert('shop', { ...shop, notAfter: '2030-13-45T00:00:00Z' }), /notAfter/);
  });

  it('a watcher follows single changes and reports bad entries without dropping good ones', async () => {
    const reader = connect();
    const subscriber = connect();
    const changes: TableChange[] = [];
    const problems: string[] = [];
    let seen: ReadonlyMap<string, readonly TableCert[]> = new Map();
    // No resync within the test: a resync that reads a version before its message comes
    // reports the whole table ('all'), and this test is about the messages.
    const watcher = new CertWatcher({
      reader,
      subscriber,
      resyncMs: 60_000,
      onChange: (certs, change) => {
        seen = certs;
        changes.push(change);
      },
      onProblem: (p) => problems.push(p),
    });
    try {
      await setAppCerts(redis(), 'shop', [shop]);
      await watcher.start();
      assert.deepEqual(changes, [{ version: 1, apps: 'all' }]);
      await setAppCerts(redis(), 'blog', [blog]);
      await waitFor(() => watcher.version === 2, 'version 2');
      assert.deepEqual(changes.at(-1), { version: 2, apps: ['blog'] });
      assert.deepEqual(
        seen.get('blog')?.map((c) => c.id),
        ['c-2'],
      );
      await removeAppCerts(redis(), 'shop');
      await waitFor(() => watcher.version === 3, 'version 3');
      assert.equal(seen.has('shop'), false);
      // Written by hand with a broken certificate beside a good one, announced as writers do.
      await redis().hset(CERTS_KEY, 'blog', JSON.stringify({ app: 'blog', certs: [blog, { ...shop, key: 'x' }] }));
      const version = await redis().incr(CERTS_VERSION_KEY);
      await redis().publish(CERTS_CHANNEL, JSON.stringify({ version, app: 'blog' }));
      await waitFor(() => watcher.version === 4, 'version 4');
      assert.deepEqual(changes.at(-1), { version: 4, apps: ['blog'] });
      assert.deepEqual(
        seen.get('blog')?.map((c) => c.id),
        ['c-2'],
      );
      assert.ok(
        problems.some((p) => /paas:certs: skipped app "blog": .*"c-1": key is not a sealed value/.test(p)),
        problems.join('\n'),
      );
      assert.equal(watcher.certs, seen);
    } finally {
      await watcher.stop();
      reader.disconnect();
      subscriber.disconnect();
    }
  });

  it('a watcher reloads after its subscriber reconnects, and not after its first connect', async () => {
    const name = `paas-cert-table-sub-${process.pid}`;
    const reader = connect();
    const subscriber = new Redis({ ...redisOptions(`unix://${String(redis().options.path)}`), connectionName: name });
    const changes: TableChange[] = [];
    const watcher = new CertWatcher({
      reader,
      subscriber,
      resyncMs: 60_000,
      onChange: (_certs, change) => changes.push(change),
    });
    try {
      await watcher.start();
      // the first connection's late 'ready' is not a reconnect: no reload that would turn
      // the next message into a whole-table change
      await new Promise((r) => setTimeout(r, 50));
      await setAppCerts(redis(), 'shop', [shop]);
      await waitFor(() => watcher.version === 1, 'version 1');
      assert.deepEqual(changes, [
        { version: 0, apps: 'all' },
        { version: 1, apps: ['shop'] },
      ]);
      // Cut the subscriber off and write while it is away: the message is lost, and only the
      // reload on reconnect (the periodic check is a minute away) brings the change.
      const reconnected = new Promise((r) => subscriber.once('ready', r));
      const list = String(await redis().call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
      const id = /id=(\d+)/.exec(list.split('\n').find((l) => l.includes(`name=${name}`)) ?? '')?.[1];
      assert.ok(id, list);
      await redis().call('CLIENT', 'KILL', 'ID', id);
      await setAppCerts(redis(), 'blog', [blog]);
      await reconnected;
      await waitFor(() => watcher.version === 2, 'version 2 after the reconnect');
      assert.deepEqual(changes.at(-1), { version: 2, apps: 'all' });
      assert.deepEqual([...watcher.certs.keys()].sort(), ['blog', 'shop']);
    } finally {
      await watcher.stop();
      reader.disconnect();
      subscriber.disconnect();
    }
  });
});
