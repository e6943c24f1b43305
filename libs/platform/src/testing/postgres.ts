/**
 * A throw-away PostgreSQL for tests: `initdb` into a temporary directory owned by the
 * `postgres` user (the server refuses to run as root), listening on 127.0.0.1 at a free port
 * and on a unix socket in that directory. `tools/test/all.mjs` starts one for the whole run and
 * passes its URL as PAAS_TEST_POSTGRES_URL; each spec file then gets its own fresh database.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort } from './free-port';

export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const dir = join(base, version, 'bin');
    if (existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error('PostgreSQL is not installed (apt-get install postgresql); infra/bootstrap.sh installs it');
}

export interface TestPostgres {
  /** Superuser URL of the cluster's `postgres` database. */
  readonly url: string;
  stop(): void;
}

function asPostgres(args: string[]): void {
  const result = spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args[0]} failed: ${(result.stderr || result.stdout).trim()}`);
}

export interface TestPostgresOptions {
  /** The role initdb makes (`postgres` for a cluster that stands in for an add-on's); default `paas`. */
  readonly superuser?: string;
  /** Its password, which every connection must then give (scram-sha-256); default none (trust). */
  readonly password?: string;
}

export async function startTestPostgres(options: TestPostgresOptions = {}): Promise<TestPostgres> {
  const superuser = options.superuser ?? 'paas';
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'paas-pg-'));
  chownSync(
    dir,
    Number(execFileSync('id', ['-u', 'postgres']).toString()),
    Number(execFileSync('id', ['-g', 'postgres']).toString()),
  );
  const data = join(dir, 'data');
  const port = await freePort();
  try {
    if (options.password !== undefined) writeFileSync(join(dir, 'password'), `${options.password}\n`, { mode: 0o644 });
    asPostgres([
      join(bin, 'initdb'),
      '-D',
      data,
      '-U',
      superuser,
      '-A',
      options.password === undefined ? 'trust' : 'scram-sha-256',
      ...(options.password === undefined ? [] : [`--pwfile=${join(dir, 'password')}`]),
      '-E',
      'UTF8',
      '--no-sync',
      '--no-instructions',
    ]);
    const serverOptions = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    asPostgres([
      join(bin, 'pg_ctl'),
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-o',
      serverOptions,
      '-w',
      '-t',
      '30',
      'start',
    ]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgres://${superuser}${
      options.password === undefined ? '' : `:${encodeURIComponent(options.password)}`
    }@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        asPostgres([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Creates an empty database on the cluster at `adminUrl` and returns its URL and a dropper. */
export async function createTestDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `paas_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Runs one statement on the database at `url` with a connection of its own: its rows. */
export async function queryPostgres<T extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}
