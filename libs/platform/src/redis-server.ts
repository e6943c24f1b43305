/**
 * A private redis-server on a unix socket: the platform's managed Redis under `paas up`
 * (persistent, under $PAAS_ROOT/platform/redis) and each test's own Redis. No client library
 * here, so the CLI can start one without bundling a Redis client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Sends PING in Redis' inline protocol and waits for +PONG. */
function answersPing(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect(socket);
    let reply = '';
    const done = (ok: boolean): void => {
      conn.destroy();
      resolve(ok);
    };
    conn.setTimeout(1000, () => done(false));
    conn.on('error', () => done(false));
    conn.on('connect', () => conn.write('PING\r\n'));
    conn.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

export interface LocalRedis {
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server listening only on a unix socket in `dir` (no TCP port, so
 * nothing else on the machine can reach it and tests never collide). `persist` keeps an
 * append-only file there (the platform's managed redis); tests run without.
 */
export async function startLocalRedis(dir: string, { persist = false } = {}): Promise<LocalRedis> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = join(dir, 'redis.sock');
  rmSync(socket, { force: true });
  const args = [
    '--port',
    '0',
    '--unixsocket',
    socket,
    '--unixsocketperm',
    '700',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    persist ? 'yes' : 'no',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
    '--logfile',
    '',
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `unix://${socket}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited: ${stderr.trim() || `status ${child.exitCode ?? child.signalCode}`}`);
    }
    if (await answersPing(socket)) return { url, process: child, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer on ${socket} within 10 s`);
    }
    await sleep(20);
  }
}
