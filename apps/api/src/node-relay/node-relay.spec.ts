import {
  NODE_LOG_MAX_BYTES,
  NODE_LOG_MAX_LINE,
  NODE_LOG_MAX_LINES,
  appLogKey,
  issueToken,
  tailLog,
} from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RedisNodeNotifier } from '../scheduler/scheduler-redis';
import { openEvents } from '../testing/events';
import { createApp, deployRelease, insertInstance, insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';

/** The app's log as `source: line`, oldest first, without the api's own lines. */
async function instanceLines(api: TestApi, appId: string): Promise<string[]> {
  return (await tailLog(api.redis, appLogKey(appId), 1000))
    .filter((e) => e.source !== 'api')
    .map((e) => `${e.source}: ${e.line}`);
}

for (const kind of TEST_DATABASES) {
  describe(`a node's instance output through the api, on ${kind}`, () => {
    let api: TestApi;
    let nodeToken: string;
    before(async () => {
      api = await startTestApi(kind, { PAAS_SCHEDULER: 'off' });
      ({ token: nodeToken } = await issueToken(api.dataSource.manager, { name: 'agents', node: true }));
    });
    after(async () => {
      await api?.close();
    });

    it("writes a batch into each instance's app log, in order, named by the instance (web.1)", async () => {
      const node = await insertNode(api, 'logs-a');
      const shop = await createApp(api, 'logs-shop');
      const blog = await createApp(api, 'logs-blog');
      const [web1, web2, worker] = [
        await insertInstance(api, shop, await deployRelease(api, shop), 'web', 1, node),
        await insertInstance(api, shop, await deployRelease(api, shop), 'web', 2, node),
        await insertInstance(api, blog, await deployRelease(api, blog), 'worker', 1, node),
      ];
      const res = await api.request('POST', '/api/nodes/logs-a/logs', {
        token: nodeToken,
        body: {
          lines: [
            { instance: web1.id, line: 'listening on 5000' },
            { instance: worker.id, line: 'tick' },
            { instance: web2.id, line: 'listening too' },
            { instance: web1.id, line: 'GET / 200' },
            { instance: randomUUID(), line: 'of an instance that is gone' },
          ],
        },
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { written: 4, unknown: 1 });
      assert.deepEqual(await instanceLines(api, shop.id), [
        'web.1: listening on 5000',
        'web.2: listening too',
        'web.1: GET / 200',
      ]);
      assert.deepEqual(await instanceLines(api, blog.id), ['worker.1: tick']);
    });

    it("refuses (403) a batch naming another node's instance, and writes none of it", async () => {
      const mine = await insertNode(api, 'logs-mine');
      const theirs = await insertNode(api, 'logs-theirs');
      const app = await createApp(api, 'logs-victim');
      const release = await deployRelease(api, app);
      const own = await insertInstance(api, app, release, 'web', 1, mine);
      const other = await insertInstance(api, app, release, 'web', 2, theirs);
      const res = await api.request('POST', '/api/nodes/logs-mine/logs', {
        token: nodeToken,
        body: {
          lines: [
            { instance: own.id, line: 'mine' },
            { instance: other.id, line: 'injected' },
          ],
        },
      });
      assert.equal(res.status, 403, res.text);
      assert.match(
        res.body.message,
        new RegExp(`lines\\[1\\]: instance ${other.id} is not placed on node 'logs-mine'`),
      );
      assert.deepEqual(await instanceLines(api, app.id), [], 'nothing of the batch was written');
      // placed on no node at all (not yet, or any more): refused too
      const unplaced = await insertInstance(api, app, release, 'web', 3, null);
      const res2 = await api.request('POST', '/api/nodes/logs-mine/logs', {
        token: nodeToken,
        body: { lines: [{ instance: unplaced.id, line: 'x' }] },
      });
      assert.equal(res2.status, 403, res2.text);
      const unknownNode = await api.request('POST', '/api/nodes/nowhere/logs', {
        token: nodeToken,
        body: { lines: [{ instance: own.id, line: 'x' }] },
      });
      assert.equal(unknownNode.status, 404, unknownNode.text);
    });

    it('refuses too big a batch with 413 saying which limit, and a malformed one with 400 saying where', async () => {
      const node = await insertNode(api, 'logs-limits');
      const app = await createApp(api, 'logs-limits');
      const one = await insertInstance(api, app, await deployRelease(api, app), 'web', 1, node);
      const post = (body: unknown) => api.request('POST', '/api/nodes/logs-limits/logs', { token: nodeToken, body });

      const many = await post({
        lines: Array.from({ length: NODE_LOG_MAX_LINES + 1 }, () => ({ instance: one.id, line: 'x' })),
      });
      assert.equal(many.status, 413, many.text);
      assert.match(
        many.body.message,
        new RegExp(`at most ${NODE_LOG_MAX_LINES} lines; this one has ${NODE_LOG_MAX_LINES + 1}`),
      );
      const long = 'y'.repeat(NODE_LOG_MAX_LINE);
      const heavy = await post({
        lines: Array.from({ length: Math.ceil(NODE_LOG_MAX_BYTES / NODE_LOG_MAX_LINE) + 1 }, () => ({
          instance: one.id,
          line: long,
        })),
      });
      assert.equal(heavy.status, 413, heavy.text);
      assert.match(heavy.body.message, new RegExp(`at most ${NODE_LOG_MAX_BYTES} bytes`));

      // [what, body, the field that is wrong, the rule it breaks]
      const cases: [string, unknown, string, string][] = [
        ['no lines', {}, 'lines', 'isArray'],
        [
          'an instance that is no UUID',
          {
            lines: [
              { instance: one.id, line: 'a' },
              { instance: 'web.1', line: 'b' },
            ],
          },
          'lines.1.instance',
          'matches',
        ],
        ['a line that is no string', { lines: [{ instance: one.id, line: 7 }] }, 'lines.0.line', 'isString'],
        ['a line too long', { lines: [{ instance: one.id, line: `${long}z` }] }, 'lines.0.line', 'maxLength'],
        [
          'an unknown field',
          { lines: [{ instance: one.id, line: 'a', source: 'api' }] },
          'lines.0.source',
          'unknownField',
        ],
        ['a line that is no object', { lines: ['hello'] }, 'lines.0', 'nestedValidation'],
      ];
      for (const [what, body, field, rule] of cases) {
        const res = await post(body);
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        const details = res.body.details as { field: string; rule: string }[];
        assert.deepEqual(
          details.map((d) => [d.field, d.rule]),
          [[field, rule]],
          what,
        );
      }
      assert.equal((await post('not json')).status, 400);
      assert.deepEqual(await instanceLines(api, app.id), [], 'nothing was written');
    });

    it('refuses a node credential bound to another node, before looking at the lines', async () => {
      const node = await insertNode(api, 'logs-bound');
      const app = await createApp(api, 'logs-bound');
      const own = await insertInstance(api, app, await deployRelease(api, app), 'web', 1, node);
      const { token: bound } = await issueToken(api.dataSource.manager, {
        name: 'node-logs-bound',
        node: true,
        nodeName: 'logs-bound',
      });
      const { token: other } = await issueToken(api.dataSource.manager, {
        name: 'node-elsewhere',
        node: true,
        nodeName: 'elsewhere',
      });
      const body = { lines: [{ instance: own.id, line: 'from its own node' }] };
      const refused = await api.request('POST', '/api/nodes/logs-bound/logs', { token: other, body });
      assert.equal(refused.status, 403, refused.text);
      assert.match(refused.body.message, /belongs to node elsewhere/);
      const events = await api.request('GET', '/api/nodes/logs-bound/events', { token: other });
      assert.equal(events.status, 403, events.text);
      const taken = await api.request('POST', '/api/nodes/logs-bound/logs', { token: bound, body });
      assert.equal(taken.status, 200, taken.text);
      assert.deepEqual(await instanceLines(api, app.id), ['web.1: from its own node']);
    });

    it('is a node route: an app token may not write', async () => {
      const { token } = await issueToken(api.dataSource.manager, { name: 'an-app', apps: [] });
      const res = await api.request('POST', '/api/nodes/logs-a/logs', { token, body: { lines: [] } });
      assert.equal(res.status, 403, res.text);
    });
  });
}

describe("a node's nudges through the api, from any replica", () => {
  let a: TestApi;
  let b: TestApi;
  let nodeToken: { a: string; b: string };
  before(async () => {
    a = await startTestApi('sqlite', { PAAS_SCHEDULER: 'off' });
    // a second replica on the same Redis (its own database is enough for the nudges)
    b = await startTestApi('sqlite', { PAAS_SCHEDULER: 'off', REDIS_URL: `unix://${a.redis.options.path ?? ''}` });
    nodeToken = {
      a: (await issueToken(a.dataSource.manager, { name: 'agents', node: true })).token,
      b: (await issueToken(b.dataSource.manager, { name: 'agents', node: true })).token,
    };
    for (const api of [a, b]) {
      await insertNode(api, 'nudged');
      await insertNode(api, 'other');
    }
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it("hands the scheduler's nudge of a node to that node's open streams on every replica, and no other node's", async (t) => {
    const onA = await openEvents(a.url, '/api/nodes/nudged/events', nodeToken.a);
    const onB = await openEvents(b.url, '/api/nodes/nudged/events', nodeToken.b);
    const other = await openEvents(b.url, '/api/nodes/other/events', nodeToken.b);
    t.after(() => [onA, onB, other].forEach((s) => s.close()));
    for (const stream of [onA, onB, other]) {
      assert.equal(stream.status, 200);
      assert.equal((await stream.next()).event, 'ready');
    }
    await new RedisNodeNotifier(a.redis).wake(new Set(['nudged']));
    assert.equal((await onA.next()).event, 'nudge');
    assert.equal((await onB.next()).event, 'nudge');
    await new RedisNodeNotifier(b.redis).wake(new Set(['other']));
    assert.equal((await other.next()).event, 'nudge', 'the other node hears only its own');
    await new RedisNodeNotifier(a.redis).wake(new Set(['nudged']));
    assert.equal((await onB.next()).event, 'nudge');
  });

  it('answers 404 for a node that is not registered, and is closed to app tokens', async () => {
    const unknown = await a.request('GET', '/api/nodes/nobody/events', { token: nodeToken.a });
    assert.equal(unknown.status, 404, unknown.text);
    const { token } = await issueToken(a.dataSource.manager, { name: 'an-app', apps: [] });
    const res = await a.request('GET', '/api/nodes/nudged/events', { token });
    assert.equal(res.status, 403, res.text);
  });
});
