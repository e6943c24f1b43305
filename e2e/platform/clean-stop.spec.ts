/**
 * Clean stop: a real `paas up` (e2e/bench/paas-up.ts) with a static site at 2 instances.
 *
 *   Ctrl-C       SIGINT to `paas up` stops its components and then the app instances: no
 *                container, shim, init, netns, veth, mount or cgroup of theirs is left, nor
 *                the bridge; a second `paas up` on the same roots serves the site again (the
 *                desired state stayed in the database)
 *   --keep-apps  its Ctrl-C leaves the instances running; the next `paas up` adopts them
 *   kill -9      SIGKILL to `paas up` leaves its components and apps running; `paas down`
 *                stops the components and removes the instances and all they held; or a new
 *                `paas up` stops those components and adopts the instances
 *
 * Everything is stopped and removed at the end, failed or not (withPaasUp).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Instance } from '@paas/api-types';
import { containersUnder, mountsUnder, paas } from '../support/cli';
import { type PaasUp, get, pushApp, until, withPaasUp } from '../bench/paas-up';

const HOST = 'site.localhost';
const COMPONENTS = ['registry', 'api', 'agent', 'router', 'redis'];

/** The pid `paas up` listed for a component in its last start. */
function pidOf(up: PaasUp, name: string): number {
  const starts = up.output().split(/\npaas \S+ is up\n/);
  const pid = Number(new RegExp(`\\n\\s+${name}\\s+\\S+\\s+pid (\\d+)`).exec(`\n${starts.at(-1)}`)?.[1]);
  assert.ok(pid > 0, `no pid for ${name} in:\n${up.output()}`);
  return pid;
}

