/**
 * RUN steps and their network, with a fake StepNetwork over a real namespace (a veth pair
 * with an address the step can see), the real paas-runtime and overlayfs: when the step
 * attaches and detaches (also when it fails or the build is aborted), what it sees as
 * /etc/resolv.conf and /etc/hosts, that `--network none` leaves it loopback only, that the
 * mode is not in the cache key, and that the mount points of those files stay out of layers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageService, bootstrapImage, imageRoots } from '@paas/images';
import { type BuildOptions, Builder, buildStepsRootOf } from './builder';
import { BuildAbortedError, RunFailedError } from './errors';
import type { StepNetwork, StepSandbox } from './step-network';

const RUNTIME = resolve(__dirname, '..', '..', '..', 'native', 'runtime', 'build', 'paas-runtime');
const base = mkdtempSync(join(tmpdir(), 'paas-step-net-'));
const root = join(base, 'root');
const runtimeRoot = join(base, 'run', 'runtime');
const ns = (id: string): string => `pbt${process.pid % 100_000}-${id.slice(0, 6)}`;
/** The address the fake gives its namespace (TEST-NET-2, never routed anywhere). */
const ADDRESS = '198.51.100.77';

/** Real namespaces (`ip netns add`) with a veth pair, and a journal of every call. */
class FakeNetwork implements StepNetwork {
  readonly calls: string[] = [];
  readonly live = new Set<string>();
  async attach(id: string, options: { hostname: string; isolated: boolean }): Promise<StepSandbox> {
    this.calls.push(`attach ${id} ${options.hostname} isolated=${options.isolated}`);
    const name = ns(id);
    execFileSync('ip', ['netns', 'add', name]);
    this.live.add(name);
    execFileSync('ip', ['-n', name, 'link', 'add', 'fake0', 'type', 'veth', 'peer', 'name', 'fake1']);
    execFileSync('ip', ['-n', name, 'addr', 'add', `${ADDRESS}/32`, 'dev', 'fake0']);
    execFileSync('ip', ['-n', name, 'link', 'set', 'fake0', 'up']);
    return {
      namespacePath: `/run/netns/${name}`,
      hosts: `127.0.0.1\tlocalhost\n${ADDRESS}\t${options.hostname}\n`,
      resolvConf: 'nameserver 192.0.2.53\n',
    };
  }
  async detach(id: string): Promise<void> {
    this.calls.push(`detach ${id}`);
    const name = ns(id);
    if (this.live.delete(name)) execFileSync('ip', ['netns', 'del', name]);
  }
}

let images: ImageService;
let contexts = 0;
function context(dockerfile: string): string {
  const dir = join(base, `ctx${contexts++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

async function build(
  network: StepNetwork | undefined,
  dockerfile: string,
  options: Partial<BuildOptions> = {},
): Promise<{ output: string; cached: number }> {
  const builder = await Builder.open({
    root,
    images,
    runtime: { runtime: RUNTIME, runtimeRoot },
    ...(network ? { network } : {}),
  });
  let output = '';
  const result = await builder.build({
    contextDir: context(dockerfile),
    output: { line: (text) => (output += `${text}\n`), raw: (chunk) => (output += chunk.toString()) },
    ...options,
  });
  return { output, cached: result.cached };
}

before(async () => {
  images = await ImageService.open(imageRoots(root));
  await bootstrapImage(images, 'busybox');
});

after(() => {
  const steps = existsSync(buildStepsRootOf(root)) ? readdirSync(buildStepsRootOf(root)) : [];
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  rmSync(base, { recursive: true, force: true });
  assert.deepEqual(steps, [], 'step dirs left');
  assert.doesNotMatch(namespaces, new RegExp(`pbt${process.pid % 100_000}-`), 'namespaces left');
});

describe('RUN steps on the builder network', () => {
  it('joins the network a step attaches (isolated as asked), sees its resolv.conf and hosts, and detaches after', async () => {
    const net = new FakeNetwork();
    const { output } = await build(
      net,
      'FROM busybox\nRUN cat /proc/net/dev /etc/resolv.conf /etc/hosts; echo "host=$(hostname)"\n',
      { isolated: true, noCache: true },
    );
    assert.match(output, /fake0:/, 'the step is in the namespace the network gave');
    assert.match(output, /nameserver 192\.0\.2\.53/);
    assert.match(output, new RegExp(`${ADDRESS.replace(/\./g, '\\.')}\\t([0-9a-f]{12})\\n[^]*host=\\1`));
    const [attach, detach, ...rest] = net.calls;
    assert.match(attach ?? '', /^attach [0-9a-f]{64} [0-9a-f]{12} isolated=true$/);
    assert.equal(detach, `detach ${attach?.split(' ')[1]}`);
    assert.deepEqual(rest, []);
    assert.equal(net.live.size, 0);
  });

  it('--network none: no attach, loopback only; the mode is not in the cache key', async () => {
    const net = new FakeNetwork();
    const dockerfile = 'FROM busybox\nRUN echo one > /one; cat /proc/net/dev\n';
    const first = await build(net, dockerfile, { network: 'none' });
    assert.deepEqual(net.calls, []);
    assert.doesNotMatch(first.output, /fake0|eth0/);
    assert.match(first.output, /lo:/);
    const second = await build(net, dockerfile);
    assert.equal(second.cached, 1, second.output);
    assert.deepEqual(net.calls, [], 'a cached step needs no network');
  });

  it('a builder without a network runs steps loopback only', async () => {
    const { output } = await build(undefined, 'FROM busybox\nRUN cat /proc/net/dev\n', { noCache: true });
    assert.doesNotMatch(output, /fake0/);
  });

  it('detaches when the step fails and when the build is aborted mid-step', async () => {
    const net = new FakeNetwork();
    await assert.rejects(build(net, 'FROM busybox\nRUN exit 3\n', { noCache: true }), RunFailedError);
    assert.deepEqual(
      net.calls.map((c) => c.split(' ')[0]),
      ['attach', 'detach'],
    );
    const controller = new AbortController();
    const slow = build(net, 'FROM busybox\nRUN echo started; sleep 60\n', {
      noCache: true,
      signal: controller.signal,
      output: {
        line: () => undefined,
        raw: (chunk) => (chunk.toString().includes('started') ? controller.abort() : undefined),
      },
    });
    await assert.rejects(slow, BuildAbortedError);
    assert.deepEqual(
      net.calls.map((c) => c.split(' ')[0]),
      ['attach', 'detach', 'attach', 'detach'],
    );
    assert.equal(net.live.size, 0);
  });

  it("keeps the mount points of hosts and resolv.conf out of the step's layer", async () => {
    // busybox has /etc but neither file: the runtime makes both as mount points in the upper dir
    const dockerfile = 'FROM busybox\nRUN echo x > /x\n';
    await build(new FakeNetwork(), dockerfile, { noCache: true });
    const look = await build(undefined, `${dockerfile}RUN ls /etc/hosts /etc/resolv.conf 2>&1; cat /x\n`);
    assert.equal(look.cached, 1, look.output);
    assert.match(look.output, /\/etc\/hosts: No such file/);
    assert.match(look.output, /\/etc\/resolv\.conf: No such file/);
  });
});
