/**
 * A real ACME server for tests: Debian's `pebble` (2.4.0), started on loopback ports of its own,
 * with everything it needs made by the harness and stopped by it, whatever failed.
 *
 * - Its HTTPS (the directory and the management API) presents a leaf for 127.0.0.1/localhost
 *   signed by a throw-away platform CA (`tlsCa`): the package ships no test certificate, and a
 *   client trusts exactly this CA, never a global NODE_TLS_REJECT_UNAUTHORIZED.
 * - HTTP-01 validation connects to `httpPort`, where the test's responder listens.
 * - Its DNS (`-dnsserver`) is a tiny resolver here on 127.0.0.1 (node:dgram) that answers A
 *   with `resolve(name)` (127.0.0.1 unless the test says otherwise) for every name, and no
 *   records for every other question, so no name is ever looked up outside the machine.
 * - PEBBLE_VA_NOSLEEP=1 validates at once; PEBBLE_AUTHZREUSE=0 so every order is validated
 *   afresh (a spec reusing a name still publishes a challenge); `validitySeconds` sets
 *   `certificateValidityPeriod` for short-lived certificates.
 * - `root` and `intermediate` (management `/roots/0`, `/intermediates/0`) are the issuing CA,
 *   made anew on every start: what a client trusts to verify an issued chain.
 *
 * `suitePebble` starts one per `describe` (in `before`) and stops it in `after`; `startPebble`
 * is the same for callers that manage the lifetime themselves (e2e).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before } from 'node:test';
import { ensurePlatformCa, issueLeaf } from '../tls/platform-ca';
import { freePort } from './free-port';

export interface PebbleOptions {
  /** Where pebble's HTTP-01 validation connects (the test's responder), on the resolved address. */
  readonly httpPort: number;
  /** The address a name resolves to; 127.0.0.1 for every name when not given. */
  readonly resolve?: (name: string) => string;
  /** Issued certificates' lifetime in seconds (pebble's default is five years). */
  readonly validitySeconds?: number;
}

export interface Pebble {
  /** `https://127.0.0.1:PORT/dir` */
  readonly directoryUrl: string;
  /** The CA of pebble's own HTTPS (directory and management), PEM: what an ACME client trusts. */
  readonly tlsCa: string;
  /** The root that issued certificates chain to, PEM. */
  readonly root: string;
  /** The intermediate that signs issued certificates, PEM. */
  readonly intermediate: string;
  /** What pebble printed so far (for a failing test's message). */
  log(): string;
  stop(): Promise<void>;
}

/** `pebble -h` lives here; bootstrap installs it. */
export const PEBBLE_BIN = '/usr/bin/pebble';

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'paas-pebble-'));
  let dns: Socket | undefined;
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (child) await stopChild(child);
    dns?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ca = await ensurePlatformCa(join(dir, 'ca'));
    const leaf = await issueLeaf(ca, { commonName: 'pebble', sans: ['127.0.0.1', 'localhost'] });
    writeFileSync(join(dir, 'cert.pem'), leaf.cert);
    writeFileSync(join(dir, 'key.pem'), leaf.key, { mode: 0o600 });
    dns = await startDns(options.resolve ?? (() => '127.0.0.1'));
    const dnsPort = (dns.address() as { port: number }).port;
    const [listen, management, tlsPort] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'pebble.json'),
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${listen}`,
          managementListenAddress: `127.0.0.1:${management}`,
          certificate: join(dir, 'cert.pem'),
          privateKey: join(dir, 'key.pem'),
          httpPort: options.httpPort,
          tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
          ...(options.validitySeconds === undefined ? {} : { certificateValidityPeriod: options.validitySeconds }),
        },
      }),
    );
    let output = '';
    child = spawn(PEBBLE_BIN, ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
      cwd: dir,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = (): string => output;
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<never>((_, reject) => {
      child?.once('error', (err) =>
        reject(new Error(`${PEBBLE_BIN}: ${err.message} (infra/bootstrap.sh installs pebble)`)),
      );
      child?.once('exit', (code, signal) =>
        reject(new Error(`pebble exited (${signal ?? code}) before it answered:\n${output.trim()}`)),
      );
    });
    exited.catch(() => undefined);
    const managementUrl = `https://127.0.0.1:${management}`;
    const fetchPem = (path: string): Promise<string> =>
      Promise.race([getText(`${managementUrl}${path}`, ca.cert), exited]);
    const root = await untilAnswered(() => fetchPem('/roots/0'), exited);
    const intermediate = await fetchPem('/intermediates/0');
    await Promise.race([getText(`https://127.0.0.1:${listen}/dir`, ca.cert), exited]);
    return {
      directoryUrl: `https://127.0.0.1:${listen}/dir`,
      tlsCa: ca.cert,
      root,
      intermediate,
      log,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * One pebble for the suite around the call: started in `before` (with the options `options()`
 * gives then, so a responder started in an earlier `before` can name its port), stopped in `after`.
 */
export function suitePebble(options: () => PebbleOptions): () => Pebble {
  let pebble: Pebble | undefined;
  before(async () => {
    pebble = await startPebble(options());
  });
  after(async () => {
    await pebble?.stop();
  });
  return () => {
    if (!pebble) throw new Error('suitePebble: the suite has not started');
    return pebble;
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(
    () => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'),
    5_000,
  );
  await gone;
  clearTimeout(timer);
}

async function untilAnswered<T>(attempt: () => Promise<T>, exited: Promise<never>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    try {
      return await attempt();
    } catch (err) {
      last = err;
      await Promise.race([sleep(50), exited]);
    }
  }
  throw new Error(`pebble did not answer in 10 s: ${(last as Error).message}`);
}

/** GET `url` over HTTPS trusting only `ca`; the body when 200. */
function getText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

// --- the resolver ------------------------------------------------------------------------
// RFC 1035 4.1: a 12-byte header, the question (labels, QTYPE, QCLASS), then answers. One
// question per query (what every resolver sends); the answer points back at it (0xc00c).

const TYPE_A = 1;

async function startDns(resolve: (name: string) => string): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    const reply = answer(query, resolve);
    if (reply) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((ready, fail) => {
    socket.once('error', fail);
    socket.bind(0, '127.0.0.1', () => ready());
  });
  return socket;
}

/** The reply to `query`, or undefined for what is not a one-question query (dropped). */
function answer(query: Buffer, resolve: (name: string) => string): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1 || query.readUInt8(2) & 0x80) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < query.length && query[at] !== 0) {
    const length = query.readUInt8(at);
    if (length > 63) return undefined;
    labels.push(query.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  const end = at + 5;
  if (end > query.length) return undefined;
  const type = query.readUInt16BE(at + 1);
  const question = query.subarray(12, end);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100), 2); // QR, AA, RD echoed, NOERROR
  header.writeUInt16BE(1, 4);
  if (type !== TYPE_A) return Buffer.concat([header, question]);
  const address = resolve(labels.join('.').toLowerCase()).split('.').map(Number);
  header.writeUInt16BE(1, 6);
  const record = Buffer.alloc(16);
  record.writeUInt16BE(0xc00c, 0);
  record.writeUInt16BE(TYPE_A, 2);
  record.writeUInt16BE(1, 4); // IN
  record.writeUInt32BE(0, 6); // TTL: never cached
  record.writeUInt16BE(4, 10);
  Buffer.from(address).copy(record, 12);
  return Buffer.concat([header, question, record]);
}
