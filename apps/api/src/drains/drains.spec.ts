import { Drain, Node, issueToken, writeAppLog } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { after, before, describe, it } from 'node:test';
import { REDIS } from '../core/tokens';
import { appNamed, createApp, insertNode } from '../testing/fixtures';
import { type TestApi, type TestReplica, startTestApi, startTestReplica } from '../testing/harness';
import { waitFor } from '../testing/wait';
import { DrainsForwarderService } from './drains-forwarder.service';
import { drainStateKey } from './drain-state';
import { HttpReceiver } from './testing';

for (const kind of TEST_DATABASES) {
  describe(`drains on ${kind}`, () => {
    let api: TestApi;
    const path = '/api/apps/dr/drains';
    before(async () => {
      api = await startTestApi(kind, { PAAS_PROTECTED_CIDRS: '10.9.0.0/16', PAAS_DRAINS_MAX_PER_APP: '3' });
      await createApp(api, 'dr');
      await createApp(api, 'other');
    });
    after(async () => {
      await api?.close();
    });

    it('adds drains, normalised, and lists them with passwords masked and their delivery state', async () => {
      const res = await api.request('POST', path, { body: { url: 'https://user:s3cret@Logs.Example.com/d?x=1' } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.url, 'https://user:***@logs.example.com/d?x=1');
      assert.equal(res.body.token, `d.${res.body.id}`);
      assert.equal(res.body.state, 'delivering');
      assert.deepEqual([res.body.delivered, res.body.dropped, res.body.failingSince], [0, 0, null]);
      assert.equal(
        (await api.request('POST', path, { body: { url: 'syslog+tls://logs.example.com:6514' } })).status,
        201,
      );
      const list = await api.request('GET', path);
      assert.deepEqual(
        list.body.map((d: { url: string }) => d.url),
        ['https://user:***@logs.example.com/d?x=1', 'syslog+tls://logs.example.com:6514'],
      );
      assert.ok(!list.text.includes('s3cret'));
      // stored as given: the receiver needs the password
      const row = await api.dataSource.manager.findOneByOrFail(Drain, { id: res.body.id });
      assert.equal(row.url, 'https://user:s3cret@logs.example.com/d?x=1');
      assert.equal(await api.redis.hget(drainStateKey(row.id), 'cursor').then((c) => typeof c), 'string');
      assert.deepEqual((await api.request('GET', '/api/apps/other/drains')).body, []);
    });

    it('answers 400 naming url for a malformed URL or a refused target, and stores nothing', async () => {
      const node = await insertNode(api, 'drained-node');
      await api.dataSource.manager.update(
        Node,
        { id: node.id },
        { address: '203.0.113.50', serviceAddress: '198.51.100.50' },
      );
      for (const url of [
        '',
        'logs.example.com:514',
        'ftp://logs.example.com/',
        'syslog://logs.example.com',
        'syslog://logs.example.com:70000',
        'https://127.0.0.1:7000/api',
        'http://localhost/',
        'syslog://[::1]:514',
        'http://169.254.169.254/latest/meta-data',
        'syslog://0.0.0.0:514',
        'syslog://10.9.1.2:514',
        'http://[::ffff:127.0.0.1]:7000/',
        // the containers' bridge (PAAS_SUBNET's default): other tenants' instances and add-ons
        'syslog://10.88.0.5:514',
        'http://10.88.0.1:20000/',
        // a registered node (below), by its address or its service address
        'syslog://203.0.113.50:514',
        'https://198.51.100.50:20001/',
      ]) {
        const res = await api.request('POST', path, { body: { url } });
        assert.equal(res.status, 400, `${url}: ${res.text}`);
        assert.equal(res.body.details[0].field, 'url', url);
      }
      for (const body of [{}, { url: 5 }, { url: 'https://logs.example.com/', extra: 1 }]) {
        assert.equal((await api.request('POST', path, { body })).status, 400, JSON.stringify(body));
      }
      assert.equal(await api.dataSource.manager.count(Drain), 2);
      await api.dataSource.manager.delete(Node, { id: node.id });
    });

    it('answers 409 for a drain the app has, 422 past the limit per app', async () => {
      const again = await api.request('POST', path, { body: { url: 'SYSLOG+TLS://logs.example.com:6514/' } });
      assert.equal(again.status, 409, again.text);
      assert.equal((await api.request('POST', path, { body: { url: 'syslog://logs.example.com:514' } })).status, 201);
      const over = await api.request('POST', path, { body: { url: 'syslog://more.example.com:514' } });
      assert.equal(over.status, 422, over.text);
      assert.match(over.body.message, /PAAS_DRAINS_MAX_PER_APP=3/);
      // another app may drain to the same place
      const other = await api.request('POST', '/api/apps/other/drains', {
        body: { url: 'syslog://logs.example.com:514' },
      });
      assert.equal(other.status, 201);
    });

    it("refuses a token of another app as every app route does (the auth guard's 403)", async () => {
      const { token } = await issueToken(api.dataSource.manager, { name: 'other-only', apps: ['other'] });
      const [first] = (await api.request('GET', path)).body as { id: string }[];
      for (const [method, where, body] of [
        ['GET', path, undefined],
        ['POST', path, { url: 'syslog://x.example.com:1' }],
        ['DELETE', `${path}/${first?.id}`, undefined],
      ] as const) {
        const res = await api.request(method, where, { token, body });
        assert.equal(res.status, 403, `${method} ${where}`);
        assert.equal(res.body.code, 'forbidden');
      }
      assert.equal((await api.request('GET', path)).body.length, 3, 'nothing added or removed');
      assert.equal((await api.request('GET', '/api/apps/other/drains', { token })).status, 200);
    });

    it('removes a drain by id or by URL, and its state with it', async () => {
      const list = (await api.request('GET', path)).body as { id: string; url: string }[];
      const byId = list[0] as { id: string };
      assert.equal((await api.request('DELETE', `${path}/${byId.id}`)).status, 200);
      assert.equal(await api.redis.exists(drainStateKey(byId.id)), 0);
      const byUrl = await api.request('DELETE', `${path}/${encodeURIComponent('syslog+tls://LOGS.example.com:6514')}`);
      assert.equal(byUrl.status, 200, byUrl.text);
      assert.equal(byUrl.body.url, 'syslog+tls://logs.example.com:6514');
      assert.equal((await api.request('DELETE', `${path}/${byId.id}`)).status, 404);
      assert.equal(
        (await api.request('DELETE', `${path}/${encodeURIComponent('syslog://nowhere.example.com:1')}`)).status,
        404,
      );
      assert.equal((await api.request('GET', path)).body.length, 1);
    });

    it('goes with its app: rows and Redis state', async () => {
      const other = await appNamed(api, 'other');
      const ids = (await api.dataSource.manager.find(Drain, { where: { appId: other.id } })).map((d) => d.id);
      assert.equal(ids.length, 1);
      assert.equal((await api.request('DELETE', '/api/apps/other')).status, 200);
      assert.equal(await api.dataSource.manager.count(Drain, { where: { appId: other.id } }), 0);
      assert.equal(await api.redis.exists(drainStateKey(ids[0] as string)), 0);
    });
  });
}

describe('drains forwarded by the leader only, two apis on postgres', () => {
  const ENV = { PAAS_DRAINS_ALLOW_PRIVATE: '1', PAAS_DRAINS_BATCH_MS: '50', PAAS_RECONCILE_MS: '60000' };
  let first: TestApi | undefined;
  let second: TestReplica | undefined;
  const receiver = new HttpReceiver();
  let url = '';
  before(async () => {
    url = await receiver.start();
    first = await startTestApi('postgres', ENV);
    second = await startTestReplica(first, ENV);
  });
  after(async () => {
    await second?.close();
    await first?.close();
    await receiver.stop();
  });

  it('a drain added through the follower is fed by the leader alone; the next leader continues without repeats', async () => {
    const leader = first as TestApi;
    const follower = second as TestReplica;
    assert.equal(leader.api.app.get(DrainsForwarderService).forwarding, true);
    assert.equal(follower.api.app.get(DrainsForwarderService).forwarding, false);
    const app = await createApp(leader, 'drained');
    const added = await follower.request('POST', '/api/apps/drained/drains', { body: { url } });
    assert.equal(added.status, 201, added.text);
    // written through the follower's Redis client: it outlives the leader
    const redis = follower.api.app.get<Redis>(REDIS);
    const sent: string[] = [];
    const write = async (from: number, to: number): Promise<void> => {
      for (let i = from; i <= to; i++) {
        sent.push(`line ${i}`);
        await writeAppLog(redis, app.id, 'web.1', `line ${i}`);
      }
    };
    await write(1, 1);
    await waitFor(() => receiver.lines().length === 1, 'the leader to take the new drain', 15_000);
    // two more reads of the drains by the leader: a follower forwarding too, on the same
    // period, would have read them and fed the drain by now; it has not read them at all
    const leaderForwarder = leader.api.app.get(DrainsForwarderService);
    const { syncs } = leaderForwarder.progress;
    await waitFor(
      () => leaderForwarder.progress.syncs >= syncs + 2,
      'the leader to read the drains twice more',
      15_000,
    );
    assert.equal(leaderForwarder.progress.workers, 1);
    assert.deepEqual(follower.api.app.get(DrainsForwarderService).progress, { syncs: 0, workers: 0 });
    // and a slow receiver makes a second worker read lines the first has not moved the cursor past yet
    receiver.delayMs = 150;
    await write(2, 30);
    await waitFor(() => receiver.lines().length >= 30, 'the receiver to get 30 lines', 15_000);
    assert.deepEqual(receiver.lines(), sent);
    receiver.delayMs = 0;
    // the leader goes; the follower takes office and carries on from the cursor
    await leader.api.app.close();
    await waitFor(() => follower.api.app.get(DrainsForwarderService).forwarding, 'the follower to lead', 15_000);
    await write(31, 60);
    await waitFor(() => receiver.lines().length >= 60, 'the receiver to get 60 lines', 15_000);
    assert.deepEqual(receiver.lines(), sent, 'every line once, in order, across the change of leader');
    const view = await follower.request('GET', '/api/apps/drained/drains');
    assert.equal(view.body[0].delivered, 60);
  });
});
