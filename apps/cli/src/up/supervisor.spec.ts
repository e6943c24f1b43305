import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ComponentExitedError, Supervisor } from './supervisor';

/** Small components as scripts, so the supervisor is tested against real child processes. */
const scripts = {
  ready: `process.on('SIGTERM', () => { console.log('bye'); process.exit(0); });
          console.log('hello from ' + process.env.NAME); process.send({ ready: true, url: 'http://x' });
          setInterval(() => {}, 1000);`,
  crash: `console.error('boom'); process.exit(3);`,
  silent: `setInterval(() => {}, 1000);`,
  stubborn: `process.on('SIGTERM', () => {}); process.send({ ready: true, url: 'http://y' }); setInterval(() => {}, 1000);`,
  late: `process.send({ ready: true, url: 'http://z' }); setTimeout(() => process.exit(7), 50);`,
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Supervisor', () => {
  let dir: string;
  const path = (name: keyof typeof scripts): string => join(dir, `${name}.js`);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-supervisor-'));
    for (const [name, body] of Object.entries(scripts)) writeFileSync(join(dir, `${name}.js`), body);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('starts components, prefixes their output, and stops them with SIGTERM', async () => {
    const lines: string[] = [];
    const sup = new Supervisor({ write: (l) => lines.push(l) });
    try {
      const [c] = await sup.start([{ name: 'api', script: path('ready'), env: { ...process.env, NAME: 'api' } }]);
      assert.ok(c);
      assert.equal(c.url, 'http://x');
      assert.ok(alive(c.pid));
      await sup.stop();
      assert.equal(alive(c.pid), false);
      assert.ok(lines.includes('api | hello from api\n'), lines.join(''));
      assert.ok(lines.includes('api | bye\n'), lines.join(''));
    } finally {
      await sup.stop();
    }
  });

  it('fails start when a component exits before it is ready, with its status', async () => {
    const lines: string[] = [];
    const sup = new Supervisor({ write: (l) => lines.push(l) });
    await assert.rejects(sup.start([{ name: 'db', script: path('crash'), env: process.env }]), (err: unknown) => {
      assert.ok(err instanceof ComponentExitedError);
      assert.equal(err.message, 'db exited with status 3');
      return true;
    });
    await sup.stop();
  });

  it('times out a component that never reports ready, and kills it on stop', async () => {
    const sup = new Supervisor({ readyTimeoutMs: 300, write: () => undefined });
    await assert.rejects(
      sup.start([{ name: 'mute', script: path('silent'), env: process.env }]),
      /not ready within 300 ms/,
    );
    await sup.stop();
  });

  it('escalates to SIGKILL when a component ignores SIGTERM', async () => {
    const sup = new Supervisor({ stopTimeoutMs: 200, write: () => undefined });
    const [c] = await sup.start([{ name: 'mule', script: path('stubborn'), env: process.env }]);
    assert.ok(c);
    await sup.stop();
    assert.equal(alive(c.pid), false);
  });

  it('reports the first component that exits on its own', async () => {
    const sup = new Supervisor({ write: () => undefined });
    try {
      await sup.start([{ name: 'late', script: path('late'), env: process.env }]);
      const exit = await sup.firstExit();
      assert.equal(exit.message, 'late exited with status 7');
    } finally {
      await sup.stop();
    }
  });

  it('fails start when the readiness probe fails', async () => {
    const sup = new Supervisor({ write: () => undefined });
    await assert.rejects(
      sup.start([{ name: 'api', script: path('ready'), env: process.env, probe: async () => false }]),
      /api reported ready at http:\/\/x but its readiness probe failed/,
    );
    await sup.stop();
  });
});
