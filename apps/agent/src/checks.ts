/**
 * Running a deploy check (libs/platform scheduling/checks.ts) against a new instance, from the
 * node itself: HTTP GET or TCP connect to the container's bridge address, or "still running
 * after a while". Every attempt first looks whether the container still runs: one that exited
 * fails at once, with its exit code.
 */
import type { DeployCheck } from '@paas/platform';
import { request } from 'node:http';
import { connect } from 'node:net';
import { type Liveness, systemClock } from './roles';
import { PaasError } from '@paas/errors';

export class CheckFailedError extends PaasError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

const sleep = systemClock.sleep;

function httpOnce(
  host: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path,
        method: 'GET',
        agent: false,
        timeout: timeoutMs,
        headers: { 'user-agent': 'paas-agent/check' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < 64 * 1024) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function tcpOnce(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => socket.destroy(new Error(`no connection within ${timeoutMs} ms`)));
    socket.once('error', reject);
  });
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ECONNREFUSED' ? 'connection refused' : (e.code ?? e.message);
}

/** Resolves when `check` passes against `host`; throws CheckFailedError saying why it did not. */
export async function runCheck(
  check: DeployCheck,
  host: string,
  liveness: Liveness,
  signal?: AbortSignal,
): Promise<void> {
  if (check.kind === 'uptime') {
    await sleep(check.ms, signal);
    const dead = await liveness();
    if (dead) throw new CheckFailedError(`the process ${dead} within ${check.ms / 1000} s of starting`);
    return;
  }
  const what = check.kind === 'http' ? `GET ${check.path} on port ${check.port}` : `TCP connect to port ${check.port}`;
  await sleep(check.initialDelayMs, signal);
  let last = 'no attempt';
  for (let attempt = 1; attempt <= check.attempts && !signal?.aborted; attempt++) {
    const dead = await liveness();
    if (dead) throw new CheckFailedError(`the process ${dead} before ${what} passed`);
    try {
      if (check.kind === 'tcp') {
        await tcpOnce(host, check.port, check.timeoutMs);
        return;
      }
      const res = await httpOnce(host, check.port, check.path, check.timeoutMs);
      const ok = check.anyStatus ? res.status < 500 : res.status >= 200 && res.status < 400;
      if (ok && (check.content === undefined || res.body.includes(check.content))) return;
      last = ok ? `the answer does not contain ${JSON.stringify(check.content)}` : `answered ${res.status}`;
    } catch (err) {
      last = reason(err);
    }
    if (attempt < check.attempts) await sleep(check.intervalMs, signal);
  }
  if (signal?.aborted) throw new CheckFailedError('stopped before its check passed');
  throw new CheckFailedError(`${what} failed ${check.attempts} times: ${last}`);
}
