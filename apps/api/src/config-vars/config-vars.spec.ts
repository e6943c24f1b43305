import { type App, CONFIG_VALUE_MAX, ConfigVar, Release } from '@paas/platform';
import { TEST_DATABASES } from '@paas/platform/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp, deployRelease } from '../testing/fixtures';
import { type TestApi, startTestApi } from '../testing/harness';
import { apiLogLines } from '../testing/logs';

for (const kind of TEST_DATABASES) {
  describe(`config vars on ${kind}`, () => {
    let api: TestApi;
    let app: App;
    const path = '/api/apps/conf/config-vars';
    const releases = (): Promise<Release[]> =>
      api.dataSource.manager.find(Release, { where: { appId: app.id }, order: { version: 'ASC' } });
    before(async () => {
      api = await startTestApi(kind);
      app = await createApp(api, 'conf');
    });
    after(async () => {
      await api?.close();
    });

    it('starts empty', async () => {
      const res = await api.request('GET', path);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {});
    });

    it('sets vars with a new release that keeps the image, and says so in the app log', async () => {
      const deployed = await deployRelease(api, app);
      const res = await api.request('PATCH', path, {
        body: { DATABASE_URL: 'postgres://db/x', lower_case: 'ok', EMPTY: '' },
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { DATABASE_URL: 'postgres://db/x', EMPTY: '', lower_case: 'ok' });
      assert.deepEqual((await api.request('GET', path)).body, res.body);
      const [, v2] = await releases();
      assert.equal(v2?.version, 2);
      assert.equal(v2?.imageRef, deployed.imageRef);
      assert.deepEqual(v2?.processTypes, deployed.processTypes);
      assert.deepEqual(v2?.config, res.body);
      assert.equal(v2?.createdBy, 'admin');
      assert.deepEqual(await apiLogLines(api, app.id), [
        'Created app conf by admin',
        'Set DATABASE_URL, lower_case, EMPTY config vars by admin',
        'Release v2 created by admin',
      ]);
    });

    it('unsets with null and changes values, in one release', async () => {
      const res = await api.request('PATCH', path, { body: { EMPTY: null, lower_case: 'changed', NOT_THERE: null } });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { DATABASE_URL: 'postgres://db/x', lower_case: 'changed' });
      const all = await releases();
      assert.equal(all.length, 3);
      assert.match(all[2]?.description ?? '', /Set lower_case config vars; Remove EMPTY config vars/);
    });

    it('makes no release when nothing changes', async () => {
      for (const body of [{}, { lower_case: 'changed' }, { GONE: null }]) {
        const res = await api.request('PATCH', path, { body });
        assert.equal(res.status, 200);
      }
      assert.equal((await releases()).length, 3);
    });

    it('takes values with newlines and other control characters an environment holds', async () => {
      const value = '-----BEGIN KEY-----\nabc\r\n\t\u001b[0m\u007f-----END KEY-----\n';
      const res = await api.request('PATCH', path, { body: { PEM: value } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.PEM, value);
      assert.equal((await api.request('PATCH', path, { body: { PEM: null } })).status, 200);
    });

    it('takes values up to 32 KiB', async () => {
      const res = await api.request('PATCH', path, { body: { BIG: 'é'.repeat(CONFIG_VALUE_MAX / 2) } });
      assert.equal(res.status, 200);
      assert.equal(res.body.BIG.length, CONFIG_VALUE_MAX / 2);
    });

    it('refuses bad keys, non-string values and huge values, changing nothing', async () => {
      const before = await api.dataSource.manager.countBy(ConfigVar, { appId: app.id });
      const cases: Array<[Record<string, unknown>, string, string]> = [
        [{ '1ABC': 'x' }, '1ABC', 'configKey'],
        [{ 'WITH-DASH': 'x' }, 'WITH-DASH', 'configKey'],
        [{ 'SP ACE': 'x' }, 'SP ACE', 'configKey'],
        [{ '': 'x' }, '', 'configKey'],
        [{ ['K'.repeat(256)]: 'x' }, 'K'.repeat(256), 'configKey'],
        [{ NUM: 42 }, 'NUM', 'isString'],
        [{ BOOL: true }, 'BOOL', 'isString'],
        [{ OBJ: { a: 1 } }, 'OBJ', 'isString'],
        [{ LIST: ['a'] }, 'LIST', 'isString'],
        [{ HUGE: 'x'.repeat(CONFIG_VALUE_MAX + 1) }, 'HUGE', 'maxLength'],
        [{ NUL: 'a\u0000b' }, 'NUL', 'configValue'],
        [{ TRAILING_NUL: 'x\u0000' }, 'TRAILING_NUL', 'configValue'],
        [{ 'K\u0000EY': 'x' }, 'K\u0000EY', 'configKey'],
        [{ 'KEY\n': 'x' }, 'KEY\n', 'configKey'],
        [{ 'A=B': 'x' }, 'A=B', 'configKey'],
        [{ '..': 'x' }, '..', 'configKey'],
        [{ '../X': 'x' }, '../X', 'configKey'],
      ];
      for (const [body, field, rule] of cases) {
        const res = await api.request('PATCH', path, { body: { GOOD: 'would be set', ...body } });
        assert.equal(res.status, 400, `${field}: ${res.text.slice(0, 200)}`);
        assert.equal(res.body.code, 'invalid_params');
        assert.deepEqual(
          res.body.details.map((d: { field: string; rule: string }) => [d.field, d.rule]),
          [[field, rule]],
        );
      }
      for (const body of ['[]', '"x"', '{"A":']) {
        assert.equal((await api.request('PATCH', path, { body })).status, 400, body);
      }
      assert.equal(await api.dataSource.manager.countBy(ConfigVar, { appId: app.id }), before);
      assert.equal((await api.request('GET', path)).body.GOOD, undefined);
      assert.equal((await releases()).length, 6);
    });

    it('gives each of concurrent changes its own release', async () => {
      const results = await Promise.all(
        ['A', 'B', 'C', 'D'].map((key) => api.request('PATCH', path, { body: { [key]: key } })),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200],
      );
      const all = await releases();
      assert.deepEqual(
        all.map((r) => r.version),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      const config = (await api.request('GET', path)).body;
      assert.deepEqual([config.A, config.B, config.C, config.D], ['A', 'B', 'C', 'D']);
    });
  });
}
