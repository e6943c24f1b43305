/**
 * The real router for e2e specs: the bundle `dist/apps/proxy/main.js` (built here when older
 * than its sources) as a child process, a real redis-server, and real backends — node:http
 * servers in this process or in child processes that a test can SIGKILL. Everything started
 * here is stopped by `cleanup()` (and, failing that, when this process exits).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
  request,
} from 'node:http';
import { type AddressInfo, type Socket, connect, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type LocalRedis, type ParsedFamily, parsePrometheus, startLocalRedis } from '@paas/platform/testing';

export const WORKSPACE = resolve(__dirname, '..', '..');
const BUNDLE = join(WORKSPACE, 'dist', 'apps', 'proxy', 'main.js');

const cleanups: Array<() => void | Promise<void>> = [];
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Runs every registered cleanup, newest first; safe to call more than once. */
export async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${(err as Error).message}`);
    }
  }
}

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts'))
      latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

/** Builds the router bundle when it is missing or older than the sources it is made of. */
export function ensureBuilt(): void {
  const sources = Math.max(
    newest(join(WORKSPACE, 'apps', 'proxy', 'src')),
    newest(join(WORKSPACE, 'libs', 'platform', 'src')),
    newest(join(WORKSPACE, 'libs', 'config', 'src')),
  );
  let built = 0;
  try {
    built = statSync(BUNDLE).mtimeMs;
  } catch {
    built = 0;
  }
  if (built < sources) {
    execFileSync(process.execPath, ['tools/build.mjs', 'proxy', 'apps/proxy'], { cwd: WORKSPACE, stdio: 'inherit' });
  }
}

export async function redisServer(): Promise<LocalRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'paas-e2e-proxy-redis-'));
  const redis = await startLocalRedis(dir);
  children.add(redis.process);
  cleanups.push(async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return redis;
}

export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : String(last)})`,
      );
    }
    await sleep(25);
  }
}

// ---- the router ----

