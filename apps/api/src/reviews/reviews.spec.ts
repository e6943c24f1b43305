import {
  Addon,
  ApiToken,
  App,
  Build,
  ConfigVar,
  Formation,
  formationAutoscale,
  gitEnv,
  issueToken,
  Node,
  Release,
} from '@paas/platform';
import { appPushLockKey } from '@paas/platform/builds';
import type { Redis } from 'ioredis';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IsNull, Not } from 'typeorm';
import { appNamed, createApp, deployRelease, insertBuild, insertNode } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';
import { REDIS } from '../core/tokens';
import { ReviewsService } from './reviews.service';

const DAY = 86_400_000;

/** git, not blocking the event loop: the api answering it runs in this process. */
function gitAsync(args: string[], cwd?: string): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd, env: gitEnv() }, (err, _stdout, stderr) =>
      resolve({ status: err ? Number((err as { code?: unknown }).code ?? 1) || 1 : 0, stderr: String(stderr) }),
    );
  });
}

for (const kind of TEST_DATABASES) {
  describe(`review apps on ${kind}`, { timeout: 60_000 }, () => {
    let api: TestApi;
    let reviews: ReviewsService;
    let web: App;
    let adminToken: ApiToken;
    let node: Node;
    const work = mkdtempSync(join(tmpdir(), 'paas-review-work-'));
    before(async () => {
      api = await startTestApi(kind, {
        PAAS_SCHEDULER: 'off',
        PAAS_DOMAIN: 'apps.test',
        PAAS_ROUTER_ADDR: '0.0.0.0:9090',
        PAAS_ADDON_PORTS: '20100-20103',
        PAAS_REVIEW_APPS_TTL: '2d',
        PAAS_REVIEW_APPS_MAX: '3',
      });
      reviews = api.api.app.get(ReviewsService);
      web = await createApp(api, 'web');
      await createApp(api, 'other');
      adminToken = await api.dataSource.manager.findOneByOrFail(ApiToken, { admin: true, node: false });
    });
    after(async () => {
      await api?.close();
      rmSync(work, { recursive: true, force: true });
    });

    const make = async (...args: Parameters<ReviewsService['create']>): Promise<App> =>
      (await reviews.create(...args)).app;
    /** Its release went live, as a push's would. */
    const release = async (app: App): Promise<void> => {
      const made = await deployRelease(api, app);
      await api.dataSource.manager.update(Release, { id: made.id }, { status: 'live' });
    };

    const varsOf = async (app: App): Promise<Record<string, string>> =>
      Object.fromEntries(
        (await api.dataSource.manager.find(ConfigVar, { where: { appId: app.id } })).map((v) => [v.key, v.value]),
      );

    it("copies the parent's vars without its add-ons' URLs, app.json's env over them, and links it to parent and branch", async () => {
      node = await insertNode(api, 'node-1');
      await api.dataSource.manager.update(Node, { id: node.id }, { serviceAddress: '10.0.0.1' });
      assert.equal(
        (await api.request('PATCH', '/api/apps/web/config-vars', { body: { A: '1', MODE: 'prod' } })).status,
        200,
      );
      const made = await api.request('POST', '/api/apps/web/addons', { body: { type: 'redis' } });
      assert.equal(made.status, 201, made.text);
      assert.ok((await varsOf(web))['REDIS_URL'], 'the parent has its add-on');

      const review = await make(web, 'feature/X', { addons: [], env: { MODE: 'review', EXTRA: 'yes' } }, adminToken);
      assert.equal(review.name, 'web--feature-x');
      assert.equal(review.parentId, web.id);
      assert.equal(review.branch, 'feature/X');
      assert.deepEqual(await varsOf(review), { A: '1', MODE: 'review', EXTRA: 'yes' }, 'no REDIS_URL of the parent');

      const view = await api.request('GET', '/api/apps/web--feature-x');
      assert.equal(view.body.webUrl, 'http://web--feature-x.apps.test:9090', 'its own host');
      assert.deepEqual(view.body.review, { parent: 'web', branch: 'feature/X' });
      assert.equal((await api.request('GET', '/api/apps/web')).body.review, null);

      // later changes of the parent's vars are not the review app's
      await api.request('PATCH', '/api/apps/web/config-vars', { body: { A: '2' } });
      assert.equal((await varsOf(review))['A'], '1');
      assert.ok((await apiLogLines(api, web.id)).includes('Created review app web--feature-x for feature/X by admin'));
    });

    it('sleeps when idle by default: its web is autoscaled 0..1 from the start, kept by its first release', async () => {
      const review = await make(web, 'sleepy', { addons: [], env: {} }, adminToken);
      const row = await api.dataSource.manager.findOneByOrFail(Formation, { appId: review.id, type: 'web' });
      assert.deepEqual(
        { quantity: row.quantity, autoscale: formationAutoscale(row) },
        { quantity: 1, autoscale: { min: 0, max: 1, concurrency: 20, idleMs: 30 * 60_000 } },
      );
      await release(review);
      const view = await api.request('GET', `/api/apps/${review.name}/formation`);
      assert.equal(view.status, 200, view.text);
      assert.deepEqual(
        view.body.map((f: { type: string; autoscale: unknown }) => [f.type, f.autoscale]),
        [['web', { min: 0, max: 1, concurrency: 20, idleMs: 30 * 60_000, idle: '30m', hardLimit: null }]],
      );
      assert.equal(
        await api.dataSource.manager.countBy(Formation, { appId: web.id, autoscaleMin: Not(IsNull()) }),
        0,
        'the parent is not autoscaled',
      );
      await reviews.destroy(review, 'the spec is done with it');
    });

    it('a second branch of the same slug gets a hashed name; a push of the same branch finds its app', async () => {
      const other = await make(web, 'feature-x', { addons: [], env: {} }, adminToken);
      assert.match(other.name, /^web--feature-x-[0-9a-f]{7}$/);
      assert.equal((await reviews.find(web, 'feature-x'))?.id, other.id);
      const again = await reviews.create(web, 'feature/X', { addons: [], env: {} }, adminToken);
      assert.equal(again.app.name, 'web--feature-x', 'a racing push gets the one made first');
      assert.equal(again.made, false, 'and is told it did not make it');
      await reviews.destroy(other, 'spec');
    });

    it('makes fresh add-ons that app.json asks for; they go with the review app', async () => {
      const review = await make(web, 'with-db', { addons: ['redis'], env: {} }, adminToken);
      const vars = await varsOf(review);
      assert.ok(vars['REDIS_URL'], 'its own add-on');
      assert.notEqual(vars['REDIS_URL'], (await varsOf(web))['REDIS_URL'], 'not the parent’s');
      const own = await api.dataSource.manager.findOneByOrFail(Addon, { appId: review.id });
      await reviews.destroy(review, 'spec');
      assert.equal((await api.dataSource.manager.findOneBy(Addon, { id: own.id }))?.state ?? 'gone', 'destroying');
      assert.equal(await appNamed(api, review.name).catch(() => null), null);
    });

    it('leaves nothing when its add-ons cannot be made', async () => {
      await api.dataSource.manager.update(Node, { id: node.id }, { state: 'down' });
      try {
        await assert.rejects(
          make(web, 'no-room', { addons: ['postgres'], env: {} }, adminToken),
          /the add-ons of review app web--no-room could not be made/,
        );
        assert.equal(await reviews.find(web, 'no-room'), null);
      } finally {
        await api.dataSource.manager.update(Node, { id: node.id }, { state: 'up' });
      }
    });

    it("the parent's tokens may use it; another app's token may not see or push it", async () => {
      const { token: own, record } = await issueToken(api.dataSource.manager, { name: 'ci', apps: ['web'] });
      const { token: foreign } = await issueToken(api.dataSource.manager, { name: 'intruder', apps: ['other'] });
      const review = await make(web, 'scoped', { addons: [], env: {} }, record);
      assert.equal((await api.request('GET', `/api/apps/${review.name}`, { token: own })).status, 200);
      assert.equal((await api.request('GET', '/api/apps/web/reviews', { token: own })).status, 200);
      assert.equal((await api.request('GET', `/api/apps/${review.name}`, { token: foreign })).status, 403);
      assert.equal((await api.request('GET', '/api/apps/web/reviews', { token: foreign })).status, 403);
      const basic = `Authorization: Basic ${Buffer.from(`x:${foreign}`).toString('base64')}`;
      const refused = await gitAsync([
        '-c',
        `http.extraHeader=${basic}`,
        'ls-remote',
        `${api.url}/git/${review.name}.git`,
      ]);
      assert.notEqual(refused.status, 0);
      assert.match(refused.stderr, /403/);
      assert.deepEqual((await api.dataSource.manager.findOneByOrFail(ApiToken, { id: record.id })).apps, ['web']);

      // a token made after the review app: the same rule, REST and git alike
      const { token: later } = await issueToken(api.dataSource.manager, { name: 'ci-later', apps: ['web'] });
      assert.equal((await api.request('GET', `/api/apps/${review.name}`, { token: later })).status, 200);
      const listed = await api.request('GET', '/api/apps', { token: later });
      assert.deepEqual(
        listed.body.map((a: { name: string }) => a.name),
        ['web', 'web--feature-x', review.name],
      );
      const laterBasic = `Authorization: Basic ${Buffer.from(`x:${later}`).toString('base64')}`;
      const seen = await gitAsync([
        '-c',
        `http.extraHeader=${laterBasic}`,
        'ls-remote',
        `${api.url}/git/${review.name}.git`,
      ]);
      assert.equal(seen.status, 0, seen.stderr);
      await reviews.destroy(review, 'spec');
    });

    it('refuses a branch name too long to record, and a review app past PAAS_REVIEW_APPS_MAX', async () => {
      await assert.rejects(
        make(web, `feature/${'x'.repeat(250)}`, { addons: [], env: {} }, adminToken),
        /branch name too long for a review app: 258 characters, at most 255/,
      );
      const other = await appNamed(api, 'other');
      const made: App[] = [];
      try {
        for (const n of [1, 2, 3]) made.push(await make(other, `b${n}`, { addons: [], env: {} }, adminToken));
        await assert.rejects(
          make(other, 'b4', { addons: [], env: {} }, adminToken),
          /other has 3 review apps, the most allowed \(PAAS_REVIEW_APPS_MAX=3\)/,
        );
        assert.equal(await reviews.find(other, 'b4'), null);
        // a branch that has its review app still finds it
        assert.equal((await reviews.create(other, 'b1', { addons: [], env: {} }, adminToken)).made, false);
      } finally {
        for (const app of made) await reviews.destroy(app, 'spec');
      }
    });

    it('lists them with branch, URL, last push and state', async () => {
      const list = await api.request('GET', '/api/apps/web/reviews');
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(
        list.body.map((r: { name: string; branch: string; url: string; state: string }) => [
          r.name,
          r.branch,
          r.url,
          r.state,
        ]),
        [['web--feature-x', 'feature/X', 'http://web--feature-x.apps.test:9090', 'no release']],
      );
    });

    it("a push deleting the branch removes its review app; a malformed app.json refuses a branch's first push", async () => {
      const remote = `${api.url}/git/web.git`;
      const auth = [
        '-c',
        `http.extraHeader=Authorization: Basic ${Buffer.from(`x:${api.adminToken}`).toString('base64')}`,
      ];
      const git = (...args: string[]): string =>
        execFileSync('git', [...auth, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
          cwd: work,
          env: gitEnv(),
          stdio: 'pipe',
        }).toString();
      execFileSync('git', ['init', '--quiet', '--initial-branch=main', work], { env: gitEnv() });
      writeFileSync(join(work, 'app.json'), JSON.stringify({ environments: { review: { env: { A: 1 } } } }));
      git('add', 'app.json');
      git('commit', '--quiet', '-m', 'bad app.json');
      const pushed = await gitAsync([...auth, 'push', remote, 'HEAD:refs/heads/feature/X2'], work);
      assert.notEqual(pushed.status, 0);
      const said = pushed.stderr;
      assert.match(said, /app\.json environments\.review\.env\.A: expected a string/);
      assert.match(said, /\[remote rejected\]/);
      assert.equal(await reviews.find(web, 'feature/X2'), null, 'nothing made');

      // the branch exists in the parent's repository once its first push released; here, by hand
      const repo = join(api.root, 'platform', 'git', 'web.git');
      execFileSync('git', ['--git-dir', repo, 'update-ref', 'refs/heads/feature/X', git('rev-parse', 'HEAD').trim()], {
        env: gitEnv(),
      });
      const deleted = await gitAsync([...auth, 'push', remote, '--delete', 'feature/X'], work);
      const out = deleted.stderr;
      assert.equal(deleted.status, 0, out);
      assert.match(out, /remote: -----> Destroyed review app web--feature-x with feature\/X/);
      assert.equal(await reviews.find(web, 'feature/X'), null);
      assert.ok(
        (await apiLogLines(api, web.id)).includes(
          'Removed review app web--feature-x (feature/X): feature/X deleted by admin',
        ),
      );
    });

    it('the leader removes a review app left without a release an hour after its last push', async () => {
      const orphan = await make(web, 'orphan', { addons: [], env: {} }, adminToken);
      const live = await make(web, 'live', { addons: [], env: {} }, adminToken);
      await release(live);
      try {
        const now = Date.now();
        assert.deepEqual(await reviews.expire(now + 10 * 60_000), [], 'its push may still be on its way');
        assert.deepEqual(await reviews.expire(now + 2 * 3_600_000), ['web--orphan']);
        assert.ok(
          (await apiLogLines(api, web.id)).some((line) =>
            line.startsWith(`Removed review app ${orphan.name} (orphan): no release 2h after its last push`),
          ),
        );
      } finally {
        await reviews.destroy(live, 'spec');
      }
    });

    it('expiry reads the last push again once it holds the review app: a push that ended meanwhile keeps it', async () => {
      const racy = await make(web, 'racy', { addons: [], env: {} }, adminToken);
      await release(racy);
      const now = Date.now() + 3 * DAY;
      const redis = api.api.app.get<Redis>(REDIS);
      const set = redis.set.bind(redis);
      // a push of the branch runs between expiry's first look and its taking the push lock
      redis.set = (async (...args: Parameters<typeof set>) => {
        if (args[0] === appPushLockKey(racy.id)) {
          const build = await insertBuild(api, racy, 1, { status: 'succeeded' });
          await api.dataSource.manager.update(Build, { id: build.id }, { createdAt: new Date(now - 1000) });
        }
        return set(...args);
      }) as typeof redis.set;
      try {
        assert.deepEqual(await reviews.expire(now), []);
      } finally {
        redis.set = set;
      }
      assert.ok((await reviews.find(web, 'racy')) !== null, 'pushed a moment ago');
      await reviews.destroy(racy, 'spec');
    });

    it('the leader removes review apps without a push for the TTL, in the parent’s log; a recent push keeps one', async () => {
      const idle = await make(web, 'idle', { addons: [], env: {} }, adminToken);
      const busy = await make(web, 'busy', { addons: [], env: {} }, adminToken);
      await release(idle);
      await release(busy);
      const now = Date.now();
      assert.deepEqual(await reviews.expire(now + DAY), [], 'not yet');
      // its push, two days on
      const build = await insertBuild(api, busy, 1, { status: 'succeeded' });
      await api.dataSource.manager.update(Build, { id: build.id }, { createdAt: new Date(now + 2 * DAY) });
      assert.deepEqual(await reviews.expire(now + 2 * DAY + 1000), ['web--idle']);
      assert.equal(await reviews.find(web, 'idle'), null);
      assert.ok((await reviews.find(web, 'busy')) !== null, 'pushed a moment ago');
      assert.ok(
        (await apiLogLines(api, web.id)).some((line) =>
          line.startsWith(`Removed review app ${idle.name} (idle): no push for 2d (PAAS_REVIEW_APPS_TTL 2d)`),
        ),
      );
    });

    it('destroying the parent destroys its review apps', async () => {
      const left = await api.dataSource.manager.countBy(App, { parentId: web.id });
      assert.ok(left > 0);
      assert.equal((await api.request('DELETE', '/api/apps/web')).status, 200);
      assert.equal(await api.dataSource.manager.countBy(App, { parentId: web.id }), 0);
    });
  });
}
