/** pg:backups* through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';
import { parseHour } from './actions';

describe('paas pg:backups', () => {
  const t = platformCli();
  before(() => {
    t.api.addApp('shop');
    t.api.addApp('two');
    t.api.addApp('bare');
    t.api.backups.addAddon('pg-shop', 'postgres', ['shop']);
    t.api.backups.addAddon('redis-shop', 'redis', ['shop']);
    t.api.backups.addAddon('pg-one', 'postgres', ['two']);
    t.api.backups.addAddon('pg-other', 'postgres', ['two']);
  });

  it("captures a backup of the app's only postgres add-on and lists it", async () => {
    assert.equal(
      (await t.ok('pg:backups', '-a', 'shop')).out,
      '=== shop Backups\nNo backups. Capture one with: paas pg:backups:capture -a shop\n',
    );
    const captured = await t.ok('pg:backups:capture', '-a', 'shop');
    assert.equal(captured.err, 'Backing up pg-shop to b001... done, 15 B\n');
    const list = (await t.ok('pg:backups', '-a', 'shop')).out.split('\n');
    assert.equal(list[0], '=== shop Backups');
    assert.equal(list[1], 'ID    Created               Status                          Size  Database');
    assert.match(
      list[2] ?? '',
      /^b001 {2}\d{4}-\d\d-\d\d \d\d:\d\d UTC {2}Completed \d{4}-\d\d-\d\d \d\d:\d\d UTC {2}15 B {2}pg-shop$/,
    );
    const json = JSON.parse((await t.ok('pg:backups', '-a', 'shop', '--json')).out);
    assert.deepEqual(
      json.map((b: { name: string; state: string }) => [b.name, b.state]),
      [['b001', 'succeeded']],
    );
  });

  it('says why a capture failed, and exits 1', async () => {
    t.api.backups.nextCapture = { failed: 'pg_dump failed: connection refused' };
    try {
      const r = await t.cli(['pg:backups:capture', 'DATABASE_URL', '-a', 'shop']);
      assert.equal(r.code, 1);
      assert.equal(
        r.err,
        'Backing up pg-shop to b002... failed\npaas: backup b002 of pg-shop failed: pg_dump failed: connection refused\n',
      );
    } finally {
      t.api.backups.nextCapture = { bytes: Buffer.from('PGDMP fake dump') };
    }
  });

  it('asks for the add-on when the app has several or none, and refuses redis', async () => {
    const several = await t.cli(['pg:backups:capture', '-a', 'two']);
    assert.equal(several.code, 1);
    assert.equal(several.err, 'paas: two has several postgres add-ons (pg-one, pg-other): name one\n');
    assert.equal(
      (await t.ok('pg:backups:capture', 'pg-other', '-a', 'two')).err,
      'Backing up pg-other to b001... done, 15 B\n',
    );
    const none = await t.cli(['pg:backups:capture', '-a', 'bare']);
    assert.equal(
      none.err,
      "paas: bare has no postgres add-on: create one with 'paas addons:create postgres -a bare'\n",
    );
    const redis = await t.cli(['pg:backups:capture', 'redis-shop', '-a', 'shop']);
    assert.equal(redis.code, 1);
    assert.match(redis.err, /^paas: redis-shop is a redis add-on: backups are for postgres add-ons\n/);
    // the ids name their add-on when the app has several
    assert.match((await t.ok('pg:backups', '-a', 'two')).out, /\npg-other::b001 /);
  });

  it('restores the latest backup, a numbered one, or one of another add-on, only with the confirmation', async () => {
    const { restores } = t.api.backups;
    const refused = await t.cli(['pg:backups:restore', '-a', 'shop']);
    assert.equal(refused.code, 1);
    assert.equal(refused.err, 'paas: this would replace the data of pg-shop: re-run with --confirm shop\n');
    const wrong = await t.cli(['pg:backups:restore', '-a', 'shop', '--confirm', 'two']);
    assert.equal(wrong.err, "paas: confirmation 'two' did not match shop; nothing was restored\n");
    assert.equal(restores.length, 0);

    assert.equal(
      (await t.ok('pg:backups:restore', '-a', 'shop', '--confirm', 'shop')).err,
      'Restoring pg-shop::b001 into pg-shop... done\n',
    );
    const b001 = t.api.backups.backups.find((b) => b.addon === 'pg-shop' && b.name === 'b001');
    assert.deepEqual(restores.at(-1), { addon: 'pg-shop', backup: b001?.id });
    assert.equal(
      (await t.ok('pg:backups:restore', 'b001', '-a', 'shop', '--confirm', 'shop')).err,
      'Restoring pg-shop::b001 into pg-shop... done\n',
    );
    // one add-on's backup into another
    assert.equal(
      (await t.ok('pg:backups:restore', 'pg-other::b001', 'pg-one', '-a', 'two', '--confirm', 'two')).err,
      'Restoring pg-other::b001 into pg-one... done\n',
    );
    const other = t.api.backups.backups.find((b) => b.addon === 'pg-other' && b.name === 'b001');
    assert.deepEqual(restores.at(-1), { addon: 'pg-one', backup: other?.id });
    // one argument naming no backup is the add-on, with its latest backup
    assert.equal(
      (await t.ok('pg:backups:restore', 'pg-other', '-a', 'two', '--confirm', 'two')).err,
      'Restoring pg-other::b001 into pg-other... done\n',
    );
    // Heroku's --to NAME says the same as NAME; both naming different add-ons is refused
    assert.equal(
      (await t.ok('pg:backups:restore', 'pg-other::b001', '--to', 'pg-one', '-a', 'two', '--confirm', 'two')).err,
      'Restoring pg-other::b001 into pg-one... done\n',
    );
    assert.deepEqual(await t.cli(['pg:backups:restore', 'b001', 'pg-one', '--to', 'pg-other', '-a', 'two']), {
      code: 2,
      out: '',
      err: 'paas: NAME (pg-one) and --to (pg-other) name different add-ons\n',
    });
  });

  it('downloads a backup to a file', async () => {
    const file = join(t.base, 'shop.dump');
    const r = await t.ok('pg:backups:download', 'b001', '-a', 'shop', '-o', file);
    assert.equal(r.err, `Downloading pg-shop::b001 to ${file}... done, 15 B\n`);
    assert.equal(readFileSync(file, 'utf8'), 'PGDMP fake dump');
    const missing = await t.cli(['pg:backups:download', 'b009', '-a', 'shop', '-o', file]);
    assert.equal(missing.err, 'paas: backup b009 of pg-shop not found\n');
    const bad = await t.cli(['pg:backups:download', 'latest', '-a', 'shop']);
    assert.equal(bad.code, 2);
  });

  it('schedules and unschedules daily backups', async () => {
    assert.equal(
      (await t.ok('pg:backups:schedule', '--at', '02:00 UTC', '-a', 'shop')).err,
      'Scheduling daily backups of pg-shop at 02:00 UTC... done\n',
    );
    assert.equal(t.api.backups.addons.find((a) => a.name === 'pg-shop')?.backupHour, 2);
    const bad = await t.cli(['pg:backups:schedule', '--at', '25:00', '-a', 'shop']);
    assert.equal(bad.code, 2);
    assert.equal(bad.err, "paas: invalid --at '25:00': expected an hour of the day in UTC, such as 02:00\n");
    assert.equal(
      (await t.ok('pg:backups:unschedule', '-a', 'shop')).err,
      'Stopping daily backups of pg-shop... done\n',
    );
    assert.equal(t.api.backups.addons.find((a) => a.name === 'pg-shop')?.backupHour, null);
  });

  it('deletes a backup only with the confirmation', async () => {
    const refused = await t.cli(['pg:backups:delete', 'b001', '-a', 'shop']);
    assert.equal(refused.err, 'paas: this would delete backup b001 of pg-shop: re-run with --confirm shop\n');
    assert.equal(
      (await t.ok('pg:backups:delete', 'pg-shop::b001', '-a', 'shop', '--confirm', 'shop')).err,
      'Deleting backup b001 of pg-shop... done\n',
    );
    assert.equal(t.api.backups.backups.filter((b) => b.addon === 'pg-shop' && b.name === 'b001').length, 0);
  });

  it("keeps a token of another app out of the add-on's backups", async () => {
    t.api.addToken('two-only', 'paas_two0000000000000000000000000000000000000', ['two']);
    const r = await t.cli(['pg:backups:capture', 'pg-shop', '-a', 'two'], {
      PAAS_API_TOKEN: 'paas_two0000000000000000000000000000000000000',
    });
    assert.equal(r.code, 1);
    assert.equal(r.err, "paas: add-on 'pg-shop' not found\n");
  });

  it('reads an hour of the day in UTC', () => {
    for (const [at, hour] of [
      ['2', 2],
      ['02', 2],
      ['02:00', 2],
      ['23:00 UTC', 23],
      ['0', 0],
    ] as const) {
      assert.equal(parseHour(at), hour, at);
    }
    for (const at of ['24', '02:30', '2am', '02:00 America/New_York', '', '-1']) {
      assert.throws(() => parseHour(at), /invalid --at/, at);
    }
  });
});
