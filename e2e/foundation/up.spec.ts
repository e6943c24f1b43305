import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PaasProcess, isAlive, paas, tempRoots } from '../support/cli';

const UP = /paas \S+ is up\n[\s\S]*?\s+api\s+(http:\/\/\S+)\s+pid (\d+)/;
const REGISTRY = /\n\s+registry\s+(http:\/\/\S+)\s+pid (\d+)/;
const AGENT = /\n\s+agent\s+(\S+)\s+pid (\d+)/;
const ROUTER = /\n\s+router\s+(http:\/\/\S+)\s+pid (\d+)/;
const REDIS = /\n\s+redis\s+(unix:\/\/\S+)\s+pid (\d+)/;

describe('paas up', () => {
  it('starts redis, the registry, the api, an agent and the router; they answer, a second up is refused, SIGINT stops all', async () => {
    const roots = tempRoots();
    const up = new PaasProcess(['up'], roots.env);
    try {
      const [, url, pid] = await up.waitFor(UP);
      assert.ok(url && pid);
      const health = await fetch(`${url}/api/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, 'ok');
      assert.ok(existsSync(roots.root), 'PAAS_ROOT created');
      const [, registryUrl, registryPid] = up.output.match(REGISTRY) ?? [];
      assert.ok(registryUrl && registryPid, up.output);
      // token auth, nothing anonymous (e2e/security/registry.spec.ts tries the rest)
      const v2 = await fetch(`${registryUrl}/v2/`);
      assert.equal(v2.status, 401);
      assert.match(v2.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
      assert.equal(v2.headers.get('docker-distribution-api-version'), 'registry/2.0');
      for (const role of ['builder', 'node']) {
        assert.equal(statSync(join(roots.root, 'platform', `registry-${role}.json`)).mode & 0o777, 0o600, role);
      }
      assert.equal(readFileSync(join(roots.run, 'up.pid'), 'utf8').trim(), String(up.child.pid));
      const [, routerUrl, routerPid] = up.output.match(ROUTER) ?? [];
      const [, , agentPid] = up.output.match(AGENT) ?? [];
      const [, , redisPid] = up.output.match(REDIS) ?? [];
      assert.ok(routerUrl && routerPid && agentPid && redisPid, up.output);
      const unknown = await fetch(routerUrl);
      assert.equal(unknown.status, 404, 'the router answers, with its page for an unknown app');
      const token = readFileSync(join(roots.root, 'platform', 'admin.token'), 'utf8').trim();
      assert.ok(!up.output.includes(token), 'the log says where the admin token is, never the token');
      assert.match(up.output, /admin token made: .*platform\/admin\.token \(0600\)/);
      const nodes = (await (
        await fetch(`${url}/api/nodes`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as {
        state: string;
      }[];
      assert.deepEqual(
        nodes.map((n) => n.state),
        ['up'],
        'the agent registered this host as a node',
      );

      const second = paas(['up'], roots.env);
      assert.equal(second.status, 1);
      assert.equal(second.stderr, `Error: paas is already up for ${roots.run} (pid ${up.child.pid})\n`);

      up.child.kill('SIGINT');
      const exit = await up.exited;
      assert.equal(exit.code, 0, up.output);
      assert.equal(isAlive(Number(pid)), false, 'the api stopped with up');
      assert.equal(isAlive(Number(registryPid)), false, 'the registry stopped with up');
      for (const other of [routerPid, agentPid, redisPid]) assert.equal(isAlive(Number(other)), false, up.output);
      assert.equal(existsSync(join(roots.run, 'up.pid')), false);
    } finally {
      await up.stop();
      roots.cleanup();
    }
  });

  it('restarts a component that dies, at the same address, and stops only on a signal', async () => {
    const roots = tempRoots();
    const up = new PaasProcess(['up'], roots.env);
    try {
      const [, url, pid] = await up.waitFor(UP);
      process.kill(Number(pid), 'SIGKILL');
      await up.waitFor(/api exited on signal SIGKILL; restarting in 0\.1 s \(restart 1\)\n/);
      const [, back, newPid] = await up.waitFor(/api is back at (\S+) \(pid (\d+)\)\n/);
      assert.equal(back, url, 'the restarted api listens where the first one did');
      assert.notEqual(newPid, pid);
      assert.equal((await fetch(`${url}/api/health`)).status, 200);
      assert.equal(up.child.exitCode, null, 'paas up runs on');
      up.child.kill('SIGTERM');
      assert.equal((await up.exited).code, 0, up.output);
      assert.equal(isAlive(Number(newPid)), false, 'the restarted api stopped with up');
      assert.doesNotMatch(up.output, /restart 2/);
    } finally {
      await up.stop();
      roots.cleanup();
    }
  });

  it('fails with the api error when the listen address is taken', async () => {
    const a = tempRoots();
    const b = tempRoots();
    const first = new PaasProcess(['up'], a.env);
    try {
      const [, url] = await first.waitFor(UP);
      const port = new URL(url ?? '').port;
      const r = paas(['up'], { ...b.env, PAAS_API_ADDR: `127.0.0.1:${port}` });
      assert.equal(r.status, 1);
      assert.match(r.stdout + r.stderr, /EADDRINUSE/);
      assert.match(r.stderr, /Error: api exited with status 1/);
    } finally {
      await first.stop();
      a.cleanup();
      b.cleanup();
    }
  });
});
