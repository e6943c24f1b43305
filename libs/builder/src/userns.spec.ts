/**
 * RUN steps in a user namespace (`userns`), with the real paas-runtime, overlayfs and the
 * engine's range pool: the step's root is an unprivileged host id (its uid_map says so), the
 * image's files are its own, and the layer it makes holds the container's ids (0, 1000), not
 * the host's; cache and bind mounts are idmapped (a cache directory's files are 0 on disk);
 * a networked step under a runtime other than paas-runtime runs with the host's ids and says
 * so; nothing stays mounted and the ranges go back.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { RANGE_SIZE, UsernsPool } from '@paas/engine';
import { type Image, ImageService, bootstrapImage, imageRoots } from '@paas/images';
import { type TarHeader, TarReader } from '@paas/layers';
import { mountPointsBelow, unmount } from '@paas/snapshots';
import { type BuildOptions, Builder, type StepUsernsPool, buildStepsRootOf } from './builder';
import { cacheMountDir } from './run-mounts';
import type { StepNetwork, StepSandbox } from './step-network';

const RUNTIME = resolve(__dirname, '..', '..', '..', 'native', 'runtime', 'build', 'paas-runtime');
const base = mkdtempSync(join(tmpdir(), 'paas-build-userns-'));
chmodSync(base, 0o711); // the steps' root (an unprivileged host id) reaches its bundle under it
const root = join(base, 'root');
const runtimeRoot = join(base, 'run', 'runtime');
/** Far above any host user; one range per key. */
const POOL = { start: 1_600_000_000, count: 4 * RANGE_SIZE };
// its own subid files: the pool reserves itself there, never in the host's
const pool = new UsernsPool(join(base, 'userns'), () => POOL, undefined, {
  subuid: join(base, 'subuid'),
  subgid: join(base, 'subgid'),
});

