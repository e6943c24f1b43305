/**
 * The postgres and redis base images (`paas image bootstrap postgres redis`), made from the
 * host's own binaries, run by the real engine on the test's own bridge: the test talks to the
 * containers' addresses with real clients (node's `pg` and ioredis), volumes are directories
 * of the test's temporary roots bind-mounted where the images declare theirs. `after` removes
 * every container, the bridge and the roots, and checks that nothing is left.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { cliFor, removeAllAndCheck, tempRoots } from '../support/cli';

const roots = tempRoots();
const suiteStart = Date.now();
const { run, ok, removeAll } = cliFor(roots.env);
const volumes = join(roots.root, '..', 'volumes');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Both streams of a container's log (the servers log to stderr, as in Docker). */
function logs(name: string): string {
  const r = run('logs', name);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout + r.stderr;
}
const ip = (name: string): string => ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', name).trim();
const state = (name: string): string => ok('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name).trim();
/** The uid pid 1 of a container runs as (exec runs as root: /proc says who the server is). */
const serverUid = (name: string): string => /^Uid:\s+(\d+)/m.exec(ok('exec', name, 'cat', '/proc/1/status'))?.[1] ?? '';

function volume(name: string): string {
  const dir = join(volumes, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs fn with a client of the container's server; the client is closed whatever happens. */
async function withPg<T>(
  name: string,
  login: { user: string; password: string; database: string },
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ host: ip(name), port: 5432, connectionTimeoutMillis: 5000, ...login });
  client.on('error', () => undefined); // a server shut down under it: the query in flight says so
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A redis client that tries once: a refused command is the answer, not a reason to retry. */
function redisClient(name: string, password?: string): Redis {
  return new Redis({
    host: ip(name),
    port: 6379,
    ...(password !== undefined ? { password } : {}),
    lazyConnect: true,
    // its INFO before the first command would fail without the password, closing the connection
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
}

async function withRedis<T>(name: string, password: string | undefined, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = redisClient(name, password);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

describe('postgres and redis base images', () => {
  const ids: Record<string, string> = {};

  before(() => {
    const out = ok('image', 'bootstrap', 'postgres', 'redis');
    for (const m of out.matchAll(/^(postgres|redis):\d+: (sha256:[a-f0-9]{64})$/gm)) ids[m[1] ?? ''] = m[2] ?? '';
    assert.ok(ids['postgres'] && ids['redis'], out);
  });
  after(() => removeAllAndCheck(roots, { removeAll }, suiteStart));

  it("are tagged by major version and latest, with the official images' entrypoint, ports and volumes", () => {
    const images = ok('images');
    for (const [repo, major] of [
      ['postgres', '15'],
      ['redis', '7'],
    ] as const) {
      const short = (ids[repo] ?? '').slice(7, 19);
      assert.match(images, new RegExp(`^${repo}\\s+${major}\\s+${short}\\s`, 'm'));
      assert.match(images, new RegExp(`^${repo}\\s+latest\\s+${short}\\s`, 'm'));
    }
    const config = (ref: string): Record<string, unknown> =>
      JSON.parse(ok('inspect', '-f', '{{json .Config}}', ref)) as Record<string, unknown>;
    const postgres = config('postgres:15');
    assert.deepEqual(postgres['Entrypoint'], ['docker-entrypoint.sh']);
    assert.deepEqual(postgres['Cmd'], ['postgres']);
    assert.deepEqual(postgres['ExposedPorts'], { '5432/tcp': {} });
    assert.deepEqual(postgres['Volumes'], { '/var/lib/postgresql/data': {} });
    assert.equal(postgres['StopSignal'], 'SIGINT');
    assert.ok((postgres['Env'] as string[]).includes('PGDATA=/var/lib/postgresql/data'));
    const redis = config('redis:7');
    assert.deepEqual(redis['Entrypoint'], ['docker-entrypoint.sh']);
    assert.deepEqual(redis['Cmd'], ['redis-server']);
    assert.deepEqual(redis['ExposedPorts'], { '6379/tcp': {} });
    assert.deepEqual(redis['Volumes'], { '/data': {} });
    // the client tools an add-on's backups and one-off runs use are there, without the entrypoint's setup
    const tools = run(
      'run',
      '--rm',
      'postgres:15',
      'sh',
      '-c',
      'pg_dump --version; pg_restore --version; psql --version',
    );
    assert.equal(tools.status, 0, tools.stderr);
    assert.match(
      tools.stdout,
      /^pg_dump \(PostgreSQL\) 15\.\d+.*\npg_restore \(PostgreSQL\) 15\.\d+.*\npsql \(PostgreSQL\) 15\./,
    );
    assert.match(ok('run', '--rm', 'redis:7', 'redis-cli', '--version'), /^redis-cli 7\./);
  });

  it('gives the same image ids when bootstrapped again from the same host', () => {
    const other = tempRoots();
    try {
      const out = cliFor(other.env).ok('image', 'bootstrap', 'postgres', 'redis');
      assert.match(out, new RegExp(`^postgres:15: ${ids['postgres']}$`, 'm'));
      assert.match(out, new RegExp(`^redis:7: ${ids['redis']}$`, 'm'));
    } finally {
      other.cleanup();
    }
  });

  it('postgres: initialises an empty volume as uid 999, takes the password, keeps rows across stop and start', async () => {
    const data = volume('pg');
    const login = { user: 'app', password: 'pa "ss\\word', database: 'shop' };
    ok(
      'run',
      '-d',
      '--name',
      'pg',
      '-e',
      `POSTGRES_PASSWORD=${login.password}`,
      '-e',
      'POSTGRES_USER=app',
      '-e',
      'POSTGRES_DB=shop',
      '-v',
      `${data}:/var/lib/postgresql/data`,
      'postgres:15',
    );
    await until('postgres to accept the password', () =>
      withPg('pg', login, async (c) => (await c.query('SELECT 1')).rowCount ?? undefined),
    );
    assert.match(logs('pg'), /PostgreSQL init process complete/);
    assert.equal(readFileSync(join(data, 'PG_VERSION'), 'utf8'), '15\n');
    assert.equal(statSync(join(data, 'PG_VERSION')).uid, 999, 'initdb ran as postgres (999)');
    assert.equal(serverUid('pg'), '999');
    await withPg('pg', login, async (c) => {
      await c.query('CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)');
      await c.query("INSERT INTO orders (item) VALUES ('crème brûlée')");
      const { rows } = await c.query<{ upper: string }>('SELECT upper(item) FROM orders');
      assert.deepEqual(rows, [{ upper: 'CRÈME BRÛLÉE' }], 'the C.UTF-8 locale gives UTF-8 character classes');
    });
    await assert.rejects(
      withPg('pg', { ...login, password: 'wrong' }, (c) => c.query('SELECT 1')),
      /password authentication failed for user "app"/,
    );
    await assert.rejects(
      withPg('pg', { ...login, user: 'postgres' }, (c) => c.query('SELECT 1')),
      /password authentication failed for user "postgres"/,
      'the only superuser is POSTGRES_USER',
    );

    ok('stop', 'pg');
    assert.equal(state('pg'), 'exited 0');
    const first = run('logs', 'pg');
    assert.match(first.stderr, /received fast shutdown request[\s\S]*database system is shut down\n$/);
    ok('start', 'pg');
    const rows = await until('postgres to come back', () =>
      withPg('pg', login, async (c) => (await c.query<{ item: string }>('SELECT item FROM orders')).rows),
    );
    assert.deepEqual(rows, [{ item: 'crème brûlée' }]);
    const whole = run('logs', 'pg');
    assert.ok(
      whole.stdout.startsWith(first.stdout) && whole.stderr.startsWith(first.stderr),
      'the log keeps the first run (as Docker keeps it until rm)',
    );
    const log = whole.stdout.slice(first.stdout.length) + whole.stderr.slice(first.stderr.length);
    // the second run's part: the volume was not initialised again, and was left clean
    assert.doesNotMatch(log, /PostgreSQL init process complete|initdb/);
    assert.match(log, /database system was shut down at/);
    assert.doesNotMatch(log, /was interrupted|not properly shut down|automatic recovery/);
    ok('rm', '-f', 'pg');
  });

  it("postgres: takes the server's options as the command; a SIGTERM is a fast shutdown, even with a client connected", async () => {
    const login = { user: 'postgres', password: 'secret', database: 'postgres' };
    // options as the command are the server's, as in the official image
    ok(
      'run',
      '-d',
      '--name',
      'pg-term',
      '-e',
      `POSTGRES_PASSWORD=${login.password}`,
      'postgres:15',
      '-c',
      'max_connections=33',
    );
    const shown = await until('postgres to start', () =>
      withPg('pg-term', login, async (c) => (await c.query<{ max_connections: string }>('SHOW max_connections')).rows),
    );
    assert.deepEqual(shown, [{ max_connections: '33' }]);
    const client = new pg.Client({ host: ip('pg-term'), port: 5432, ...login });
    client.on('error', () => undefined);
    await client.connect();
    try {
      // PostgreSQL's own SIGTERM is a smart shutdown, which waits for this idle client forever
      ok('kill', '-s', 'TERM', 'pg-term');
      await until('the container to exit', async () => (state('pg-term').startsWith('exited') ? true : undefined));
      assert.equal(state('pg-term'), 'exited 0');
      assert.match(logs('pg-term'), /received fast shutdown request[\s\S]*database system is shut down\n$/);
    } finally {
      await client.end().catch(() => undefined);
    }
    ok('rm', '-f', 'pg-term');
  });

  it('postgres: without POSTGRES_PASSWORD an empty volume is not initialised: exit 1 and why, in the log', () => {
    const r = run('run', '--name', 'pg-nopw', '-e', 'POSTGRES_USER=app', 'postgres:15');
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const message = /error: the database is uninitialized and POSTGRES_PASSWORD is not set.*POSTGRES_HOST_AUTH_METHOD/;
    assert.match(r.stderr, message);
    assert.match(logs('pg-nopw'), message);
    ok('rm', 'pg-nopw');
  });

  it('redis: asks for the password, and keeps a SET across stop and start, and across a kill (append-only file)', async () => {
    const data = volume('redis');
    const password = 'p a"s\\s';
    // options as the command are redis-server's, on top of the image's persistence
    ok(
      'run',
      '-d',
      '--name',
      'rd',
      '-e',
      `REDIS_PASSWORD=${password}`,
      '-v',
      `${data}:/data`,
      'redis:7',
      '--maxmemory',
      '100mb',
    );
    assert.equal(await until('redis to answer', () => withRedis('rd', password, (c) => c.ping())), 'PONG');
    await assert.rejects(
      withRedis('rd', undefined, (c) => c.ping()),
      /NOAUTH Authentication required/,
    );
    await assert.rejects(
      withRedis('rd', undefined, (c) => c.auth('wrong')),
      /WRONGPASS invalid username-password pair/,
    );
    assert.equal(serverUid('rd'), '999');
    const pairs = (await withRedis('rd', password, (c) => c.config('GET', 'append*', 'maxmemory'))) as string[];
    const settings = new Map<string, string | undefined>();
    for (let k = 0; k < pairs.length; k += 2) settings.set(pairs[k] ?? '', pairs[k + 1]);
    assert.equal(settings.get('appendonly'), 'yes');
    assert.equal(settings.get('appendfsync'), 'everysec');
    assert.equal(settings.get('maxmemory'), '104857600');
    assert.equal(await withRedis('rd', password, (c) => c.set('greeting', 'hello')), 'OK');
    assert.equal(statSync(join(data, 'appendonlydir')).uid, 999);
    assert.doesNotMatch(ok('exec', 'rd', 'cat', '/proc/1/cmdline'), /p a"s/, 'the password is not on the command line');

    ok('stop', 'rd');
    assert.equal(state('rd'), 'exited 0');
    ok('start', 'rd');
    assert.equal(await until('redis to come back', () => withRedis('rd', password, (c) => c.get('greeting'))), 'hello');

    // a kill gives redis no chance to save: only the append-only file holds what was written
    assert.equal(await withRedis('rd', password, (c) => c.set('after-kill', 'still here')), 'OK');
    ok('kill', 'rd');
    ok('start', 'rd');
    const back = await until('redis after the kill', () =>
      withRedis('rd', password, (c) => c.mget('greeting', 'after-kill')),
    );
    assert.deepEqual(back, ['hello', 'still here']);
    ok('rm', '-f', 'rd');
  });
});
