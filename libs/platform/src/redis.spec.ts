import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  APP_LOG_MAX,
  appLogKey,
  appendLog,
  buildLogKey,
  endLog,
  followLog,
  logCursor,
  tailLog,
  writeAppLog,
} from './logs';
import { connectRedis, redisOptions, reportOutages, whenReady } from './redis';
import { type LocalRedis, startLocalRedis } from './redis-server';
import { type TlsRedis, startTlsRedis } from './testing/redis';

describe('REDIS_URL', () => {
  it('takes redis://, rediss:// and unix:// URLs', () => {
    assert.deepEqual(redisOptions('redis://127.0.0.1:6380/2'), {
      host: '127.0.0.1',
      port: 6380,
      db: 2,
      maxRetriesPerRequest: null,
    });
    const secure = redisOptions('rediss://user:p%40ss@cache.example:6379');
    assert.equal(secure.password, 'p@ss');
    assert.equal(secure.username, 'user');
    assert.deepEqual(secure.tls, {});
    assert.equal(redisOptions('unix:///run/paas/redis.sock').path, '/run/paas/redis.sock');
    assert.deepEqual(redisOptions('rediss://h', { ca: 'PEM' }).tls, { ca: 'PEM' }, 'rediss trusts the CA given');
    assert.equal(redisOptions('redis://h', { ca: 'PEM' }).tls, undefined, 'a CA never turns TLS on');
  });

  it('says what is wrong, without the password', () => {
    assert.throws(() => redisOptions('http://h'), /REDIS_URL="http:\/\/h": unsupported scheme http:/);
    assert.throws(() => redisOptions('unix://relative.sock'), /absolute/);
    assert.throws(() => redisOptions('redis://h/x'), /database x is not a number/);
    assert.throws(
      () => redisOptions('nonsense'),
      (err: Error) => /not a URL/.test(err.message),
    );
    assert.throws(
      () => redisOptions('redis://:topsecret@h/x'),
      (err: Error) => !err.message.includes('topsecret'),
    );
  });
});

describe('rediss:// with a password, to a redis-server certified by the platform CA', () => {
  const password = 'p@ss word';
  let dir: string;
  let server: TlsRedis;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paas-rediss-'));
    server = await startTlsRedis(dir, password);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A client that tries once, and the errors it met (connect() only says "Connection is closed"). */
  const once = (url: string, ca: string | null) => {
    const errors: string[] = [];
    const client = connectRedis(url, { lazyConnect: true, retryStrategy: () => null }, { ca });
    client.on('error', (err: Error) => errors.push(err.message));
    return { client, errors };
  };

  it('connects over TLS with the CA and the password, and works', async () => {
    const { client } = once(server.url, server.ca);
    try {
      await client.connect();
      await client.set('k', 'over tls');
      assert.equal(await client.get('k'), 'over tls');
      await writeAppLog(client, 'tls-app', 'web.1', 'hello');
      assert.deepEqual(
        (await tailLog(client, appLogKey('tls-app'), 1)).map((e) => e.line),
        ['hello'],
      );
    } finally {
      client.disconnect();
    }
  });

  it("refuses a server whose certificate does not chain to the trusted CA (Node's roots without one)", async () => {
    const { client, errors } = once(server.url, null);
    try {
      await assert.rejects(client.connect());
      assert.match(errors.join('\n'), /self[- ]signed|unable to (get|verify)/i);
    } finally {
      client.disconnect();
    }
  });

  it('is refused with a wrong password, or none', async () => {
    const wrong = once(server.url.replace(encodeURIComponent(password), 'wrong'), server.ca);
    const none = once(server.url.replace(`:${encodeURIComponent(password)}@`, ''), server.ca);
    try {
      await assert.rejects(wrong.client.connect());
      assert.match(wrong.errors.join('\n'), /WRONGPASS|invalid username-password/i);
      await none.client.connect().catch(() => undefined);
      await assert.rejects(none.client.ping());
      assert.match(none.errors.join('\n'), /NOAUTH/);
    } finally {
      wrong.client.disconnect();
      none.client.disconnect();
    }
  });
});

