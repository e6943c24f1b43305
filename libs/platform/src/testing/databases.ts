/**
 * The databases platform specs run against: SQLite always, PostgreSQL too. Specs loop over
 * TEST_DATABASES and open each with `openTestDatabase(kind)`, or `suiteDatabase(kind)` for
 * one a whole suite shares.
 *
 * PostgreSQL comes from PAAS_TEST_POSTGRES_URL (a cluster the test run started) or, when a spec
 * file is run on its own, from a private cluster this module starts and stops.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import type { DataSource } from 'typeorm';
import { type DatabaseKind, openDatabase } from '../model/database';
import { App } from '../model/entities';
import { createTestDatabase, startTestPostgres, type TestPostgres } from './postgres';

export const TEST_DATABASES: readonly DatabaseKind[] = ['sqlite', 'postgres'];

let privateCluster: Promise<TestPostgres> | undefined;

export interface TestDatabase {
  readonly kind: DatabaseKind;
  /** DATABASE_URL for this database. */
  readonly url: string;
  dispose(): Promise<void>;
}

export async function testDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'paas-sqlite-'));
    return {
      kind,
      url: `sqlite://${join(dir, 'paas.db')}`,
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  let admin = process.env['PAAS_TEST_POSTGRES_URL'];
  if (!admin) {
    privateCluster ??= startTestPostgres().then((cluster) => {
      process.once('exit', () => cluster.stop());
      return cluster;
    });
    admin = (await privateCluster).url;
  }
  const db = await createTestDatabase(admin);
  return { kind, url: db.url, dispose: () => db.drop() };
}

/** A fresh database of `kind`, migrated and open; `close` destroys the connection and the database. */
export async function openTestDatabase(
  kind: DatabaseKind,
): Promise<{ dataSource: DataSource; close(): Promise<void> }> {
  const db = await testDatabase(kind);
  const dataSource = await openDatabase({ url: db.url, platformDir: '/nonexistent' }).catch(async (err: unknown) => {
    await db.dispose();
    throw err;
  });
  return {
    dataSource,
    close: async () => {
      await dataSource.destroy();
      await db.dispose();
    },
  };
}

/**
 * A database of a test suite's own, as suiteRedis (redis.ts) gives a redis-server: opened in
 * the suite's `before`, destroyed in its `after`, whatever failed. Call it inside `describe`;
 * the data source it returns answers once `before` has run.
 */
export function suiteDatabase(kind: DatabaseKind): () => DataSource {
  let opened: { dataSource: DataSource; close(): Promise<void> } | undefined;
  before(async () => {
    opened = await openTestDatabase(kind);
  });
  after(async () => {
    await opened?.close();
  });
  return () => {
    if (!opened) throw new Error('suiteDatabase: the suite has not started');
    return opened.dataSource;
  };
}

/** An app row, as the api's create makes it (a spec's starting point). */
export async function insertApp(dataSource: DataSource, name: string): Promise<App> {
  const app = dataSource.manager.create(App, { id: randomUUID(), name });
  await dataSource.manager.insert(App, app);
  return app;
}
