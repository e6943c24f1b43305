/**
 * Add-on reachability through the real engine, runtime and kernel (iptables, ipset), on a
 * bridge and roots of the test's own: an "add-on" (busybox nc) published on an add-on port of
 * the bridge's gateway, as an agent publishes one on its node's service address; only a
 * container whose `reach` names that endpoint connects (through the add-on's proxy: nothing is
 * forwarded, so the host's ip_forward stays as it is). Traffic goes only to the gateway and the
 * containers. `after` takes everything down and checks that no rule, set or entry is left.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { paths } from '@paas/config';
import {
  APP_LABEL,
  type ContainerRecord,
  type Engine,
  engineSettingsFromEnv,
  ipsetDestroy,
  openEngine,
  readLogs,
} from '@paas/engine';
import { bootstrapImage } from '@paas/images';
import { WORKSPACE, cgroupsLeftSince, tempRoots } from '../support/cli';

const roots = tempRoots();
const suiteStart = Date.now();
const bridge = roots.env.PAAS_BRIDGE ?? '';
const reachSet = `PAAS-AO-${bridge}`;
const ADDON_PORT = 20042;
const native = join(WORKSPACE, 'native', 'runtime', 'build');
const engineEnv = { ...roots.env, PAAS_ADDON_PORTS: '20000-20999' };

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const trySh = (cmd: string, args: string[]): void => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
};
const bridgeLines = (): string[] =>
  sh('iptables-save', [])
    .split('\n')
    .filter((l) => l.includes(bridge));
const sets = (): string[] => sh('ipset', ['list', '-n']).split('\n').filter(Boolean);

const run = (cmd: string[]) => ({ cmd, env: [], binds: [], resources: {} });

describe('add-on reachability on the bridge', () => {
  let engine: Engine;
  let gateway: string;
  let addon: ContainerRecord;
  let addonIp: string;

  /** Runs `script` in a new isolated container (an app's instance) with `reach`; its output once it exits. */
  async function client(name: string, script: string, reach: { address: string; port: number }[]): Promise<string> {
    const record = await engine.create('busybox', {
      name,
      labels: { [APP_LABEL]: name },
      reach,
      run: run(['sh', '-c', script]),
    });
    await engine.start(record);
    await engine.wait(record);
    const lines: string[] = [];
    for await (const line of readLogs(engine.logPath(record))) lines.push(line.text);
    return lines.join('\n');
  }

  /** Tries the add-on through its published endpoint, then straight at its own address. */
  const tries = (): string =>
    `echo published=$(nc -w 2 ${gateway} ${ADDON_PORT} </dev/null); echo direct=$(nc -w 2 ${addonIp} 5432 </dev/null)`;

  before(async () => {
    engine = await openEngine(paths(engineEnv), engineSettingsFromEnv(engineEnv, native));
    await bootstrapImage(engine.images, 'busybox');
    gateway = engine.network?.gateway ?? '';
    addon = await engine.create('busybox', {
      name: 'addon',
      labels: { [APP_LABEL]: 'addon-x', 'paas.addon': 'addon-x' },
      ports: [{ hostIp: gateway, hostPort: ADDON_PORT, containerPort: 5432, protocol: 'tcp' }],
      run: run(['nc', '-ll', '-p', '5432', '-e', 'echo', 'addon-ok']),
    });
    await engine.start(addon);
    addonIp = (await engine.networkLeases())[addon.id]?.ip ?? '';
  });

  after(async () => {
    const { failed } = await engine.takeDown(await engine.containers.list(), { graceful: false });
    const left = { rules: bridgeLines(), sets: sets().filter((s) => s.endsWith(`-${bridge}`)) };
    roots.cleanup();
    trySh('ip', ['link', 'del', bridge]);
    for (const set of left.sets) trySh('ipset', ['destroy', set]);
    assert.deepEqual(failed, [], 'containers that could not be removed');
    assert.deepEqual(left, { rules: [], sets: [] }, 'rules or sets left behind');
    assert.deepEqual(cgroupsLeftSince(suiteStart), [], 'container cgroups left behind');
  });

  it("lets a container whose reach names the add-on's endpoint connect to it, and nothing else", async () => {
    const out = await client('with-reach', tries(), [{ address: gateway, port: ADDON_PORT }]);
    assert.match(out, /^published=addon-ok$/m, out);
    assert.match(out, /^direct=$/m, "the add-on container's own address stays closed");
    const own = sh('ipset', ['list', reachSet]);
    const record = await engine.containers.resolve('with-reach');
    assert.match(own, new RegExp(`,tcp:${ADDON_PORT},${gateway.replace(/\./g, '\\.')} comment "paas:${record.id}"`));
  });

  it('closes the add-on to a container without reach, through the endpoint and directly', async () => {
    const out = await client('without-reach', tries(), []);
    assert.match(out, /^published=$/m, out);
    assert.match(out, /^direct=$/m, out);
  });

  it("closes the add-on to a container whose reach names another add-on's port", async () => {
    const out = await client('other-reach', tries(), [{ address: gateway, port: ADDON_PORT + 1 }]);
    assert.match(out, /^published=$/m, out);
  });

  it('refuses a reach outside the add-on ports at create, making nothing', async () => {
    const before = (await engine.containers.list()).length;
    await assert.rejects(
      engine.create('busybox', { name: 'bad-reach', reach: [{ address: gateway, port: 5432 }], run: run(['true']) }),
      /invalid reach 10\.\d+\.\d+\.1:5432: port outside the add-on ports 20000-20999 \(PAAS_ADDON_PORTS\)/,
    );
    await assert.rejects(
      engine.create('busybox', {
        name: 'bad-reach',
        reach: [{ address: 'db.local', port: 20001 }],
        run: run(['true']),
      }),
      /invalid reach db\.local:20001: not an IPv4 address/,
    );
    assert.equal((await engine.containers.list()).length, before);
  });

  it('brings a bridge made before add-ons up to date at the next start, entries of the containers on it included', async () => {
    // what a paas before add-ons left: no reach set, no rule naming it or opening the range
    const stale = (table: string, match: (l: string) => boolean): string[] => [
      `*${table}`,
      ...sh('iptables-save', ['-t', table])
        .split('\n')
        .filter((l) => l.startsWith('-A ') && l.includes(bridge) && match(l))
        .map((l) => `-D ${l.slice(3)}`),
      'COMMIT',
    ];
    const input = [
      ...stale('raw', (l) => l.includes(reachSet)),
      ...stale('filter', (l) => l.includes('--dport 20000:20999')),
      '',
    ].join('\n');
    execFileSync('iptables-restore', ['-w', '--noflush'], { input });
    await ipsetDestroy(reachSet); // waits while the kernel still holds it for the rule just deleted
    // (this bridge's lines only: a paas up on the machine has its own bridge with the same range)
    assert.deepEqual(
      bridgeLines().filter((l) => l.includes(reachSet) || l.includes('--dport 20000:20999')),
      [],
    );

    // another process's start (this one knows the bridge as up to date)
    const script = [
      "const { openEngine, engineSettingsFromEnv } = require('@paas/engine');",
      "const { paths } = require('@paas/config');",
      '(async () => {',
      `  const engine = await openEngine(paths(process.env), engineSettingsFromEnv(process.env, ${JSON.stringify(native)}));`,
      "  const r = await engine.create('busybox', { name: 'later', run: { cmd: ['true'], env: [], binds: [], resources: {} } });",
      '  await engine.start(r);',
      '  await engine.wait(r);',
      '  await engine.remove(r, { force: true });',
      '})().catch((err) => { console.error(err); process.exit(1); });',
    ].join('\n');
    execFileSync('node', ['--import', 'tsx', '-e', script], { cwd: WORKSPACE, env: engineEnv, stdio: 'pipe' });

    const withReach = await engine.containers.resolve('with-reach');
    assert.match(sh('ipset', ['list', reachSet]), new RegExp(`comment "paas:${withReach.id}"`), 'its lease named it');
    const out = await client('after-adoption', tries(), [{ address: gateway, port: ADDON_PORT }]);
    assert.match(out, /^published=addon-ok$/m, out);
    const closed = await client('after-adoption-without', tries(), []);
    assert.match(closed, /^published=$/m, closed);
  });

  it("follows a running container's reach as it changes, without a restart, and rm leaves none of its entries", async () => {
    const endpoint = { address: gateway, port: ADDON_PORT };
    const record = await engine.create('busybox', {
      name: 'live-reach',
      labels: { [APP_LABEL]: 'live-reach' },
      run: run(['sleep', '3600']),
    });
    // not started yet: the record alone changes, and the start brings its entries
    assert.equal((await engine.setReach(record.id, [endpoint])).network.reach?.length, 1);
    const pid = await engine.start(record);
    // a new connection each time: the raw rule drops before connection tracking, so no old one helps
    const connects = async (): Promise<boolean> =>
      (await engine.exec(record, [
        'sh',
        '-c',
        `nc -w 2 ${gateway} ${ADDON_PORT} </dev/null 2>/dev/null | grep -q addon-ok`,
      ])) === 0;
    const entries = (): string[] =>
      sh('ipset', ['list', reachSet])
        .split('\n')
        .filter((l) => l.includes(`comment "paas:${record.id}"`));
    assert.equal(await connects(), true, 'reaches the add-on it was given before it started');

    const detached = await engine.setReach(record.id, []);
    assert.equal(detached.network.reach, undefined);
    assert.equal((await engine.containers.resolve('live-reach')).network.reach, undefined, 'the record says so');
    assert.deepEqual(entries(), [], 'its entry left the set');
    assert.equal(await connects(), false, 'the next connection is dropped');

    await engine.setReach('live-reach', [endpoint]);
    await engine.setReach('live-reach', [endpoint, { ...endpoint }]);
    assert.equal(entries().length, 1, 'one entry, however often it is asked');
    assert.equal(await connects(), true, 'reaches it again');
    assert.deepEqual((await engine.networkLeases())[record.id]?.reach, [endpoint], 'the lease names the entry');
    assert.equal((await engine.state(record)).pid, pid, 'never restarted');

    await assert.rejects(
      engine.setReach('live-reach', [{ address: gateway, port: 80 }]),
      /invalid reach .*:80: port outside/,
    );
    assert.equal(entries().length, 1, 'a refused change changes nothing');
    await assert.rejects(engine.setReach('no-such-container', []), /No such container: no-such-container/);

    await engine.remove(record, { force: true });
    assert.deepEqual(entries(), [], 'rm left an entry');
  });

  it('leaves no entry for a lease reclaimed while its reach changes (the next holder of the address would reach the add-on)', async () => {
    const endpoint = { address: gateway, port: ADDON_PORT };
    const record = await engine.create('busybox', {
      name: 'race-reach',
      labels: { [APP_LABEL]: 'race-reach' },
      run: run(['sleep', '3600']),
    });
    const pid = await engine.start(record);
    // the container dies on its own: its lease is any attach's or prune's to reclaim
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 200 && (await engine.state(record)).running; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal((await engine.state(record)).running, false);
    // an ipset that takes its time to add this container's entry: the reclaim comes meanwhile
    const bin = mkdtempSync(join(tmpdir(), 'paas-slow-ipset-'));
    writeFileSync(
      join(bin, 'ipset'),
      `#!/bin/sh\ncase "$1 $*" in "add "*"paas:${record.id}"*) sleep 0.5 ;; esac\nexec ${sh('sh', ['-c', 'command -v ipset']).trim()} "$@"\n`,
    );
    chmodSync(join(bin, 'ipset'), 0o755);
    const path = process.env['PATH'];
    process.env['PATH'] = `${bin}:${path}`;
    try {
      const changing = engine.setReach(record.id, [endpoint]);
      await new Promise((r) => setTimeout(r, 150));
      await engine.network?.prune();
      await changing;
    } finally {
      process.env['PATH'] = path;
      rmSync(bin, { recursive: true, force: true });
    }
    const entries = sh('ipset', ['list', reachSet])
      .split('\n')
      .filter((l) => l.includes(`comment "paas:${record.id}"`));
    const lease = (await engine.networkLeases())[record.id];
    assert.deepEqual(
      { entries: entries.length, lease: lease ? (lease.reach?.length ?? 0) : 'gone' },
      lease ? { entries: lease.reach?.length ?? 0, lease: lease.reach?.length ?? 0 } : { entries: 0, lease: 'gone' },
      'every entry in the set is named by a lease',
    );
    await engine.remove(record, { force: true });
  });

  it("removes a container's entries with it, and the set and rules with the bridge", async () => {
    for (const record of await engine.containers.list()) {
      if (record.id !== addon.id) await engine.remove(record, { force: true });
    }
    assert.doesNotMatch(sh('ipset', ['list', reachSet]), /comment "paas:/, 'entries left');
    await engine.remove(addon, { force: true });
    const pruned = await engine.network?.prune();
    assert.equal(pruned?.bridgeRemoved, true);
    assert.deepEqual(bridgeLines(), [], 'rules left');
    assert.ok(!sets().includes(reachSet), 'reach set left');
  });
});
