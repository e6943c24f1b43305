/**
 * The drains' forwarder against a real Redis (the app's log stream and the drains' state), a
 * local HTTP receiver and a local syslog listener on TCP and TLS, all on 127.0.0.1: the
 * operator's PAAS_DRAINS_ALLOW_PRIVATE setting (`allowPrivate`) lets drains reach them. The list
 * of drains, the database's in the api, is a plain array here.
 */
import { appLogKey, writeAppLog } from '@paas/platform';
import { makeTestPki, suiteRedis, waitFor } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, describe, it } from 'node:test';
import { DRAIN_LOG_SOURCE, DrainForwarder, type DrainRecord, type ForwarderSettings } from './drain-forwarder';
import { drainStateKey, initDrainState, readDrainState } from './drain-state';
import { HttpReceiver, SyslogListener, messages } from './testing';

const SETTINGS: ForwarderSettings = {
  batchLines: 50,
  batchMs: 20,
  backoff: { firstMs: 20, capMs: 200 },
  syncMs: 50,
  sender: { policy: { allowPrivate: true, protectedCidrs: [], bridgeCidrs: [] }, caPem: null, timeoutMs: 3000 },
};

describe('drain forwarder', () => {
  const redis = suiteRedis('paas-drains-');
  const drains: DrainRecord[] = [];
  const warnings: string[] = [];
  let forwarder: DrainForwarder | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  const start = (settings: ForwarderSettings = SETTINGS): DrainForwarder => {
    forwarder = new DrainForwarder(redis(), { drains: async () => [...drains] }, settings, {
      log: () => undefined,
      warn: (m) => warnings.push(m),
    });
    forwarder.start();
    return forwarder;
  };
  /** A new app's log (its first line written) and a drain of it to `url`, starting at the log's end. */
  const addDrain = async (url: string): Promise<DrainRecord> => {
    const appId = randomUUID();
    await writeAppLog(redis(), appId, 'api', 'before the drain');
    const drain = { id: randomUUID(), appId, url };
    await initDrainState(redis(), drain.id, appId);
    drains.push(drain);
    return drain;
  };
  const write = async (appId: string, from: number, to: number, source = 'web.1'): Promise<string[]> => {
    const lines: string[] = [];
    for (let i = from; i <= to; i++) {
      const line = lineOf(i);
      lines.push(line);
      await writeAppLog(redis(), appId, source, line, { onError: (err) => assert.fail(err) });
    }
    return lines;
  };
  const state = async (drain: DrainRecord) => {
    const s = await readDrainState(redis(), drain.id);
    assert.ok(s, 'the drain has a state');
    return s;
  };

  afterEach(async () => {
    await forwarder?.stop();
    forwarder = undefined;
    drains.length = 0;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  after(async () => {
    await forwarder?.stop();
  });

  it('POSTs every line in order as logplex frames, from the moment the drain was added', async () => {
    const receiver = new HttpReceiver();
    const url = await receiver.start();
    cleanups.push(() => receiver.stop());
    const drain = await addDrain(url);
    const sent = await write(drain.appId, 1, 140);
    start();
    await waitFor(() => receiver.lines().length >= 140, 'the receiver to get 140 lines');
    assert.deepEqual(receiver.lines(), sent, 'every line once, in order; none from before the drain');
    for (const { headers, body } of receiver.posts) {
      assert.equal(headers['content-type'], 'application/logplex-1');
      assert.equal(Number(headers['logplex-msg-count']), messages(body).length);
      assert.ok(messages(body).length <= SETTINGS.batchLines);
      assert.equal(headers['logplex-drain-token'], `d.${drain.id}`);
      assert.match(String(headers['logplex-frame-id']), /^\d+-\d+\.\.\d+-\d+$/);
      assert.equal(headers['authorization'], `Basic ${Buffer.from('user:secret').toString('base64')}`);
    }
    await waitFor(async () => (await state(drain)).delivered === 140, 'the state to count 140 delivered');
    assert.equal((await state(drain)).failingSince, null);
  });

  it('syslog over TCP: backs off while the listener is down, holds the cursor, then delivers in order', async () => {
    const listener = new SyslogListener();
    const port = await listener.start();
    cleanups.push(() => listener.stop());
    const drain = await addDrain(`syslog://127.0.0.1:${port}`);
    start();
    const sent = await write(drain.appId, 1, 60);
    await waitFor(async () => (await state(drain)).delivered === 60, '60 lines delivered');
    await listener.stop();
    sent.push(...(await write(drain.appId, 61, 120)));
    await waitFor(async () => (await state(drain)).failingSince !== null, 'the drain to fail');
    const failing = await state(drain);
    assert.equal(failing.delivered, 60, 'the cursor holds while the drain is down');
    assert.equal(failing.lastError, 'connection refused', 'a category, not a message naming the address');
    await listener.start();
    await waitFor(async () => (await state(drain)).delivered === 120, 'the rest delivered once it is back');
    await listener.stop();
    assert.deepEqual(listener.lines(), sent);
    assert.equal((await state(drain)).failingSince, null);
    assert.equal((await state(drain)).dropped, 0);
  });

  it('counts the lines trimmed past a failing drain as dropped, says so in the log, delivers the rest in order', async () => {
    const receiver = new HttpReceiver();
    const url = await receiver.start();
    cleanups.push(() => receiver.stop());
    const drain = await addDrain(url);
    start();
    const first = await write(drain.appId, 1, 10);
    await waitFor(() => receiver.lines().length === 10, 'the first 10 lines');
    receiver.status = 503;
    await write(drain.appId, 11, 110);
    await waitFor(async () => (await state(drain)).failingSince !== null, 'the drain to fail');
    const attempts = receiver.attempts;
    // the log's cap at work: only the newest 30 lines are left, 81..110
    await redis().xtrim(appLogKey(drain.appId), 'MAXLEN', 30);
    await waitFor(async () => (await state(drain)).dropped === 70, 'the 70 trimmed lines counted while it fails');
    assert.equal((await state(drain)).lastError, 'HTTP 503');
    assert.equal((await state(drain)).delivered, 10);
    assert.ok(receiver.attempts > attempts, 'it kept trying');
    receiver.status = 200;
    const expected = [...first, ...Array.from({ length: 30 }, (_, i) => i + 81).map((i) => lineOf(i))];
    await waitFor(() => receiver.lines().length >= 41, 'the rest and the report');
    const got = receiver.lines();
    assert.deepEqual(got.slice(0, 40), expected, 'oldest dropped first; the rest in order');
    assert.match(got[40] ?? '', /^drain http:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/drain dropped 70 lines/);
    const sources = receiver.posts.flatMap((p) => messages(p.body).map(([source]) => source));
    assert.equal(sources[40], DRAIN_LOG_SOURCE);
    const final = await state(drain);
    assert.equal(final.dropped, 70);
    assert.equal(final.failingSince, null);
  });

  it('syslog over TLS verifies the listener against the operator CA; without it, it fails and sends nothing', async () => {
    const pki = await makeTestPki();
    const leaf = await pki.leaf(['127.0.0.1']);
    const listener = new SyslogListener({ key: leaf.key, cert: pki.chain(leaf) });
    const port = await listener.start();
    cleanups.push(() => listener.stop());
    const untrusted = await addDrain(`syslog+tls://127.0.0.1:${port}`);
    const trusted = await addDrain(`syslog+tls://127.0.0.1:${port}`);
    drains.splice(0); // each with its own forwarder's settings
    const settings = (caPem: string | null): ForwarderSettings => ({
      ...SETTINGS,
      sender: { ...SETTINGS.sender, caPem },
    });
    drains.push(untrusted);
    const plain = new DrainForwarder(redis(), { drains: async () => [untrusted] }, settings(null), {
      log: () => undefined,
      warn: () => undefined,
    });
    plain.start();
    cleanups.push(() => plain.stop());
    drains.splice(0);
    drains.push(trusted);
    start(settings(pki.root.cert));
    await write(untrusted.appId, 1, 5);
    const sent = await write(trusted.appId, 1, 5);
    await waitFor(async () => (await state(trusted)).delivered === 5, 'the trusted drain to deliver');
    await waitFor(async () => (await state(untrusted)).failingSince !== null, 'the other to fail');
    assert.equal((await state(untrusted)).lastError, 'TLS error: certificate not trusted');
    assert.equal((await state(untrusted)).delivered, 0);
    await plain.stop();
    await forwarder?.stop();
    await listener.stop();
    assert.deepEqual(listener.lines(), sent, 'only the trusted drain got through');
  });

  it('stops sending once stopped (a term that ends); the next forwarder continues from the cursor', async () => {
    const receiver = new HttpReceiver();
    const url = await receiver.start();
    cleanups.push(() => receiver.stop());
    const drain = await addDrain(url);
    const first = start();
    const sent = await write(drain.appId, 1, 20);
    await waitFor(() => receiver.lines().length === 20, '20 lines');
    await first.stop();
    sent.push(...(await write(drain.appId, 21, 40)));
    // nothing goes while no forwarder runs: the state is where the last one left it
    assert.equal((await state(drain)).delivered, 20);
    start();
    await waitFor(() => receiver.lines().length >= 40, '40 lines');
    assert.deepEqual(receiver.lines(), sent, 'no line twice, none missing');
  });

  it('fails a batch against a receiver that trickles its answer, by the deadline, and sends it again in order', async () => {
    const receiver = new HttpReceiver();
    const url = await receiver.start();
    cleanups.push(() => receiver.stop());
    receiver.trickleMs = 50; // well inside the sender's 1 s: an idle timeout alone never fires
    const drain = await addDrain(url);
    start({ ...SETTINGS, sender: { ...SETTINGS.sender, timeoutMs: 1000 } });
    const sent = await write(drain.appId, 1, 5);
    await waitFor(async () => (await readDrainState(redis(), drain.id))?.failingSince != null, 'the batch to time out');
    assert.equal((await state(drain)).lastError, 'timed out');
    assert.equal((await state(drain)).delivered, 0);
    receiver.trickleMs = 0;
    sent.push(...(await write(drain.appId, 6, 8)));
    await waitFor(() => receiver.lines().length >= 8, 'the batch sent again, and the rest');
    assert.deepEqual(receiver.lines(), sent, 'the same lines, in order, once delivered');
    await waitFor(async () => (await state(drain)).failingSince === null, 'the drain to deliver again');
  });

  it(
    'stops (and forgets a removed drain) while a receiver trickles its answer, without waiting for it',
    { timeout: 20_000 },
    async () => {
      const receiver = new HttpReceiver();
      const url = await receiver.start();
      cleanups.push(() => receiver.stop());
      receiver.trickleMs = 50;
      const kept = await addDrain(url);
      const removed = await addDrain(url);
      // a deadline far beyond the spec's: only ending the exchange lets the stop through
      const forwarder = start({ ...SETTINGS, sender: { ...SETTINGS.sender, timeoutMs: 600_000 } });
      await write(kept.appId, 1, 2);
      await write(removed.appId, 1, 2);
      await waitFor(() => receiver.attempts >= 2, 'both batches in flight');
      drains.splice(drains.indexOf(removed), 1);
      await forwarder.sync();
      assert.equal(await readDrainState(redis(), removed.id), null, 'the removed drain is forgotten');
      assert.equal(forwarder.workerCount, 1);
      await forwarder.stop();
      const s = await state(kept);
      assert.deepEqual(
        [s.delivered, s.failingSince],
        [0, null],
        'a stop is not a failure of the drain; the cursor holds',
      );
    },
  );

  it("carries on when its state is lost (Redis restarted without its data): from the log's end", async () => {
    const receiver = new HttpReceiver();
    const url = await receiver.start();
    cleanups.push(() => receiver.stop());
    const drain = await addDrain(url);
    start();
    const sent = await write(drain.appId, 1, 3);
    await waitFor(() => receiver.lines().length === 3, '3 lines');
    await redis().del(drainStateKey(drain.id));
    await waitFor(async () => (await readDrainState(redis(), drain.id)) !== null, 'the state to be set up again');
    sent.push(...(await write(drain.appId, 4, 6)));
    await waitFor(() => receiver.lines().length >= 6, 'the lines written since');
    assert.deepEqual(receiver.lines(), sent);
    assert.ok(warnings.some((w) => /state was lost/.test(w)));
  });

  it('forgets a drain that is gone: no more lines to it, its state removed', async () => {
    const receiver = new HttpReceiver();
    const url = await receiver.start();
    cleanups.push(() => receiver.stop());
    const drain = await addDrain(url);
    start();
    await write(drain.appId, 1, 3);
    await waitFor(() => receiver.lines().length === 3, '3 lines');
    drains.splice(0);
    await forwarder?.sync();
    assert.equal(await readDrainState(redis(), drain.id), null);
    await write(drain.appId, 4, 6);
    await forwarder?.sync();
    assert.equal(receiver.lines().length, 3);
  });
});

/** Line `i` of a spec: every seventh has UTF-8 and a newline, as a stack trace would. */
function lineOf(i: number): string {
  return i % 7 === 0 ? `line ${i}: ünïcødé ✓\n  at frame ${i}` : `line ${i}`;
}