export class RouterProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  url = '';
  port = 0;
  /** The HTTPS listener's port (0 when HTTPS is off). */
  tlsPort = 0;
  admin = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [BUNDLE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this.child);
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolveExit) =>
      this.child.once('exit', (code, signal) => {
        children.delete(this.child);
        resolveExit({ code, signal });
      }),
    );
    cleanups.push(async () => {
      await this.stop('SIGKILL');
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Waits for "proxy listening on URL"; rejects with the router's output if it exits first. */
  async ready(timeoutMs = 20_000): Promise<this> {
    const exited = this.exited.then(({ code, signal }) => {
      throw new Error(`router exited (${signal ?? `status ${code}`}) before listening:\n${this.stderr}`);
    });
    const listening = waitFor(
      'the router to listen',
      () => /proxy listening on (http:\/\/\S+)/.exec(this.stderr),
      timeoutMs,
    );
    const match = await Promise.race([listening, exited]);
    this.url = match[1] ?? '';
    this.port = Number(new URL(this.url).port);
    this.admin = /admin (http:\/\/\S+)/.exec(this.stderr)?.[1] ?? '';
    const tls = /, https (https:\/\/[^\s,]+)/.exec(this.stderr)?.[1];
    this.tlsPort = tls ? Number(new URL(tls).port) : 0;
    return this;
  }

  /** Access log lines so far. */
  accessLog(): Array<Record<string, unknown>> {
    return this.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  async metrics(): Promise<MetricsDocument> {
    const answer = await send(Number(new URL(this.admin).port), { host: '127.0.0.1', path: '/_paas/metrics' });
    if (answer.status !== 200) throw new Error(`GET /_paas/metrics: ${answer.status} ${answer.body}`);
    return JSON.parse(answer.body) as MetricsDocument;
  }

  /** The admin address's `GET /metrics`: Prometheus text, read strictly (a format error throws). */
  async prometheus(): Promise<{ families: Map<string, ParsedFamily>; contentType: string }> {
    const answer = await send(Number(new URL(this.admin).port), { host: '127.0.0.1', path: '/metrics' });
    if (answer.status !== 200) throw new Error(`GET /metrics: ${answer.status} ${answer.body}`);
    return { families: parsePrometheus(answer.body), contentType: String(answer.headers['content-type']) };
  }

  /** The admin address's status: the table version of the primary and of each worker. */
  async health(): Promise<HealthDocument> {
    const answer = await send(Number(new URL(this.admin).port), { host: '127.0.0.1', path: '/_paas/health' });
    if (answer.status !== 200) throw new Error(`GET /_paas/health: ${answer.status} ${answer.body}`);
    return JSON.parse(answer.body) as HealthDocument;
  }

  /** The router's worker processes (its children). */
  workerPids(): number[] {
    try {
      return execFileSync('pgrep', ['-P', String(this.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const workers = this.workerPids();
      this.child.kill(signal);
      if (signal === 'SIGKILL') for (const pid of workers) process.kill(pid, 'SIGKILL');
    }
    return this.exited;
  }
}

export interface HealthDocument {
  status: string;
  routesVersion: number;
  workers: number;
  /** The table version each live worker routes by. */
  workerVersions: number[];
  /** The certificate table's version (null when HTTPS is off) and each live worker's. */
  certsVersion: number | null;
  workerCertsVersions: number[];
  certificates: Array<{ app: string; id: string; domains: string[]; notAfter: string }>;
}

export interface MetricsDocument {
  router: string;
  workers: number;
  routesVersion: number;
  unrouted: number;
  apps: Record<
    string,
    { requests: number; requestsPerSecond: number; inflight: number; status: Record<string, number> }
  >;
  backends: Array<{ app: string; id: string; address: string; healthy: boolean; lastError: string | null }>;
}

export function routerEnv(redisUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = mkdtempSync(join(tmpdir(), 'paas-e2e-proxy-'));
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  return {
    PATH: process.env['PATH'],
    PAAS_ROOT: join(base, 'root'),
    PAAS_RUN: join(base, 'run'),
    REDIS_URL: redisUrl,
    PAAS_ROUTER_ADDR: '127.0.0.1:0',
    PAAS_ROUTER_ADMIN_ADDR: '127.0.0.1:0',
    PAAS_DOMAIN: 'localhost',
    ...extra,
  };
}

// ---- backends ----

export interface Backend {
  readonly name: string;
  readonly port: number;
  readonly address: string;
  /** Requests seen, newest last. */
  readonly seen: Array<{ url: string; headers: IncomingHttpHeaders }>;
  healthy: boolean;
  /** Answers every `/held...` request waiting so far (`NAME URL`). */
  release(): void;
  close(): Promise<void>;
}

/**
 * A node:http backend in this process: `/health` answers 200 or 500 as `healthy` says,
 * `/slow?ms=N` answers after N ms, `/held...` when the test calls `release()` (however
 * loaded the machine), anything else answers `NAME URL`. It answers websocket
 * upgrades with a real handshake and echoes text frames back as `echo: TEXT`.
 */
export async function backend(name: string): Promise<Backend> {
  const server: Server = createServer();
  const seen: Backend['seen'] = [];
  const held: Array<() => void> = [];
  const b: Backend = {
    name,
    port: 0,
    address: '',
    seen,
    healthy: true,
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    close: () =>
      new Promise((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    seen.push({ url, headers: req.headers });
    if (url === '/health') {
      res.statusCode = b.healthy ? 200 : 500;
      res.end();
      return;
    }
    const slow = /^\/slow\?ms=(\d+)/.exec(url);
    const answer = (): void => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${name} ${url}`);
    };
    if (slow) setTimeout(answer, Number(slow[1]));
    else if (url.startsWith('/held')) held.push(answer);
    else answer();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key'] ?? ''}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    let buffered = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      for (let frame = decodeFrame(buffered); frame; frame = decodeFrame(buffered)) {
        buffered = buffered.subarray(frame.length);
        if (frame.opcode === 0x8) {
          socket.end(encodeFrame('', 0x8, false));
          return;
        }
        socket.write(encodeFrame(`echo: ${frame.text}`, 0x1, false));
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const port = (server.address() as AddressInfo).port;
  Object.assign(b, { port, address: `127.0.0.1:${port}` });
  cleanups.push(() => b.close());
  return b;
}

const CHILD_BACKEND = `
const http = require('node:http');
const name = process.argv[1];
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(name + ' ' + req.url);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** A backend in a process of its own, for tests that kill it outright. */
export async function childBackend(name: string): Promise<{ address: string; kill(): void }> {
  const child = spawn(process.execPath, ['-e', CHILD_BACKEND, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const port = await waitFor(`backend ${name} to listen`, () => /^(\d+)\n/.exec(out)?.[1]);
  return { address: `127.0.0.1:${port}`, kill: () => child.kill('SIGKILL') };
}

/** An address where nothing listens. */
export async function deadAddress(): Promise<string> {
  const s = createTcpServer();
  await new Promise<void>((resolveListen) => s.listen(0, '127.0.0.1', resolveListen));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolveClose) => s.close(resolveClose));
  return `127.0.0.1:${port}`;
}

// ---- clients ----

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export function send(
  port: number,
  options: {
    host: string;
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    agent?: Agent;
  },
): Promise<Answer> {
  return new Promise((resolveAnswer, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: { host: options.host, ...options.headers },
        agent: options.agent ?? false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolveAnswer({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer from 127.0.0.1:${port} within 30 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * GET https://HOST:PORT/PATH with curl, HOST resolved to loopback (the router's TLS listener),
 * trusting only `caFile`: a real client that verifies the chain for the name. Resolves to what
 * curl printed: the body, or with `writeOut` what its -w format says (`%{http_code}`); rejects
 * when curl fails, a failed handshake or verification included.
 */
export async function curlHttps(
  port: number,
  host: string,
  caFile: string,
  options: { path?: string; writeOut?: string } = {},
): Promise<string> {
  const args = ['-sS', '--cacert', caFile, '--resolve', `${host}:${port}:127.0.0.1`];
  if (options.writeOut !== undefined) args.push('-o', '/dev/null', '-w', options.writeOut);
  const { stdout } = await promisify(execFile)('curl', [...args, `https://${host}:${port}${options.path ?? '/'}`]);
  return stdout;
}

/**
 * Writes raw bytes and returns everything read until the router closes the connection (a
 * request that the router answers and keeps alive must say `Connection: close`). The writing
 * side stays open: Node's server drops a request whose client half-closes before the answer.
 */
export function raw(port: number, text: string): Promise<string> {
  return new Promise((resolveText) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolveText(answer));
  });
}

/** A backend that accepts connections (so TCP checks pass) and resets every one that sends. */
export async function resettingBackend(): Promise<{ address: string }> {
  const server = createTcpServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.resetAndDestroy());
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  cleanups.push(() => new Promise<void>((resolveClose) => server.close(() => resolveClose())));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

// ---- websockets (RFC 6455, text frames up to 125 bytes: all these tests need) ----

export function encodeFrame(text: string, opcode: number, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('frame too long for this test codec');
  const head = Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([head, payload]);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  return Buffer.concat([head, mask, payload.map((byte, i) => byte ^ (mask[i % 4] as number))]);
}

export function decodeFrame(data: Buffer): { opcode: number; text: string; length: number } | null {
  if (data.length < 2) return null;
  const opcode = (data[0] as number) & 0x0f;
  const masked = ((data[1] as number) & 0x80) !== 0;
  const size = (data[1] as number) & 0x7f;
  if (size > 125) throw new Error('frame too long for this test codec');
  const start = 2 + (masked ? 4 : 0);
  if (data.length < start + size) return null;
  let payload = data.subarray(start, start + size);
  if (masked) {
    const mask = data.subarray(2, 6);
    payload = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  }
  return { opcode, text: payload.toString(), length: start + size };
}

/** A websocket client: handshake checked, `say` sends a text frame and returns the reply. */
export function websocket(
  port: number,
  host: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; say(text: string): Promise<string>; close(): void }> {
  return new Promise((resolveSocket, reject) => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const req = request({
      host: '127.0.0.1',
      port,
      headers: {
        host,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': key,
      },
    });
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (res.headers['sec-websocket-accept'] !== expected) {
        reject(new Error(`bad Sec-WebSocket-Accept ${res.headers['sec-websocket-accept']}`));
        return;
      }
      let buffered = Buffer.from(head);
      const waiting: Array<(text: string) => void> = [];
      socket.on('data', (data: Buffer) => {
        buffered = Buffer.concat([buffered, data]);
        for (let frame = decodeFrame(buffered); frame; frame = decodeFrame(buffered)) {
          buffered = buffered.subarray(frame.length);
          waiting.shift()?.(frame.text);
        }
      });
      socket.on('error', () => undefined);
      resolveSocket({
        status: res.statusCode ?? 0,
        headers: res.headers,
        say: (text) =>
          new Promise((resolveReply) => {
            waiting.push(resolveReply);
            socket.write(encodeFrame(text, 0x1, true));
          }),
        close: () => socket.end(encodeFrame('', 0x8, true)),
      });
    });
    req.on('response', (res: IncomingMessage) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () =>
        resolveSocket({
          status: res.statusCode ?? 0,
          headers: res.headers,
          say: () => Promise.reject(new Error(`no websocket: ${res.statusCode} ${body}`)),
          close: () => undefined,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
