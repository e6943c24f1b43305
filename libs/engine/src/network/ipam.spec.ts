import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  IpamError,
  type Lease,
  type LeaseState,
  type PortProbe,
  PortAllocatedError,
  allocateIp,
  allocatePorts,
  clashingBindings,
  emptyState,
  releaseLease,
} from './ipam';
import { LeaseStore } from './lease-store';
import type { PortBinding } from './ports';
import { parseSubnet } from './subnet';

const subnet = parseSubnet('10.200.0.0/29'); // .1 gateway, .2-.6 for containers
const free: PortProbe = async () => 'free';
const range = { first: 40000, last: 40003 };
const tcp = (hostPort: number, containerPort = 80, hostIp = '0.0.0.0'): PortBinding => ({
  hostIp,
  hostPort,
  containerPort,
  protocol: 'tcp',
});

function lease(state: LeaseState, id: string, ports: PortBinding[] = []): Lease {
  const l: Lease = { id, name: id, hostname: id, ip: allocateIp(state, subnet, id), ports, pid: 1, since: '' };
  state.leases[id] = l;
  return l;
}

describe('ipam: addresses', () => {
  it('gives the gateway to nobody and addresses in order, never one twice', () => {
    const state = emptyState();
    const ips = ['a', 'b', 'c', 'd', 'e'].map((id) => lease(state, id).ip);
    assert.deepEqual(ips, ['10.200.0.2', '10.200.0.3', '10.200.0.4', '10.200.0.5', '10.200.0.6']);
  });

  it('keeps the address a container already holds', () => {
    const state = emptyState();
    const a = lease(state, 'a');
    assert.equal(allocateIp(state, subnet, 'a'), a.ip);
  });

  it('fails when the subnet is exhausted, and a release makes room', () => {
    const state = emptyState();
    for (const id of ['a', 'b', 'c', 'd', 'e']) lease(state, id);
    assert.throws(
      () => allocateIp(state, subnet, 'f'),
      (err: unknown) =>
        err instanceof IpamError && /no available IPv4 addresses on subnet 10.200.0.0\/29/.test(err.message),
    );
    releaseLease(state, 'c');
    assert.equal(allocateIp(state, subnet, 'f'), '10.200.0.4');
  });

  it('does not hand a just-released address out again at once', () => {
    const state = emptyState();
    lease(state, 'a');
    lease(state, 'b');
    releaseLease(state, 'a');
    assert.equal(lease(state, 'c').ip, '10.200.0.4');
  });
});

describe('ipam: host ports', () => {
  it("refuses a port another container holds, with docker's message", async () => {
    const state = emptyState();
    lease(state, 'a', [tcp(18080)]);
    await assert.rejects(
      allocatePorts(state, 'b', [tcp(18080, 80, '127.0.0.1')], range, free),
      (err: unknown) =>
        err instanceof PortAllocatedError &&
        err.message === 'Bind for 127.0.0.1:18080 failed: port is already allocated',
    );
    assert.deepEqual(clashingBindings(state, 'b', [tcp(18080), tcp(18081)]), [tcp(18080)]);
    assert.deepEqual(clashingBindings(state, 'a', [tcp(18080)]), [], 'its own ports do not clash');
  });

  it('picks random ports from the range, skipping held and busy ones, until none is left', async () => {
    const state = emptyState();
    lease(state, 'a', [tcp(40000)]);
    const busy: PortProbe = async (b) => (b.hostPort === 40001 ? 'busy' : 'free');
    const got = await allocatePorts(state, 'b', [tcp(0), tcp(0, 81)], range, busy);
    assert.deepEqual(
      got.map((p) => p.hostPort),
      [40002, 40003],
    );
    lease(state, 'b', got);
    await assert.rejects(allocatePorts(state, 'c', [tcp(0)], range, busy), /no free host port/);
  });

  it('refuses a fixed port a host process listens on, and an address the host does not have', async () => {
    await assert.rejects(
      allocatePorts(emptyState(), 'a', [tcp(8080)], range, async () => 'busy'),
      /address already in use/,
    );
    await assert.rejects(
      allocatePorts(emptyState(), 'a', [tcp(8080, 80, '192.0.2.99')], range, async () => ({
        error: 'cannot assign requested address',
      })),
      /Bind for 192.0.2.99:8080 failed: cannot assign requested address/,
    );
  });
});

describe('ipam: the lease file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paas-ipam-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('commits what a failing transaction changed before it failed', async () => {
    const store = new LeaseStore(join(dir, 'one'));
    await store.transaction(async (state) => void lease(state, 'a'));
    await assert.rejects(
      store.transaction(async (state) => {
        releaseLease(state, 'a');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual((await store.read()).leases, {});
  });

  it('never hands out one address twice to processes allocating side by side', async () => {
    const store = join(dir, 'shared');
    const script = join(dir, 'alloc.ts');
    writeFileSync(
      script,
      `import { allocateIp } from ${JSON.stringify(join(__dirname, 'ipam.ts'))};
       import { LeaseStore } from ${JSON.stringify(join(__dirname, 'lease-store.ts'))};
       import { parseSubnet } from ${JSON.stringify(join(__dirname, 'subnet.ts'))};
       const store = new LeaseStore(${JSON.stringify(store)});
       const subnet = parseSubnet('10.200.0.0/24');
       (async () => {
         for (let i = 0; i < 15; i++) {
           const id = process.pid + '-' + i;
           await store.transaction(async (state) => {
             const ip = allocateIp(state, subnet, id);
             await new Promise((r) => setImmediate(r));
             state.leases[id] = { id, name: id, hostname: id, ip, ports: [], pid: process.pid, since: '' };
           });
         }
       })();`,
    );
    await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise((resolve, reject) => {
            const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
            child.on('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`exit ${code}`))));
          }),
      ),
    );
    const state = JSON.parse(readFileSync(join(store, 'leases.json'), 'utf8')) as LeaseState;
    const ips = Object.values(state.leases).map((l) => l.ip);
    assert.equal(ips.length, 60);
    assert.equal(new Set(ips).size, 60);
  });
});
