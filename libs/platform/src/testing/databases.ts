/**
 * The databases platform specs run against: SQLite always, PostgreSQL too. Specs loop over
 * `testDatabases()` and open each with `testDatabaseUrl(kind)`.
 *
 * PostgreSQL comes from PAAS_TEST_POSTGRES_URL (a cluster the test run started) or, when a spec
 * file is run on its own, from a private cluster this module starts and stops.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseKind } from '../model/database';
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
