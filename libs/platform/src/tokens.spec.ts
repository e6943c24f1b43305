import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import { ApiToken, App } from './model/entities';
import { suiteDatabase } from './testing/databases';
import {
  TOKEN_PATTERN,
  findToken,
  generateToken,
  hashToken,
  issueToken,
  scopedApps,
  tokenAllowsApp,
  tokenMayUseApp,
} from './tokens';

describe('api tokens', () => {
  const db = suiteDatabase('sqlite');
  let ds: DataSource;
  before(() => {
    ds = db();
  });

  it('are paas_ plus 40 base62 characters, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const token = generateToken();
      assert.match(token, TOKEN_PATTERN);
      seen.add(token);
    }
    assert.equal(seen.size, 500);
  });

  it('are stored as hashes and found again by the token only', async () => {
    const { token, record } = await issueToken(ds.manager, { name: 'ci', apps: ['web'] });
    const stored = await ds.manager.findOneByOrFail(ApiToken, { id: record.id });
    assert.equal(stored.hash, hashToken(token));
    assert.notEqual(stored.hash, token);
    assert.ok(!JSON.stringify(stored).includes(token.slice(5)), 'the secret part is not stored');
    assert.equal((await findToken(ds.manager, token))?.id, record.id);
    assert.equal(await findToken(ds.manager, generateToken()), null, 'unknown');
    for (const bad of ['', 'paas_', `${token}x`, token.toLowerCase(), "paas_' OR 1=1 --", 'Bearer x']) {
      assert.equal(await findToken(ds.manager, bad), null, bad);
    }
  });

  it('scope to listed apps, or every app, and admins reach everything', async () => {
    const scoped = (await issueToken(ds.manager, { name: 's', apps: ['a', 'b'] })).record;
    const all = (await issueToken(ds.manager, { name: 'all' })).record;
    const admin = (await issueToken(ds.manager, { name: 'root', apps: [], admin: true })).record;
    assert.equal(tokenAllowsApp(scoped, 'a'), true);
    assert.equal(tokenAllowsApp(scoped, 'c'), false);
    assert.equal(tokenAllowsApp(all, 'c'), true);
    assert.equal(tokenAllowsApp(admin, 'c'), true);
  });

  it("let a token scoped to an app use that app's review apps, made before or after it, and no other's", async () => {
    const scoped = (await issueToken(ds.manager, { name: 'rev', apps: ['web'] })).record;
    const web = ds.manager.create(App, { id: randomUUID(), name: 'web' });
    const shop = ds.manager.create(App, { id: randomUUID(), name: 'shop' });
    // one at a time: a bulk insert on SQLite may hand the rows' ids back to the wrong objects
    for (const app of [web, shop]) await ds.manager.insert(App, app);
    const review = ds.manager.create(App, { id: randomUUID(), name: 'web--x', parentId: web.id, branch: 'x' });
    const other = ds.manager.create(App, { id: randomUUID(), name: 'shop--x', parentId: shop.id, branch: 'x' });
    for (const app of [review, other]) await ds.manager.insert(App, app);
    assert.equal(await tokenMayUseApp(ds.manager, scoped, review), true);
    assert.equal(await tokenMayUseApp(ds.manager, scoped, other), false);
    assert.equal(tokenAllowsApp(scoped, 'web--x'), false, 'by name alone the parent is unknown');
    assert.deepEqual(await scopedApps(ds.manager, [review, other, web]), [
      { name: 'web--x', parent: 'web' },
      { name: 'shop--x', parent: 'shop' },
      { name: 'web', parent: null },
    ]);
    const node = (await issueToken(ds.manager, { name: 'node-rev', node: true })).record;
    assert.equal(await tokenMayUseApp(ds.manager, node, review), false);
  });

  it('make node tokens that reach no app, and never an admin or scoped node token', async () => {
    const node = (await issueToken(ds.manager, { name: 'node-1', node: true })).record;
    const stored = await ds.manager.findOneByOrFail(ApiToken, { id: node.id });
    assert.equal(stored.node, true);
    assert.equal(stored.admin, false);
    assert.equal(stored.apps, null);
    assert.equal(tokenAllowsApp(stored, 'c'), false, 'apps: null means every app, but not for a node token');
    assert.equal((await ds.manager.findOneByOrFail(ApiToken, { name: 'all' })).node, false, 'other kinds are not');
    await assert.rejects(issueToken(ds.manager, { name: 'x', node: true, admin: true }), /neither an admin/);
    await assert.rejects(issueToken(ds.manager, { name: 'x', node: true, apps: ['a'] }), /neither an admin/);
  });
});
