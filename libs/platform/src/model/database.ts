/**
 * Opens the platform database: embedded SQLite by default, PostgreSQL when DATABASE_URL says
 * so. Migrations run on open (each in its own transaction), so every process that opens the
 * database sees the current schema; `synchronize` is never used.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DataSource, type DataSourceOptions, type EntityManager, QueryFailedError } from 'typeorm';
import { App, ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { PaasError } from '@paas/errors';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface DatabaseSettings {
  /** `postgres://…`, `postgresql://…`, `sqlite:///abs/path.db` or empty for the default file. */
  readonly url?: string | undefined;
  /** Where the default SQLite file lives: `$PAAS_ROOT/platform`. */
  readonly platformDir: string;
}

export class DatabaseUrlError extends PaasError {
  constructor(url: string, reason: string) {
    super('invalid_params', `DATABASE_URL=${JSON.stringify(redact(url))}: ${reason}`);
  }
}

/** The URL with its password replaced, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

export function dataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
    logging: false,
  } as const;
  const url = settings.url?.trim() ?? '';
  if (url === '' || url.startsWith('sqlite:')) {
    const file = url === '' ? join(settings.platformDir, 'paas.db') : url.replace(/^sqlite:(\/\/)?/, '');
    if (!file.startsWith('/'))
      throw new DatabaseUrlError(url, 'a sqlite URL needs an absolute path: sqlite:///var/lib/paas/paas.db');
    return {
      ...common,
      type: 'better-sqlite3',
      database: file,
      // Several processes (api, build workers) share the file: WAL lets readers run beside one
      // writer, and a busy writer waits instead of failing.
      enableWAL: true,
      timeout: 10_000,
    };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new DatabaseUrlError(url, 'not a valid URL');
    }
    return { ...common, type: 'postgres', url, poolSize: 10 };
  }
  throw new DatabaseUrlError(url, 'expected postgres://USER:PASSWORD@HOST:PORT/DB or sqlite:///PATH');
}

export function databaseKind(dataSource: DataSource): DatabaseKind {
  return dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite';
}

/** Opens the database and brings its schema up to date. The caller destroys it. */
export async function openDatabase(settings: DatabaseSettings): Promise<DataSource> {
  const options = dataSourceOptions(settings);
  if (options.type === 'better-sqlite3') mkdirSync(dirname(options.database), { recursive: true, mode: 0o700 });
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  try {
    await migrateAlone(dataSource);
  } catch (err) {
    await dataSource.destroy();
    throw err;
  }
  return dataSource;
}

/** The advisory lock PostgreSQL migrations run under: 'paas' and 0 (the scheduler's leader holds 'paas' and 1). */
const MIGRATION_LOCK = [0x70616173, 0] as const;

/**
 * Runs the pending migrations, one process at a time: api replicas starting together on a new
 * PostgreSQL would each create the same tables, and all but one fail. The first takes a session
 * advisory lock and migrates; the others wait for it, then find nothing to do. SQLite's file
 * lock already lets one writer in at a time.
 */
async function migrateAlone(dataSource: DataSource): Promise<void> {
  if (databaseKind(dataSource) !== 'postgres') {
    await dataSource.runMigrations({ transaction: 'each' });
    return;
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK]);
    try {
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK]);
    }
  } finally {
    await runner.release();
  }
}

/**
 * Holds the migrations' advisory lock until the transaction ends (PostgreSQL), for what a new
 * database gets once, at the first start (the first admin token): api replicas starting
 * together each check and make it in turn, so the second finds what the first made. Take it
 * first in the transaction: under READ COMMITTED each later statement sees what the holder
 * before committed. SQLite lets one writer in at a time anyway.
 */
export async function holdFirstStartLock(manager: EntityManager): Promise<void> {
  if (manager.connection.options.type !== 'postgres') return;
  await manager.query('SELECT pg_advisory_xact_lock($1, $2)', [...MIGRATION_LOCK]);
}

const sqliteQueues = new WeakMap<DataSource, Promise<unknown>>();

/**
 * Runs `work` in a transaction. Use this instead of `dataSource.transaction`: better-sqlite3
 * has one connection per process, so two transactions started concurrently from one process
 * would nest on it ("cannot start a transaction within a transaction"); on SQLite they are
 * queued here. PostgreSQL runs them side by side on its pool.
 */
export function transaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (databaseKind(dataSource) !== 'sqlite') return dataSource.transaction(work);
  const previous = sqliteQueues.get(dataSource) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => dataSource.transaction(work));
  sqliteQueues.set(dataSource, next);
  return next;
}

/**
 * Whether a failed query is worth retrying as a whole transaction: a unique-constraint race
 * (another writer took the number or key first) or SQLite's "database is locked" from a writer
 * in another process.
 */
export function isRetryableConflict(err: unknown): boolean {
  if (!(err instanceof QueryFailedError)) return false;
  const code = (err.driverError as { code?: string } | undefined)?.code ?? '';
  return (
    code === '23505' ||
    code === '40001' ||
    code.startsWith('SQLITE_CONSTRAINT_UNIQUE') ||
    code.startsWith('SQLITE_CONSTRAINT_PRIMARYKEY') ||
    code.startsWith('SQLITE_BUSY')
  );
}

/** Whether a failed query broke a unique constraint (a name or key already taken). */
export function isUniqueViolation(err: unknown): boolean {
  if (!(err instanceof QueryFailedError)) return false;
  const code = (err.driverError as { code?: string } | undefined)?.code ?? '';
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Holds the app's row until the transaction ends, so changes that rewrite an app's config or
 * releases run one after the other instead of deadlocking on PostgreSQL. SQLite has one
 * writer at a time anyway (and no row locks).
 */
export async function lockApp(manager: EntityManager, appId: string): Promise<void> {
  if (manager.connection.options.type !== 'postgres') return;
  await manager
    .createQueryBuilder(App, 'app')
    .setLock('pessimistic_write')
    .where('app.id = :appId', { appId })
    .getOne();
}
