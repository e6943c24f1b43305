/**
 * Add-ons end to end (#22) on a real `paas up`: a PostgreSQL add-on made from the host's own
 * binaries, attached to an app whose release phase creates a table and whose web process (busybox
 * httpd CGI scripts running psql) writes and reads rows through the router. Its data survives
 * a kill -9 of its container in the middle of writes (every acknowledged row is there), a
 * redeploy, a rollback and a restart of the platform's processes; a backup restores a dropped
 * table; a second attached app connects and a third, knowing the URL and password, cannot (not by
 * the published port, not by the container's own address); destroying it with the wrong
 * confirmation is refused, with the right one its volume goes and its backup stays. A Redis
 * add-on answers redis-cli and keeps a key across a kill of its container (AOF on its volume).
 *
 * Only loopback, the spec's own bridge and its containers are used; everything is stopped and
 * removed at the end, failed or not (withPaasUp).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { paasAsync } from '../support/cli';
import { inPty } from '../support/pty';
import type { Addon as AddonView } from '@paas/api-types';
import { PAAS, type PaasUp, get, until, withPaasUp } from '../bench/paas-up';

const DOCKERFILE = ['FROM postgres:15', 'COPY www /www', 'RUN chmod 755 /www/cgi-bin/*', ''].join('\n');

/** CGI scripts: the URL comes from a file the web process writes at its start (CGI gets a clean environment). */
const CGI_HEAD = '#!/bin/sh\nURL=$(cat /tmp/db-url)\n';
const ADD = `${CGI_HEAD}if id=$(psql "$URL" -qtAX -v ON_ERROR_STOP=1 -c "INSERT INTO notes (body) VALUES ('$QUERY_STRING') RETURNING id" 2>/tmp/add.err); then
  printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' "$id"
else
  printf 'Status: 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\n'; cat /tmp/add.err
fi
`;
const LIST = `${CGI_HEAD}if rows=$(psql "$URL" -qtAX -v ON_ERROR_STOP=1 -c "SELECT coalesce(string_agg(body, ',' ORDER BY id), '') FROM notes" 2>&1); then
  printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' "$rows"
else
  printf 'Status: 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\n%s\\n' "$rows"
fi
`;

const APP_FILES = {
  Dockerfile: DOCKERFILE,
  Procfile: [
    `release: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -c 'CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL)'`,
    `web: printf '%s' "$DATABASE_URL" > /tmp/db-url && exec httpd -f -p "$PORT" -h /www`,
    '',
  ].join('\n'),
  'www/index.html': 'notes\n',
  'www/cgi-bin/add': ADD,
  'www/cgi-bin/list': LIST,
};

