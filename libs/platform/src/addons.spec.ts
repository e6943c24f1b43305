import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ADDON_NAME,
  ADDON_SERVICES,
  ATTACHMENT_NAME,
  addonVisibleTo,
  addonVolume,
  attachmentVar,
  generateAddonName,
  generateAddonPassword,
  reportedAddonState,
} from './addons';
import type { ApiToken } from './model/entities';

describe('add-ons', () => {
  it('are named as Heroku names them, and each name makes a valid volume name', () => {
    for (const type of ['postgres', 'redis'] as const) {
      const name = generateAddonName(type);
      assert.match(name, new RegExp(`^${type}-[a-z]+-\\d{5}$`));
      assert.ok(ADDON_NAME.test(name), name);
      const id = '0f3a9c1e-2b4d-4e6f-8a0b-1c2d3e4f5a6b';
      assert.equal(addonVolume(name, id), `addon-${name}-0f3a9c1e`);
      assert.match(addonVolume(name, id), /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
    }
  });

  it('get 32 url-safe random characters as a password', () => {
    const a = generateAddonPassword();
    assert.match(a, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(a, generateAddonPassword());
  });

  it("give attached apps a URL with the node's service address and the add-on's port", () => {
    assert.equal(
      ADDON_SERVICES.postgres.url('pw', '10.0.0.2', 20001),
      'postgres://postgres:pw@10.0.0.2:20001/postgres',
    );
    assert.equal(ADDON_SERVICES.redis.url('pw', 'fd00::2', 20002), 'redis://default:pw@[fd00::2]:20002');
    assert.equal(attachmentVar(ADDON_SERVICES.postgres.attachAs), 'DATABASE_URL');
    assert.equal(attachmentVar(ADDON_SERVICES.redis.attachAs), 'REDIS_URL');
  });

  it('take attachment names that make environment variable names', () => {
    for (const good of ['DATABASE', 'HEROKU_POSTGRESQL_AMBER', 'A1']) assert.ok(ATTACHMENT_NAME.test(good), good);
    for (const bad of ['database', '1DB', 'DB-1', '', 'A'.repeat(60)]) assert.ok(!ATTACHMENT_NAME.test(bad), bad);
  });

  it('read the states of their containers as add-on states', () => {
    assert.deepEqual(
      (['starting', 'up', 'crashed', 'stopping'] as const).map((s) => reportedAddonState(s)),
      ['creating', 'up', 'crashed', null],
    );
    assert.equal(reportedAddonState('crashed', true), 'failed', 'its node will not try again');
    assert.equal(reportedAddonState('starting', true), 'creating');
  });

  it('keep the password of a redis add-on out of its command line', () => {
    assert.deepEqual(ADDON_SERVICES.redis.env('pw'), { REDIS_PASSWORD: 'pw' });
  });

  it('are seen by admin and unscoped tokens, by a scoped token through an attached app only, never by node tokens', () => {
    const token = (t: Partial<ApiToken>): ApiToken => ({ admin: false, apps: null, node: false, ...t }) as ApiToken;
    const shop = token({ apps: ['shop'] });
    assert.equal(addonVisibleTo(token({ admin: true }), []), true);
    assert.equal(addonVisibleTo(token({}), ['blog']), true);
    // a destroyed add-on (no app holds it) only for those who see every add-on
    assert.equal(addonVisibleTo(shop, []), false);
    assert.equal(addonVisibleTo(shop, ['blog', 'shop']), true);
    assert.equal(addonVisibleTo(shop, ['blog']), false);
    assert.equal(addonVisibleTo(token({ node: true }), ['shop']), false);
    assert.equal(addonVisibleTo(token({ node: true, apps: null }), []), false);
  });
});