describe('a redis-server that goes away and comes back', () => {
  it('is said once to be unavailable, once to be back, and the client works again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-redis-outage-'));
    let server = await startLocalRedis(dir);
    const client = connectRedis(server.url, { retryStrategy: () => 50 });
    const lines: string[] = [];
    let errors = 0;
    client.on('error', () => errors++);
    reportOutages(client, (line) => lines.push(line));
    try {
      await client.set('k', 'v');
      await server.stop();
      for (let i = 0; i < 100 && errors < 3; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(errors >= 3, `the client retried (${errors} errors)`);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] ?? '', /^redis unavailable \(.+\); retrying$/);
      server = await startLocalRedis(dir);
      for (let i = 0; i < 200 && lines.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(lines.slice(1), ['redis available again']);
      assert.equal(await client.ping(), 'PONG');
    } finally {
      client.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves a log follower waiting quietly, and it goes on once Redis is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-redis-outage-'));
    let server = await startLocalRedis(dir);
    const client = connectRedis(server.url, { retryStrategy: () => 50 });
    client.on('error', () => undefined);
    // ioredis prints this for a connection without an error listener, on every retry
    const printed: string[] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
    try {
      const key = buildLogKey('b-outage');
      await appendLog(client, key, 'build', 'before', 1000);
      const lines: string[] = [];
      const following = (async () => {
        for await (const entry of followLog(client, key, '0')) lines.push(entry.end ?? entry.line);
      })();
      for (let i = 0; i < 100 && lines.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
      server.process.kill('SIGKILL');
      await new Promise((r) => server.process.once('exit', r));
      await new Promise((r) => setTimeout(r, 300)); // a few retries of the follower's connection
      server = await startLocalRedis(dir);
      await appendLog(client, key, 'build', 'after', 1000);
      await endLog(client, key, 'succeeded');
      await following;
      assert.deepEqual(lines, ['before', 'after', 'succeeded']);
      assert.deepEqual(
        printed.filter((l) => l.includes('Unhandled error event')),
        [],
      );
    } finally {
      console.error = consoleError;
      client.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a log follower aborted while Redis is away', () => {
  it('ends at once, though its read waits in a reconnecting queue that never runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-redis-abort-'));
    const server = await startLocalRedis(dir);
    const client = connectRedis(server.url, { retryStrategy: () => 50 });
    client.on('error', () => undefined);
    try {
      const key = buildLogKey('b-abort');
      await appendLog(client, key, 'build', 'before', 1000);
      const abort = new AbortController();
      const lines: string[] = [];
      let ended = false;
      const following = (async () => {
        for await (const entry of followLog(client, key, '0', abort.signal)) lines.push(entry.line);
        ended = true;
      })();
      for (let i = 0; i < 100 && lines.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
      await server.stop();
      await new Promise((r) => setTimeout(r, 300)); // the reader reconnects, its read queued
      abort.abort();
      await Promise.race([following, new Promise((r) => setTimeout(r, 2000))]);
      assert.equal(ended, true, 'the follow ended when aborted');
      assert.deepEqual(lines, ['before']);
    } finally {
      client.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a fresh connection that subscribes', () => {
  it('subscribes once ready and keeps its connection (ioredis drops one that subscribes in its handshake)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paas-redis-sub-'));
    const server = await startLocalRedis(dir);
    const publisher = connectRedis(server.url);
    try {
      for (let i = 0; i < 5; i++) {
        const subscriber = connectRedis(server.url);
        let closes = 0;
        const errors: string[] = [];
        subscriber.on('close', () => closes++);
        subscriber.on('error', (err: Error) => errors.push(err.message));
        try {
          // the window: the socket is up, the handshake (client info, ready check) is not done
          await new Promise((r) => subscriber.once('connect', r));
          assert.equal(subscriber.status, 'connect');
          await whenReady(subscriber);
          assert.equal(subscriber.status, 'ready');
          const got = new Promise<string>((resolve) => subscriber.once('message', (_c, text: string) => resolve(text)));
          await subscriber.subscribe('paas-test-channel');
          // what is published right after subscribing arrives, and nothing dropped the connection
          assert.equal(await publisher.publish('paas-test-channel', `hello ${i}`), 1);
          assert.equal(await got, `hello ${i}`);
          await publisher.ping();
          assert.deepEqual({ closes, errors }, { closes: 0, errors: [] });
        } finally {
          subscriber.disconnect();
        }
      }
      // a lazy connection is connected by it; an ended one resolves and the next command fails
      const lazy = connectRedis(server.url, { lazyConnect: true });
      assert.equal(lazy.status, 'wait');
      await whenReady(lazy);
      assert.equal(lazy.status, 'ready');
      lazy.disconnect();
      await new Promise((r) => setTimeout(r, 20));
      await whenReady(lazy);
      await assert.rejects(lazy.subscribe('x'), /Connection is closed/);
      // a lazy connection to a server not up yet: no rejection, ready once the server is
      const laterDir = mkdtempSync(join(tmpdir(), 'paas-redis-later-'));
      const later = connectRedis(`unix://${join(laterDir, 'redis.sock')}`, {
        lazyConnect: true,
        retryStrategy: () => 20,
      });
      later.on('error', () => undefined);
      try {
        const ready = whenReady(later);
        await new Promise((r) => setTimeout(r, 100));
        const laterServer = await startLocalRedis(laterDir);
        try {
          await ready;
          assert.equal(later.status, 'ready');
        } finally {
          later.disconnect();
          await laterServer.stop();
        }
      } finally {
        rmSync(laterDir, { recursive: true, force: true });
      }
    } finally {
      publisher.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('log streams on a real redis-server', () => {
  let dir: string;
  let redis: LocalRedis;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paas-redis-'));
    redis = await startLocalRedis(dir);
  });
  after(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('replays a build log from the start and follows it to its end', async () => {
    const client = connectRedis(redis.url);
    try {
      const key = buildLogKey('b1');
      await appendLog(client, key, 'build', 'Step 1/2', 1000);
      const lines: string[] = [];
      const following = (async () => {
        for await (const entry of followLog(client, key, '0')) lines.push(entry.end ?? entry.line);
      })();
      await appendLog(client, key, 'build', 'Step 2/2', 1000);
      await endLog(client, key, 'succeeded');
      await following;
      assert.deepEqual(lines, ['Step 1/2', 'Step 2/2', 'succeeded']);
      assert.ok((await client.ttl(key)) > 0, 'a finished stream expires');
    } finally {
      client.disconnect();
    }
  });

  it('tails the last lines and stops following when aborted', async () => {
    const client = connectRedis(redis.url);
    try {
      const key = appLogKey('app1');
      for (let i = 0; i < 5; i++) await appendLog(client, key, 'api', `line ${i}`, APP_LOG_MAX);
      assert.deepEqual(
        (await tailLog(client, key, 2)).map((e) => e.line),
        ['line 3', 'line 4'],
      );
      const abort = new AbortController();
      const seen: string[] = [];
      const cursor = await logCursor(client, key);
      const following = (async () => {
        for await (const entry of followLog(client, key, cursor, abort.signal)) {
          seen.push(entry.line);
          abort.abort();
        }
      })();
      await appendLog(client, key, 'web.1', 'new', APP_LOG_MAX);
      await following;
      assert.deepEqual(seen, ['new'], 'only lines after the start');
    } finally {
      client.disconnect();
    }
  });

  it('appends existing-only lines to a live log, never to a deleted one', async () => {
    const client = connectRedis(redis.url);
    try {
      const key = appLogKey('deleted-app');
      await writeAppLog(client, 'deleted-app', 'scheduler', 'late line', { existingOnly: true });
      assert.equal(await client.exists(key), 0, 'no stream made for a deleted app');
      await writeAppLog(client, 'deleted-app', 'api', 'Created app');
      await writeAppLog(client, 'deleted-app', 'scheduler', 'Deploying v1', { existingOnly: true });
      assert.deepEqual(
        (await tailLog(client, key, 10)).map((e) => [e.source, e.line]),
        [
          ['api', 'Created app'],
          ['scheduler', 'Deploying v1'],
        ],
      );
    } finally {
      client.disconnect();
    }
  });

  it("writes an app's log line best effort: a failed write is reported, never thrown", async () => {
    const client = connectRedis(redis.url);
    client.disconnect();
    const errors: Error[] = [];
    await writeAppLog(client, 'app2', 'api', 'lost', { onError: (err) => errors.push(err) });
    assert.equal(errors.length, 1, 'the failure reaches onError');
    await writeAppLog(client, 'app2', 'api', 'lost again');
  });

  it('fails clearly when redis-server cannot start', async () => {
    const bad = join(dir, 'x'.repeat(120));
    await assert.rejects(startLocalRedis(bad), /redis-server/);
  });
});