describe('add-ons: managed PostgreSQL and Redis', { timeout: 900_000 }, () => {
  it('keeps every acknowledged row through kills, redeploys, restarts and restores; only attached apps connect', async () => {
    await withPaasUp(
      {
        name: 'paas-e2e-addons-',
        bridge: `pao${process.pid % 10000}`,
        subnet: `10.236.${process.pid % 250}.0/24`,
        images: ['busybox', 'postgres', 'redis'],
        env: { PAAS_DRAIN_MS: '200', PAAS_STOP_TIMEOUT: '2' },
      },
      async (up) => {
        const paas = (...args: string[]): string => up.run(PAAS, args);
        const paasFails = (...args: string[]): string => {
          const r = spawnSync(PAAS, args, { env: up.env, encoding: 'utf8', timeout: 120_000 });
          assert.notEqual(r.status, 0, `paas ${args.join(' ')} should fail:\n${r.stdout}`);
          return r.stderr;
        };
        const info = (name: string): AddonView => JSON.parse(paas('addons:info', name, '--json')) as AddonView;

        /** App `app` from `files` (its git repository, one commit, the `paas` remote), not pushed yet. */
        const checkout = (app: string, files: Record<string, string>): string => {
          const dir = join(up.work, app);
          for (const [name, body] of Object.entries(files)) {
            mkdirSync(dirname(join(dir, name)), { recursive: true });
            writeFileSync(join(dir, name), body);
          }
          up.run('git', ['init', '-q', '-b', 'main'], dir);
          up.run(PAAS, ['apps:create', app], dir);
          up.run('git', ['add', '-A'], dir);
          up.run('git', ['commit', '-qm', 'v1'], dir);
          return dir;
        };
        const push = (dir: string): string => up.run('git', ['push', '-q', 'paas', 'main'], dir);

        // an app with nothing pushed yet gets its add-on and DATABASE_URL in a release
        const dir = checkout('shop', APP_FILES);
        const created = Date.now();
        const out = paas('addons:create', 'postgres', '-a', 'shop', '--name', 'shop-db');
        assert.match(out, /shop-db/);
        const url = paas('config:get', 'DATABASE_URL', '-a', 'shop').trim();
        const m = /^postgres:\/\/postgres:([^@]+)@([\d.]+):(\d+)\/postgres$/.exec(url);
        assert.ok(m, `DATABASE_URL is a postgres URL: ${url}`);
        const [, password, address, port] = m;
        await until(
          'the add-on accepts connections',
          async () => spawnSync('pg_isready', ['-q', '-h', address ?? '', '-p', port ?? '', '-t', '1']).status === 0,
          60_000,
          50,
        );
        const createMs = Date.now() - created;
        console.log(`addons:create postgres to accepting connections: ${createMs} ms`);
        await until('the add-on is up', async () => info('shop-db').state === 'up', 30_000);
        assert.deepEqual(
          info('shop-db').attachments.map((a) => `${a.app} ${a.var}`),
          ['shop DATABASE_URL'],
        );

        // the release phase makes the table; the web process writes and reads rows
        push(dir);
        const host = 'shop.localhost';
        await until('shop serves', async () => (await get(up.router, host)).body === 'notes\n', 180_000);
        // Heroku's releases:output: what the release phase printed, read from the build's log
        assert.match(
          paas('releases:output', '-a', 'shop'),
          /^-----> Running release command: psql "\$DATABASE_URL" .*\n(.*\n)* +CREATE TABLE\n/,
        );
        const add = async (body: string): Promise<boolean> => {
          const r = await get(`${up.router}/cgi-bin/add?${body}`, host, 10_000);
          return r.status === 200 && /^\d+\n$/.test(r.body);
        };
        const list = async (): Promise<string[]> => {
          const r = await get(`${up.router}/cgi-bin/list`, host, 10_000);
          assert.equal(r.status, 200, r.body);
          return r.body.trim().split(',').filter(Boolean);
        };
        assert.ok(await add('1'));
        assert.deepEqual(await list(), ['1']);

        // kill -9 of the add-on's container in the middle of writes: every acknowledged row stays
        const acknowledged = ['1'];
        let n = 1;
        let writing = true;
        const writer = (async () => {
          while (writing) {
            n += 1;
            if (await add(String(n))) acknowledged.push(String(n));
          }
        })();
        await until('some writes', async () => acknowledged.length >= 20, 60_000);
        const id = paas('ps', '-q', '--no-trunc', '-f', 'label=paas.addon=shop-db').trim();
        const pid = Number(paas('inspect', '-f', '{{.State.Pid}}', id).trim());
        assert.ok(pid > 0, `the add-on's container runs (${id})`);
        process.kill(pid, 'SIGKILL');
        const killedAt = acknowledged.length;
        await until('writes succeed again after the restart', async () => acknowledged.length >= killedAt + 20, 90_000);
        writing = false;
        await writer;
        const stored = new Set(await list());
        assert.deepEqual(
          acknowledged.filter((b) => !stored.has(b)),
          [],
          'every acknowledged row is there after the kill',
        );

        // a redeploy and a rollback never touch the add-on's data
        const before = await list();
        up.run('git', ['commit', '-q', '--allow-empty', '-m', 'v2'], dir);
        push(dir);
        assert.deepEqual(await list(), before, 'after a redeploy');
        paas('rollback', '-a', 'shop');
        await until('shop serves after the rollback', async () => (await get(up.router, host)).status === 200, 60_000);
        assert.deepEqual(await list(), before, 'after a rollback');

        // a restart of the platform's processes
        await up.signal('SIGINT');
        up = { ...up, router: await up.again() } as PaasUp;
        await until(
          'shop serves after paas up again',
          async () => (await get(up.router, host)).status === 200,
          120_000,
        );
        assert.deepEqual(await list(), before, 'after a restart of paas up');

        // a backup restores a dropped table
        paas('pg:backups:capture', '-a', 'shop');
        await until(
          'the backup succeeds',
          async () =>
            (JSON.parse(paas('pg:backups', '-a', 'shop', '--json')) as { state?: string; status?: string }[]).some(
              (b) => (b.state ?? b.status) === 'succeeded',
            ),
          60_000,
        );
        paas('pg:psql', '-a', 'shop', '-c', 'DROP TABLE notes');
        assert.equal((await get(`${up.router}/cgi-bin/list`, host)).status, 503, 'the table is gone');
        paasFails('pg:backups:restore', 'b001', '-a', 'shop', '--confirm', 'not-shop');
        paas('pg:backups:restore', 'b001', '-a', 'shop', '--confirm', 'shop');
        assert.deepEqual(await list(), before, 'the rows are back');

        // pg:psql without -c: an interactive psql on a terminal (docs/api.md "One-off runs with a terminal")
        const psql = inPty([PAAS, 'pg:psql', '-a', 'shop'], up.env, [
          { raw: true },
          { send: 'select 41+1 as answer;\r' },
          { expect: '\\b42\\b' },
          { send: '\\q\r' },
        ]);
        assert.equal(psql.failed, null, psql.output);
        assert.equal(psql.status, 0, psql.output);
        assert.equal(psql.restored, true, 'the terminal is back in its modes');

        // a second attached app connects; a third, with the URL and the password, cannot
        for (const app of ['other', 'third'])
          push(checkout(app, { ...APP_FILES, Procfile: 'web: exec httpd -f -p "$PORT" -h /www\n' }));
        paas('addons:attach', 'shop-db', '-a', 'other');
        const psqlFrom = async (app: string, target: string): Promise<{ status: number | null; output: string }> => {
          const r = await paasAsync(
            [
              'run',
              '-a',
              app,
              '--',
              'psql',
              `${target}?connect_timeout=3`,
              '-qtAX',
              '-c',
              'SELECT count(*) FROM notes',
            ],
            up.env,
          );
          return { status: r.status, output: r.stdout + r.stderr };
        };
        const attached = await psqlFrom('other', paas('config:get', 'DATABASE_URL', '-a', 'other').trim());
        assert.equal(attached.status, 0, attached.output);
        assert.equal(attached.output.trim(), String(before.length));
        const outsider = await psqlFrom('third', url);
        assert.notEqual(outsider.status, 0, `an app not attached reaches the add-on: ${outsider.output}`);
        const current = paas('ps', '-q', '--no-trunc', '-f', 'label=paas.addon=shop-db').trim();
        const containerIp = paas('inspect', '-f', '{{.NetworkSettings.IPAddress}}', current).trim();
        assert.match(containerIp, /^10\.236\./);
        const direct = await psqlFrom('third', `postgres://postgres:${password}@${containerIp}:5432/postgres`);
        assert.notEqual(direct.status, 0, `an app not attached reaches the add-on's container: ${direct.output}`);

        // Redis: AOF on its volume keeps a key across a kill of its container
        paas('addons:create', 'redis', '-a', 'shop', '--name', 'shop-cache');
        await until('redis is up', async () => info('shop-cache').state === 'up', 60_000);
        assert.equal(paas('redis:cli', '-a', 'shop', 'SET', 'greeting', 'hello').trim(), 'OK');
        const redisId = paas('ps', '-q', '--no-trunc', '-f', 'label=paas.addon=shop-cache').trim();
        process.kill(Number(paas('inspect', '-f', '{{.State.Pid}}', redisId).trim()), 'SIGKILL');
        await until(
          'redis answers again with the key',
          async () => {
            const r = spawnSync(PAAS, ['redis:cli', '-a', 'shop', 'GET', 'greeting'], {
              env: up.env,
              encoding: 'utf8',
            });
            return r.status === 0 && r.stdout.trim() === 'hello';
          },
          60_000,
        );

        // destroying: refused without the right confirmation; with it the volume goes, the backup stays
        assert.match(paasFails('addons:destroy', 'shop-db', '--confirm', 'shop'), /confirm/i);
        const volumes = (): string[] => paas('volume', 'ls', '-q').split('\n');
        assert.equal(volumes().filter((v) => v.startsWith('addon-shop-db-')).length, 1, 'its volume is there');
        paas('addons:destroy', 'shop-db', '--confirm', 'shop-db');
        await until(
          "the add-on's volume is gone",
          async () => !volumes().some((v) => v.startsWith('addon-shop-db-')),
          60_000,
        );
        assert.doesNotMatch(paas('config', '-a', 'shop'), /DATABASE_URL/);
        // listed under the destroyed add-on's name (an operator's token)
        const kept = await fetch(`${up.env['PAAS_API_URL'] ?? ''}/api/addons/shop-db/backups`, {
          headers: { authorization: `Bearer ${up.token}` },
        });
        assert.equal(kept.status, 200);
        const backups = (await kept.json()) as { name: string; state: string }[];
        assert.deepEqual(
          backups.map((b) => `${b.name} ${b.state}`),
          ['b001 succeeded'],
          'the backup is kept until deleted',
        );
      },
    );
  });
});
