/** nodes, nodes:drain and nodes:activate through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
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
});