let images: ImageService;
let contexts = 0;
function context(files: Record<string, string>): string {
  const dir = join(base, `ctx${contexts++}`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

async function build(
  dockerfile: string,
  options: Partial<BuildOptions> = {},
  builder: { runtime?: string; network?: StepNetwork; usernsPool?: StepUsernsPool } = {},
): Promise<{ image: Image; output: string }> {
  const b = await Builder.open({
    root,
    images,
    runtime: { runtime: builder.runtime ?? RUNTIME, runtimeRoot },
    usernsPool: builder.usernsPool ?? pool,
    ...(builder.network ? { network: builder.network } : {}),
  });
  let output = '';
  const result = await b.build({
    contextDir: context({ Dockerfile: dockerfile, 'data/x': 'from the context\n' }),
    output: { line: (text) => (output += `${text}\n`), raw: (chunk) => (output += chunk.toString()) },
    userns: { key: 'app-test' },
    noCache: true,
    ...options,
  });
  return { image: result.image, output };
}

/** The headers and small bodies of an image's last layer. */
async function lastLayer(image: Image): Promise<Map<string, TarHeader & { body: string }>> {
  const layer = image.manifest.layers.at(-1);
  assert.ok(layer);
  const stream = (await images.content.createReadStream(layer.digest)).pipe(createGunzip());
  const out = new Map<string, TarHeader & { body: string }>();
  for await (const entry of new TarReader(stream).entries()) {
    const parts: Buffer[] = [];
    for await (const chunk of entry.body()) parts.push(Buffer.from(chunk));
    out.set(entry.header.name.replace(/\/$/, ''), { ...entry.header, body: Buffer.concat(parts).toString() });
  }
  return out;
}

const owner = (h: TarHeader | undefined): string => (h ? `${h.uid}:${h.gid}` : 'missing');

before(async () => {
  images = await ImageService.open(imageRoots(root));
  await bootstrapImage(images, 'busybox');
});

after(async () => {
  const steps = existsSync(buildStepsRootOf(root)) ? readdirSync(buildStepsRootOf(root)) : [];
  const mounts = await mountPointsBelow(base);
  // unmounted before the rm: rm through a leftover idmapped view would empty a cache directory
  for (const target of mounts) await unmount(target).catch(() => undefined);
  assert.deepEqual(await mountPointsBelow(base), [], 'mounts that would not go');
  rmSync(base, { recursive: true, force: true });
  assert.deepEqual(steps, [], 'step dirs left');
  assert.deepEqual(mounts, [], 'mounts left');
});

/**
 * What `argv` gets as host uid:gid `id` (no groups): its output, or its error's. (setpriv
 * exec of a file was not refused by the directories' modes here: a file is run through sh.)
 */
function as(id: number, argv: string[]): string {
  try {
    return execFileSync('setpriv', [`--reuid=${id}`, `--regid=${id}`, '--clear-groups', ...argv], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    return `failed: ${String((err as { stderr?: string }).stderr ?? err)}`;
  }
}

describe('RUN in a user namespace', () => {
  it("runs as the range's root and makes a layer with the container's ids", async () => {
    const { image, output } = await build(
      'FROM busybox\n' +
        'RUN touch /a && mkdir /d && chown 1000:1000 /d && id -u > /uid && cat /proc/self/uid_map > /map' +
        ' && echo extra >> /etc/group && rm /etc/shadow && stat -c %u:%g /bin > /bin-owner\n',
    );
    const layer = await lastLayer(image);
    const [hostId] = (layer.get('map')?.body ?? '').trim().split(/\s+/).slice(1);
    assert.equal(layer.get('map')?.body.trim().replace(/\s+/g, ' '), `0 ${POOL.start} ${RANGE_SIZE}`, output);
    assert.equal(Number(hostId), POOL.start);
    assert.equal(layer.get('uid')?.body, '0\n');
    assert.equal(layer.get('bin-owner')?.body, '0:0\n', "the image's files are the namespace root's");
    assert.deepEqual(
      ['a', 'd', 'uid', 'etc', 'etc/group', 'etc/.wh.shadow'].map((f) => [f, owner(layer.get(f))]),
      [
        ['a', '0:0'],
        ['d', '1000:1000'],
        ['uid', '0:0'],
        ['etc', '0:0'],
        ['etc/group', '0:0'],
        ['etc/.wh.shadow', '0:0'],
      ],
    );
    assert.deepEqual(await pool.list(), [], 'the step gave its range back');
  });

  it('idmaps cache directories (container ids on disk) and context binds, and unmounts them', async () => {
    const { image } = await build(
      'FROM busybox\n' +
        'RUN --mount=type=cache,target=/cache,id=c --mount=type=bind,source=data,target=/data' +
        ' touch /cache/mine && mkdir -p /cache/u && chown 1000:1000 /cache/u' +
        ' && stat -c %u:%g /cache /data/x > /owners && cat /data/x >> /owners && cat /proc/self/uid_map > /map\n',
    );
    const layer = await lastLayer(image);
    assert.equal(layer.get('map')?.body.trim().replace(/\s+/g, ' '), `0 ${POOL.start} ${RANGE_SIZE}`);
    assert.equal(layer.get('owners')?.body, '0:0\n0:0\nfrom the context\n');
    const cache = cacheMountDir(join(root, 'builder'), '', 'c');
    assert.deepEqual(
      ['mine', 'u'].map((f) => `${statSync(join(cache, f)).uid}:${statSync(join(cache, f)).gid}`),
      ['0:0', '1000:1000'],
    );
  });

  it("writes the step's bundle config (its environment, build args included) 0600", async () => {
    const modes: number[] = [];
    const tmp = buildStepsRootOf(root);
    const { output } = await build('FROM busybox\nARG TOKEN\nRUN echo ready && sleep 2\n', {
      buildArgs: { TOKEN: 'hunter2' },
      output: {
        line: () => undefined,
        // while the step runs (it sleeps after saying so), its bundle is there to look at
        raw: (chunk) => {
          if (!chunk.toString().includes('ready')) return;
          for (const step of readdirSync(tmp)) modes.push(statSync(join(tmp, step, 'config.json')).mode & 0o777);
        },
      },
    });
    assert.deepEqual(modes, [0o600], output);
  });

  it("keeps the step's upper (real uid 0 files) out of every other uid's reach while it runs", async () => {
    const tmp = buildStepsRootOf(root);
    const seen: Record<string, string> = {};
    const { output } = await build(
      'FROM busybox\nRUN cp /bin/busybox /evil && chmod 4755 /evil && echo ready && sleep 2\n',
      {
        output: {
          line: () => undefined,
          raw: (chunk) => {
            if (!chunk.toString().includes('ready')) return;
            const [step] = readdirSync(tmp);
            assert.ok(step);
            const dir = join(tmp, step);
            // wherever the step's upper is (as root, the file is there)
            const evil = [join(dir, 'upper', 'evil'), join(dir, 'layer', 'upper', 'evil')].filter((f) => existsSync(f));
            assert.equal(evil.length, 1);
            const [file = ''] = evil;
            seen['uid 0 on disk'] = `${statSync(file).uid} ${(statSync(file).mode & 0o4000).toString(8)}`;
            seen['other: stat upper'] = as(12345, ['stat', '-c', '%u', file]);
            seen['other: run upper'] = as(12345, ['sh', '-c', '"$0" true', file]);
            seen['other: merged'] = as(12345, ['stat', '-c', '%u', join(dir, 'rootfs', 'evil')]);
            seen['range root: stat upper'] = as(POOL.start, ['stat', '-c', '%u', file]);
            seen['range root: run upper'] = as(POOL.start, ['sh', '-c', '"$0" true', file]);
            seen['range root: merged'] = as(POOL.start, ['stat', '-c', '%u', join(dir, 'rootfs', 'evil')]);
          },
        },
      },
    );
    const denied = (v: string | undefined): boolean => /^failed: .*Permission denied/s.test(v ?? '');
    assert.equal(seen['uid 0 on disk'], '0 4000', output);
    for (const what of [
      'other: stat upper',
      'other: run upper',
      'other: merged',
      'range root: stat upper',
      'range root: run upper',
    ])
      assert.ok(denied(seen[what]), `${what}: ${seen[what]}`);
    // builder/ (step cache, cache mounts) stays root's alone: the steps' tree is beside it
    assert.equal((statSync(join(root, 'builder')).mode & 0o777).toString(8), '700');
    assert.equal((statSync(buildStepsRootOf(root)).mode & 0o777).toString(8), '711');
    // the step's own range reaches its merged rootfs (the runtime binds it by path), where
    // the file is that range's root's, not host root's
    assert.equal(seen['range root: merged'], `${POOL.start}\n`);
  });

  it("never reuses another cache scope's step (the platform's apps), and reuses its own", async () => {
    const dockerfile = 'FROM busybox\nRUN --mount=type=cache,target=/cache,id=s ls /cache > /seen\n';
    const runs = async (cacheScope: string): Promise<boolean> => {
      const { output } = await build(dockerfile, { cacheScope, noCache: false });
      return !output.includes('Using cache');
    };
    assert.deepEqual([await runs('app-a'), await runs('app-a'), await runs('app-b')], [true, false, true]);
  });

  it('stops a step whose renewal finds its key on another range (the hold was lost), and says why', async () => {
    let acquired = 0;
    // the engine's pool, but from the first renewal on the key is on the next range, as when
    // the step's hold was dropped and the range went to another key
    const lossy: StepUsernsPool = {
      holdRenewMs: 200,
      acquire: async (key, holder) => {
        const range = await pool.acquire(key, holder);
        return acquired++ === 0 ? range : { ...range, hostId: range.hostId + RANGE_SIZE };
      },
      release: (holder) => pool.release(holder),
    };
    await assert.rejects(
      build('FROM busybox\nRUN echo started && sleep 60\n', {}, { usernsPool: lossy }),
      /the RUN step lost its user namespace range \(host ids 1600000000\.\., now 1600065536\.\. for app-test\): it was stopped/,
    );
    assert.ok(acquired >= 2);
    assert.deepEqual(await pool.list(), [], 'its hold released');
    assert.deepEqual(readdirSync(buildStepsRootOf(root)), []);
    assert.deepEqual(
      readdirSync(runtimeRoot).filter((n) => n.startsWith('build-')),
      [],
      'its container killed',
    );
  });

  it('unmounts what a failing step idmapped, and gives its range back', async () => {
    await assert.rejects(
      build(
        'FROM busybox\nRUN --mount=type=cache,target=/cache,id=c --mount=type=bind,source=data,target=/data false\n',
      ),
      /returned a non-zero code: 1/,
    );
    assert.deepEqual(await pool.list(), []);
    assert.deepEqual(readdirSync(buildStepsRootOf(root)), []);
  });

  it('runs a networked step with the host ids under another runtime, and says so', async () => {
    const { image, output } = await build(
      'FROM busybox\nRUN cat /proc/self/uid_map > /map\n',
      {},
      { runtime: crun(), network: netns() },
    );
    assert.match(output, /\[Warning\] --userns=auto: a RUN step on the network needs paas-runtime.*not crun/);
    assert.equal((await lastLayer(image)).get('map')?.body.trim().replace(/\s+/g, ' '), '0 0 4294967295');
  });

  it('fails a build that requires its user namespace where a step cannot have it, naming why and the setting', async () => {
    const network = netns();
    await assert.rejects(
      build('FROM busybox\nRUN cat /proc/self/uid_map > /map\n', { requireUserns: true }, { runtime: crun(), network }),
      (err: Error) => {
        assert.match(err.message, /must run in a user namespace.*needs paas-runtime.*not crun.*PAAS_BUILD_USERNS=host/);
        return true;
      },
    );
    assert.deepEqual(await pool.list(), []);
    assert.deepEqual(readdirSync(buildStepsRootOf(root)), []);
    assert.doesNotMatch(
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }),
      new RegExp(`\\bpbu${process.pid % 100_000}\\b`),
    );
  });
});

/** paas-runtime under the name crun (PAAS_RUNTIME=crun), once. */
function crun(): string {
  const bin = join(base, 'bin');
  if (!existsSync(join(bin, 'crun'))) {
    mkdirSync(bin, { recursive: true });
    symlinkSync(RUNTIME, join(bin, 'crun'));
  }
  return join(bin, 'crun');
}

/** A step network of one empty namespace, made at attach and deleted at detach. */
function netns(): StepNetwork {
  const name = `pbu${process.pid % 100_000}`;
  return {
    attach: async (): Promise<StepSandbox> => {
      execFileSync('ip', ['netns', 'add', name]);
      return { namespacePath: `/run/netns/${name}`, hosts: '127.0.0.1\tlocalhost\n', resolvConf: '' };
    },
    detach: async () => {
      execFileSync('ip', ['netns', 'del', name]);
    },
  };
}
