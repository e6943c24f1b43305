/**
 * PostgreSQL add-on backups (`pg:backups:capture` / `pg:backups:restore`, #22): the host's own
 * `pg_dump -Fc` streamed into a content store as one blob, and that blob streamed back into
 * `pg_restore`. The dump never sits in memory or in a temporary copy: pg_dump's stdout is the
 * store's write stream (hashed and sized as it goes, renamed into place only once pg_dump has
 * exited 0), and the blob's read stream is pg_restore's stdin.
 *
 * The tools are the host's (`/usr/lib/postgresql/N/bin`, as `paas image bootstrap postgres`
 * finds them) of the server's major version, or a newer one: pg_dump refuses a server newer
 * than itself. The password goes in PGPASSWORD, never in argv (`ps` shows argv to everyone).
 *
 * Its own entry, `@paas/platform/pg-backup`, as `@paas/platform/builds` is: it pulls in the
 * content store and the images lib, which the rest of @paas/platform's users do not need.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type BlobInfo, BlobMismatchError, type ContentStore } from '@paas/content';
import { PaasError } from '@paas/errors';
import { postgresInstallations } from '@paas/images';
import { type Digest, Digester } from '@paas/oci';
import pg from 'pg';

/** The database a backup is taken from or restored into. */
export interface PgTarget {
  readonly host: string;
  readonly port: number;
  readonly password: string;
  /** Default `postgres`, as add-ons are made. */
  readonly user?: string;
  /** Default `postgres`. */
  readonly database?: string;
}

/** pg_dump or pg_restore failed, or the server cannot be reached; the message carries pg's stderr. */
export class PgBackupError extends PaasError {}

/** How long connecting to the add-on may take before a capture or restore gives up. */
const CONNECT_TIMEOUT_S = 10;
/** The most of a tool's stderr kept for the error (its first lines say what went wrong). */
const STDERR_LIMIT = 16 * 1024;

/**
 * Dumps `target` in pg_dump's custom format into `store`: the blob's digest and size. Nothing is
 * stored when pg_dump fails (its stderr is in the error).
 */
export async function captureBackup(target: PgTarget, store: ContentStore): Promise<BlobInfo> {
  const pgDump = await toolFor(target, 'pg_dump');
  const child = spawnTool(pgDump, ['--format=custom', '--no-password', ...connectionArgs(target)], target, 'pipe');
  const exited = exitOf(child, 'pg_dump');
  try {
    // the exit status is checked before the store's write ends, so a failed dump is never renamed
    // into place: its bytes so far are the ingest file the store removes
    return await store.write(thenChecked(child.stdout as Readable, exited));
  } catch (err) {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw err;
  }
}

/**
 * Restores the dump `digest` of `store` into `target`, replacing the objects it holds (`--clean
 * --if-exists`) in one transaction: a dump pg_restore cannot read, or an object it cannot make,
 * leaves the database as it was. The blob is checked against its digest first: a blob damaged
 * on disk never reaches the database.
 */
export async function restoreBackup(digest: Digest, target: PgTarget, store: ContentStore): Promise<void> {
  await verifyBlob(store, digest);
  const pgRestore = await toolFor(target, 'pg_restore');
  // opened before pg_restore starts: a blob gone meanwhile leaves no pg_restore waiting on stdin
  const source = await store.createReadStream(digest);
  const child = spawnTool(
    pgRestore,
    ['--clean', '--if-exists', '--no-owner', '--single-transaction', '--no-password', ...connectionArgs(target)],
    target,
    'pipe-in',
  );
  const exited = exitOf(child, 'pg_restore');
  const stdin = child.stdin;
  // a pg_restore that gave up closes its stdin: EPIPE here, its exit status tells why
  stdin?.on('error', () => undefined);
  let readError: Error | undefined;
  // a blob that cannot be read to the end must not be restored in part: pg_restore dies unfinished
  source.on('error', (err) => {
    readError = err;
    child.kill('SIGKILL');
  });
  if (stdin) source.pipe(stdin);
  try {
    await exited;
  } catch (err) {
    throw readError ?? err;
  } finally {
    source.destroy();
  }
}

/** Reads the blob through once: BlobMismatchError (data_loss) when its bytes are not its digest. */
async function verifyBlob(store: ContentStore, digest: Digest): Promise<void> {
  const digester = new Digester('sha256');
  for await (const chunk of await store.createReadStream(digest)) digester.update(chunk as Buffer);
  const actual = digester.digest();
  if (actual !== digest) throw new BlobMismatchError({ digest }, { digest: actual, size: digester.size });
}

function connectionArgs(target: PgTarget): string[] {
  return [
    `--host=${target.host}`,
    `--port=${target.port}`,
    `--username=${target.user ?? 'postgres'}`,
    `--dbname=${target.database ?? 'postgres'}`,
  ];
}

function spawnTool(path: string, args: string[], target: PgTarget, mode: 'pipe' | 'pipe-in'): ChildProcess {
  return spawn(path, args, {
    stdio: mode === 'pipe' ? ['ignore', 'pipe', 'pipe'] : ['pipe', 'ignore', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      PGPASSWORD: target.password,
      PGCONNECT_TIMEOUT: String(CONNECT_TIMEOUT_S),
      // messages in English whatever the host's locale: they end up in the api's answers
      LC_ALL: 'C',
    },
  });
}

/** Resolves when the tool exits 0; rejects with its stderr otherwise. */
function exitOf(child: ChildProcess, tool: string): Promise<void> {
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new PgBackupError('internal', `${tool}: ${err.message}`, { cause: err })));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const why = stderr.trim() || (signal ? `killed by ${signal}` : `exit status ${code}`);
      reject(new PgBackupError('unprocessable', `${tool} failed: ${why}`));
    });
  });
}

/** The stream's chunks, then an error unless the process behind it exits 0. */
async function* thenChecked(stream: Readable, exited: Promise<void>): AsyncIterable<Uint8Array> {
  // a failure while we still read must not go unhandled
  exited.catch(() => undefined);
  for await (const chunk of stream) yield chunk as Buffer;
  await exited;
}

/**
 * The host's `TOOL` for the server's major version: that version's, else the oldest newer one
 * (pg_dump reads older servers; it refuses newer ones).
 */
async function toolFor(target: PgTarget, tool: 'pg_dump' | 'pg_restore'): Promise<string> {
  const major = await serverMajor(target);
  const installed = await postgresInstallations(tool);
  const fit = installed.filter((i) => i.major >= major).sort((a, b) => a.major - b.major)[0];
  if (!fit) {
    const have = installed.map((i) => i.major).join(', ') || 'none';
    throw new PgBackupError(
      'unavailable',
      `${tool} for PostgreSQL ${major} not found in /usr/lib/postgresql (installed: ${have}); install it with: apt-get install postgresql-client-${major}`,
    );
  }
  return join(fit.home, 'bin', tool);
}

async function serverMajor(target: PgTarget): Promise<number> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user ?? 'postgres',
    password: target.password,
    database: target.database ?? 'postgres',
    connectionTimeoutMillis: CONNECT_TIMEOUT_S * 1000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
    return Math.floor(Number(rows[0]?.server_version_num) / 10_000);
  } catch (err) {
    throw new PgBackupError(
      'unavailable',
      `cannot reach PostgreSQL at ${target.host}:${target.port}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
