/** Backups of a real PostgreSQL (the test cluster) into a real content store, and back. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobMismatchError, ContentStore } from '@paas/content';
import type pg from 'pg';
import { type TestDatabase, testDatabase } from '../testing/databases';
import { queryPostgres } from '../testing/postgres';
import { PgBackupError, type PgTarget, captureBackup, restoreBackup } from './pg-backup';

function targetOf(db: TestDatabase, user?: string): PgTarget {
  const url = new URL(db.url);
  return {
    host: url.hostname,
    port: Number(url.port),
    // the test cluster trusts loopback: the password only travels
    password: 'unused',
    user: user ?? decodeURIComponent(url.username),
    database: url.pathname.slice(1),
  };
}

const query = <T extends pg.QueryResultRow = Record<string, unknown>>(db: TestDatabase, sql: string): Promise<T[]> =>
  queryPostgres<T>(db.url, sql);

const names = async (db: TestDatabase): Promise<string[]> =>
  (await query<{ name: string }>(db, 'SELECT name FROM items ORDER BY id')).map((r) => r.name);

describe('PostgreSQL backups', () => {
  let db: TestDatabase;
  let other: TestDatabase;
  let dir: string;
  let store: ContentStore;

  before(async () => {
    db = await testDatabase('postgres');
    other = await testDatabase('postgres');
    dir = mkdtempSync(join(tmpdir(), 'paas-pg-backup-'));
    store = await ContentStore.open(dir);
    await query(db, 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE)');
    await query(db, "INSERT INTO items (name) SELECT 'item ' || n FROM generate_series(1, 500) n");
  });
  after(async () => {
    await db?.dispose();
    await other?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('captures a dump into the store and restores it over a dropped table', async () => {
    const before = await names(db);
    const blob = await captureBackup(targetOf(db), store);
    assert.match(blob.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await store.info(blob.digest))?.size, blob.size);
    // pg_dump's custom format starts with its magic
    const head = await store.createReadStream(blob.digest, { start: 0, end: 4 });
    let magic = '';
    for await (const chunk of head) magic += (chunk as Buffer).toString('latin1');
    assert.equal(magic, 'PGDMP');

    await query(db, 'DROP TABLE items');
    await restoreBackup(blob.digest, targetOf(db), store);
    assert.deepEqual(await names(db), before);
    assert.equal(before.length, 500);

    // restoring over the live table replaces it (--clean), rows changed since are gone
    await query(db, "INSERT INTO items (name) VALUES ('after the backup')");
    await restoreBackup(blob.digest, targetOf(db), store);
    assert.deepEqual(await names(db), before);

    // and into another database
    await restoreBackup(blob.digest, targetOf(other), store);
    assert.deepEqual(await names(other), before);
  });

  it("stores nothing when pg_dump fails, and says pg_dump's reason", async () => {
    const role = `nopriv_${process.pid}`;
    await query(db, `CREATE ROLE ${role} LOGIN`);
    try {
      const blobs = async (): Promise<number> => {
        let n = 0;
        for await (const _ of store.list()) n++;
        return n;
      };
      const count = await blobs();
      await assert.rejects(captureBackup(targetOf(db, role), store), (err: unknown) => {
        assert.ok(err instanceof PgBackupError);
        assert.match(err.message, /^pg_dump failed: .*permission denied for (table|sequence) items/s);
        return true;
      });
      assert.equal(await blobs(), count);
      assert.deepEqual(readdirSync(join(dir, 'ingest')), []);
    } finally {
      await query(db, `DROP ROLE ${role}`);
    }
  });

  it('refuses a blob that is no dump, leaving the data as it was', async () => {
    const before = await names(db);
    const junk = await store.writeBytes('PGDMP this is not a custom-format archive\n'.repeat(100));
    await assert.rejects(restoreBackup(junk.digest, targetOf(db), store), (err: unknown) => {
      assert.ok(err instanceof PgBackupError);
      assert.match(err.message, /^pg_restore failed: .+/s);
      return true;
    });
    assert.deepEqual(await names(db), before);
  });

  it('refuses a blob damaged on disk before touching the database', async () => {
    const blob = await captureBackup(targetOf(db), store);
    // same size, other bytes: what a bad disk does
    writeFileSync(store.blobPath(blob.digest), Buffer.alloc(blob.size, 0x41));
    await query(db, "INSERT INTO items (name) VALUES ('kept')");
    const before = await names(db);
    await assert.rejects(restoreBackup(blob.digest, targetOf(db), store), BlobMismatchError);
    assert.deepEqual(await names(db), before);
  });

  it('says where a server cannot be reached', async () => {
    const target = { ...targetOf(db), port: 1 };
    await assert.rejects(captureBackup(target, store), /cannot reach PostgreSQL at 127\.0\.0\.1:1: /);
  });
});
