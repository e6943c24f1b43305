/**
 * Faults: a client killed mid-upload, a truncated PATCH, a wrong digest, two clients pushing
 * the same blob at once, a restart in the middle of an upload, stale sessions. In every case
 * no partial or corrupt blob is ever served and the next push succeeds.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '@paas/oci';
import { type TestRegistry, errorCode, testRegistry } from '../spec-support';

async function startUpload(url: string, name: string): Promise<string> {
  const res = await fetch(`${url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  assert.equal(res.status, 202);
  return `${url}${res.headers.get('location') ?? ''}`;
}

async function uploadStatus(location: string): Promise<string | null> {
  const res = await fetch(location);
  return res.status === 204 ? res.headers.get('range') : `status ${res.status}`;
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('registry faults', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await testRegistry();
  });
  after(() => reg.dispose());

  it('keeps nothing of a client killed mid-upload, and the next push succeeds', async () => {
    const data = randomBytes(1024 * 1024);
    const digest = digestOf(data);
    const location = await startUpload(reg.url, 'faults/killed');
    // a child that streams the blob slowly in a PATCH, then a PUT it never gets to send
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const http = require('node:http');
         const req = http.request(process.argv[1], { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' } });
         req.on('error', () => {});
         let sent = 0;
         const tick = () => { req.write(Buffer.alloc(16384, 7)); sent += 16384; if (sent === 65536) console.log('sent'); setTimeout(tick, 20); };
         tick();`,
        location,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // the server rolls the session back to where it was before the interrupted chunk
    await waitFor(async () => (await uploadStatus(location)) === '0-0', 'the killed chunk to be rolled back');
    const head = await fetch(`${reg.url}/v2/faults/killed/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    // the same session can still be finished, and a fresh push works too
    const put = await fetch(`${location}?digest=${digest}`, { method: 'PUT', body: data });
    assert.equal(put.status, 201);
    const got = Buffer.from(await (await fetch(`${reg.url}/v2/faults/killed/blobs/${digest}`)).arrayBuffer());
    assert.ok(got.equals(data));
  });

  it('rolls back a truncated PATCH (Content-Length larger than the body, connection closed)', async () => {
    const data = Buffer.from('a'.repeat(100) + 'b'.repeat(100));
    const location = await startUpload(reg.url, 'faults/truncated');
    const first = await fetch(location, {
      method: 'PATCH',
      body: data.subarray(0, 100),
      headers: { 'Content-Range': '0-99' },
    });
    assert.equal(first.status, 202);
    const target = new URL(location);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(target.port), target.hostname, () => {
        socket.write(
          `PATCH ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/octet-stream\r\n` +
            `Content-Range: 100-199\r\nContent-Length: 100\r\n\r\n${'b'.repeat(40)}`,
          () => setTimeout(() => socket.destroy(), 100),
        );
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await waitFor(async () => (await uploadStatus(location)) === '0-99', 'the truncated chunk to be rolled back');
    const retry = await fetch(location, {
      method: 'PATCH',
      body: data.subarray(100),
      headers: { 'Content-Range': '100-199' },
    });
    assert.equal(retry.status, 202);
    const put = await fetch(`${location}?digest=${digestOf(data)}`, { method: 'PUT' });
    assert.equal(put.status, 201);
    assert.equal(await (await fetch(`${reg.url}/v2/faults/truncated/blobs/${digestOf(data)}`)).text(), data.toString());
  });

  it('refuses a wrong digest on PUT and serves nothing, then takes the right push', async () => {
    const data = Buffer.from('the real bytes');
    const location = await startUpload(reg.url, 'faults/digest');
    const bad = await fetch(`${location}?digest=${digestOf('other bytes')}`, { method: 'PUT', body: data });
    assert.equal(bad.status, 400);
    assert.equal(await errorCode(bad), 'DIGEST_INVALID');
    for (const d of [digestOf('other bytes'), digestOf(data)]) {
      assert.equal((await fetch(`${reg.url}/v2/faults/digest/blobs/${d}`, { method: 'HEAD' })).status, 404);
    }
    const again = await startUpload(reg.url, 'faults/digest');
    assert.equal((await fetch(`${again}?digest=${digestOf(data)}`, { method: 'PUT', body: data })).status, 201);
    assert.equal(await (await fetch(`${reg.url}/v2/faults/digest/blobs/${digestOf(data)}`)).text(), 'the real bytes');
  });

  it('takes two clients pushing the same blob at once', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const digest = digestOf(data);
    const [a, b] = await Promise.all([startUpload(reg.url, 'faults/race'), startUpload(reg.url, 'faults/race')]);
    const puts = await Promise.all([
      fetch(`${a}?digest=${digest}`, { method: 'PUT', body: data }),
      fetch(`${b}?digest=${digest}`, { method: 'PUT', body: data }),
      fetch(`${reg.url}/v2/faults/race2/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data }),
    ]);
    assert.deepEqual(
      puts.map((r) => r.status),
      [201, 201, 201],
    );
    for (const repo of ['faults/race', 'faults/race2']) {
      const got = Buffer.from(await (await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`)).arrayBuffer());
      assert.ok(got.equals(data));
    }
  });

  it('resumes an upload after a restart, re-hashing what was written', async () => {
    const data = Buffer.from('before restart|after restart');
    const first = await testRegistry();
    let second: TestRegistry | undefined;
    try {
      const location = await startUpload(first.url, 'faults/restart');
      const path = new URL(location).pathname;
      await fetch(location, { method: 'PATCH', body: data.subarray(0, 15) });
      await first.close();
      second = await testRegistry({ root: first.root });
      const resumed = `${second.url}${path}`;
      assert.equal(await uploadStatus(resumed), '0-14');
      await fetch(resumed, {
        method: 'PATCH',
        body: data.subarray(15),
        headers: { 'Content-Range': `15-${data.length - 1}` },
      });
      assert.equal((await fetch(`${resumed}?digest=${digestOf(data)}`, { method: 'PUT' })).status, 201);
    } finally {
      await second?.close();
      await first.dispose().catch(() => undefined);
    }
  });

  it('expires stale upload sessions', async () => {
    const short = await testRegistry({ uploadMaxAgeMs: 50, sweepIntervalMs: 60_000 });
    try {
      const location = await startUpload(short.url, 'faults/stale');
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(await short.sweep(), 1);
      const res = await fetch(location);
      assert.equal(res.status, 404);
      assert.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
    } finally {
      await short.dispose();
    }
  });
});
