/** nodes, nodes:drain, nodes:activate, nodes:join-token and nodes:remove through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas nodes', () => {
  const t = platformCli();

  it('nodes lists the nodes', async () => {
    t.api.nodes.push({
      id: 'n1',
      name: 'node-1',
      address: '127.0.0.1:7100',
      memory: 4096,
      cpus: 2000,
      overcommit: 200,
      state: 'up',
      lastHeartbeatAt: new Date().toISOString(),
      createdAt: new Date().toISOString(),
    });
    const table =
      'NAME     STATE   ADDRESS          CPUS   MEMORY       HEARTBEAT\nnode-1   up      127.0.0.1:7100   2      4 GiB (x2)   just now\n';
    assert.equal((await t.ok('nodes')).out, `${table}Scheduler: no api has led yet\n`);
  });

  it('nodes says which api runs the scheduler; an api without the route shows the table alone', async () => {
    t.api.controlPlane = {
      leader: {
        holder: 'cp-2 pid 4242',
        address: '10.0.0.2:7000',
        since: new Date(Date.now() - 180_000).toISOString(),
        term: 3,
      },
      self: 'cp-1 pid 77',
      selfLeads: false,
    };
    assert.match(
      (await t.ok('nodes')).out,
      /\nScheduler: led by api cp-2 pid 4242 at 10\.0\.0\.2:7000 \(term 3, took office 3m ago\)\n$/,
    );
    t.api.controlPlane = null;
    assert.match((await t.ok('nodes')).out, /HEARTBEAT\nnode-1 .*\n$/);
    t.api.controlPlane = { leader: null, self: 'fake pid 1', selfLeads: false };
  });

  it('nodes:drain and nodes:activate change a node, naming a missing one', async () => {
    const { api } = t;
    const drained = await t.ok('nodes:drain', 'node-1');
    assert.equal(drained.out, 'Draining node-1: its instances move to other nodes, nothing new is placed on it\n');
    assert.equal(api.nodes[0]?.state, 'draining');
    assert.equal((await t.ok('nodes:activate', 'node-1')).out, 'node-1 is active: it takes instances again\n');
    assert.equal(api.nodes[0]?.state, 'up');
    const missing = await t.cli(['nodes:drain', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /node 'nope' not found/);
  });

  it('nodes:join-token prints the one command with the URL the CLI talks to, or --api-url', async () => {
    const token = `pjoin_${'j'.repeat(40)}`;
    const hash = `sha256:${'c'.repeat(64)}`;
    const made = await t.ok('nodes:join-token');
    assert.equal(made.out, `paas node join ${t.api.url} --token ${token} --ca-hash ${hash}\n`);
    assert.match(made.err, /valid until .*shown only once[\s\S]*is loopback: give --api-url/);
    assert.deepEqual(t.api.requests.at(-1)?.body, {});
    const over = await t.ok('nodes:join-token', '--ttl', '30m', '--api-url', 'https://10.0.0.1:7000/');
    assert.equal(over.out, `paas node join https://10.0.0.1:7000 --token ${token} --ca-hash ${hash}\n`);
    assert.doesNotMatch(over.err, /loopback/);
    assert.deepEqual(t.api.requests.at(-1)?.body, { ttl: '30m' });
    const bad = await t.cli(['nodes:join-token', '--ttl', 'soon']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^paas: ttl must be from 1m to 24h, not "soon"\n/);
    const badUrl = await t.cli(['nodes:join-token', '--api-url', 'ftp://x']);
    assert.equal(badUrl.code, 1);
    assert.match(badUrl.err, /--api-url: not an http\(s\) URL/);
  });

  it('nodes:remove wants --confirm, refuses a busy node unless --force, and names a missing one', async () => {
    const { api } = t;
    const unconfirmed = await t.cli(['nodes:remove', 'node-1']);
    assert.equal(unconfirmed.code, 1);
    assert.equal(unconfirmed.err, 'paas: this would remove node node-1: re-run with --confirm node-1\n');
    const wrong = await t.cli(['nodes:remove', 'node-1', '--confirm', 'node-2']);
    assert.equal(wrong.err, "paas: confirmation 'node-2' did not match node-1; nothing was removed\n");
    const busy = await t.cli(['nodes:remove', 'node-1', '--confirm', 'node-1']);
    assert.equal(busy.code, 1);
    assert.match(busy.err, /^paas: node node-1 still runs 1 instance/);
    assert.equal(api.nodes.length, 1);
    const done = await t.ok('nodes:remove', 'node-1', '--confirm', 'node-1', '--force');
    assert.equal(done.err, 'Removing node node-1... done, 1 credential revoked, 1 instance to place elsewhere\n');
    assert.equal(api.requests.at(-1)?.path, '/api/nodes/node-1?force=true');
    assert.equal(api.nodes.length, 0);
    const missing = await t.cli(['nodes:remove', 'node-1', '--confirm', 'node-1']);
    assert.match(missing.err, /node 'node-1' not found/);
  });
});
