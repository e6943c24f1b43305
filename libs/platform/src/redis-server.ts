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

/** Sends PING in Redis' inline protocol (after AUTH with `password`) and waits for +PONG. */
function answersPing(socket: string, password: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect(socket);
    let reply = '';
    const done = (ok: boolean): void => {
      conn.destroy();
      resolve(ok);
    };
    conn.setTimeout(1000, () => done(false));
    conn.on('error', () => done(false));
    // AUTH as a RESP array: a password may hold spaces, which the inline form would split
    const auth = password === undefined ? '' : `*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(password)}\r\n${password}\r\n`;
    conn.on('connect', () => conn.write(`${auth}PING\r\n`));
    conn.on('data', (chunk) => {
      reply += chunk.toString();
      const lines = reply.split('\r\n');
      const pong = lines[password === undefined ? 0 : 1];
      if (lines.length > (password === undefined ? 1 : 2)) done(pong?.startsWith('+PONG') ?? false);
    });
  });
}

export interface LocalRedis {
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** A TLS listener besides the unix socket: PEM files the server reads, and its TCP port. */
export interface LocalRedisTls {
  readonly port: number;
  readonly host: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

export interface LocalRedisOptions {
  /** Keep an append-only file in `dir` (the platform's managed redis); tests run without. */
  readonly persist?: boolean;
  /** `requirepass`: every client, on the socket too, must AUTH. */
  readonly password?: string;
  /** Also listen with TLS on `tls.host:tls.port` (clients need no certificate of their own). */
  readonly tls?: LocalRedisTls;
}

/**
 * Starts a private redis-server listening on a unix socket in `dir` (no plain TCP port, so
 * nothing else on the machine can reach it and tests never collide), and with TLS on a TCP
 * port when `tls` says so.
 */
export async function startLocalRedis(
  dir: string,
  { persist = false, password, tls }: LocalRedisOptions = {},
): Promise<LocalRedis> {
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
    ...(password !== undefined ? ['--requirepass', password] : []),
    ...(tls
      ? [
          '--tls-port',
          String(tls.port),
          '--bind',
          tls.host,
          '--tls-cert-file',
          tls.certFile,
          '--tls-key-file',
          tls.keyFile,
          '--tls-ca-cert-file',
          tls.caFile,
          '--tls-auth-clients',
          'no',
        ]
      : []),
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
    if (await answersPing(socket, password)) return { url, process: child, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer on ${socket} within 10 s`);
    }
    await sleep(20);
  }
}