/** `paas ARGS` against the platform; fails the test with its output. */
function cli(up: PaasUp, ...args: string[]): string {
  const r = paas(args, up.env);
  assert.equal(r.status, 0, `paas ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The site's 2 instances up and served through `router`; their containers and processes. */
async function twoServing(up: PaasUp, router: string): Promise<{ ids: string[]; pids: number[] }> {
  let serving: Instance[] = [];
  await until(
    'two web instances up',
    async () => {
      serving = (JSON.parse(cli(up, 'ps', '--json', '-a', 'site')) as Instance[]).filter((i) => i.state === 'up');
      return serving.length === 2;
    },
    120_000,
    250,
  );
  await until('the router serves the site', async () => (await get(router, HOST)).body === 'site v1\n', 60_000);
  const ids = serving.map((i) => i.containerId ?? '').sort();
  const root = up.env['PAAS_ROOT'] ?? '';
  const shims = ids.map((id) => Number(readFileSync(join(root, 'containers', id, 'shim', 'shim.pid'), 'utf8')));
  const inits = ids.map((id) => Number(cli(up, 'inspect', '-f', '{{.State.Pid}}', id)));
  return { ids, pids: [...inits, ...shims] };
}

/** The site deployed at 2 instances and served; the instances' containers and processes. */
async function siteAtTwo(up: PaasUp): Promise<{ ids: string[]; pids: number[] }> {
  pushApp(up, 'site', { 'index.html': 'site v1\n' });
  cli(up, 'ps:scale', 'web=2', '-a', 'site');
  return twoServing(up, up.router);
}

/** Whether `pid` runs: a zombie holds nothing but its pid, and this machine's init reaps orphans late. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** What is left of the instances `ids` (processes `pids`) and of the bridge; empty when clean. */
function leftOf(up: PaasUp, ids: string[], pids: number[]): string[] {
  const left: string[] = [];
  for (const id of containersUnder(up.env['PAAS_ROOT'] ?? '')) left.push(`container ${id}`);
  for (const pid of pids.filter(running)) left.push(`process ${pid}: ${readFileSync(`/proc/${pid}/stat`, 'utf8')}`);
  for (const id of ids) {
    const short = id.slice(0, 12);
    for (const path of [`/run/netns/paas-${short}`, `/sys/class/net/pv${short}`]) if (existsSync(path)) left.push(path);
    for (const base of ['/sys/fs/cgroup/memory/paas', '/sys/fs/cgroup/pids/paas', '/sys/fs/cgroup/paas']) {
      if (existsSync(join(base, id))) left.push(join(base, id));
    }
  }
  for (const mount of mountsUnder(up.work)) left.push(`mount ${mount}`);
  if (existsSync(`/sys/class/net/${up.env['PAAS_BRIDGE']}`)) left.push(`bridge ${up.env['PAAS_BRIDGE']}`);
  return left;
}

const options = (name: string, n: number) => ({
  name: `paas-e2e-${name}-`,
  bridge: `pcs${n}${process.pid % 10000}`,
  subnet: `10.237.${(process.pid + n) % 250}.0/24`,
  images: ['busybox'],
  env: { PAAS_DRAIN_MS: '200', PAAS_STOP_TIMEOUT: '2', PAAS_REGISTRY_PROXY_REMOTE: 'none' },
});

describe('clean stop: paas up leaves nothing a user did not ask to keep', { timeout: 600_000 }, () => {
  it('Ctrl-C stops the app instances too, and the next paas up serves them again', async () => {
    await withPaasUp(options('stop', 1), async (up) => {
      const { ids, pids } = await siteAtTwo(up);
      const components = COMPONENTS.map((name) => pidOf(up, name));
      assert.equal(await up.signal('SIGINT'), 0, up.output());
      assert.match(up.output(), /stopping 2 app instances\n/);
      assert.deepEqual(leftOf(up, ids, pids), [], 'nothing of the instances is left');
      assert.deepEqual(components.filter(running), [], 'no component of paas up is left');

      let router = await up.again();
      await until(
        'the second paas up serves the site',
        async () => (await get(router, HOST)).body === 'site v1\n',
        120_000,
      );

      // with --keep-apps the instances outlive its Ctrl-C, and the next paas up adopts them
      await up.signal('SIGINT');
      router = await up.again(['--keep-apps']);
      const kept = await twoServing(up, router);
      let from = up.output().length;
      assert.equal(await up.signal('SIGINT'), 0, up.output().slice(from));
      assert.doesNotMatch(up.output().slice(from), /stopping \d+ app instance/);
      assert.deepEqual(
        kept.pids.filter((pid) => !running(pid)),
        [],
        'the instances keep running',
      );
      assert.deepEqual(containersUnder(up.env['PAAS_ROOT'] ?? '').sort(), kept.ids);
      from = up.output().length;
      router = await up.again();
      assert.deepEqual((await twoServing(up, router)).ids, kept.ids, 'the same containers');
      await until(
        'the agent adopts both',
        async () =>
          (
            up
              .output()
              .slice(from)
              .match(/agent \| agent: adopted site web\.\d/g) ?? []
          ).length === 2,
        30_000,
      );
    });
  });

  it('paas down removes what a paas up killed with SIGKILL left', async () => {
    await withPaasUp(options('down', 2), async (up) => {
      const { ids, pids } = await siteAtTwo(up);
      const components = COMPONENTS.map((name) => pidOf(up, name));
      const refused = paas(['down'], up.env);
      assert.equal(refused.status, 1, 'paas down refuses while paas up runs');
      assert.match(refused.stderr, /paas is up for \S+ \(pid \d+\): stop it with Ctrl-C/);
      assert.deepEqual(containersUnder(up.env['PAAS_ROOT'] ?? '').sort(), ids, 'and touches nothing');
      assert.equal(await up.signal('SIGKILL'), null);
      // its children outlive it, and so do the apps
      assert.equal((await get(up.router, HOST)).body, 'site v1\n');

      const down = paas(['down'], up.env);
      assert.equal(down.status, 0, `${down.stderr}${down.stdout}`);
      assert.match(down.stdout, /stopping agent \(pid \d+\)/);
      assert.match(down.stdout, /stopping 2 app instances\n/);
      assert.deepEqual(leftOf(up, ids, pids), [], 'nothing of the instances is left');
      assert.deepEqual(components.filter(running), [], 'no component of paas up is left');

      const again = paas(['down'], up.env);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /^nothing of paas up is left for /);
    });
  });

  it('a paas up started over what a killed one left stops its components and adopts its apps', async () => {
    await withPaasUp(options('over', 3), async (up) => {
      const { ids } = await siteAtTwo(up);
      const components = COMPONENTS.map((name) => pidOf(up, name));
      assert.equal(await up.signal('SIGKILL'), null);
      const from = up.output().length;
      const router = await up.again();
      assert.match(up.output().slice(from), /stopping agent \(pid \d+\), left by a paas up that is gone/);
      assert.deepEqual(components.filter(running), [], 'the components it left are gone');
      assert.deepEqual((await twoServing(up, router)).ids, ids, 'the same containers serve');
    });
  });
});
