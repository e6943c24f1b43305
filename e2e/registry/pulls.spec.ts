/**
 * Pulls like Docker's, through the real CLI: our own `paas registry serve` with token auth
 * (a user of this test's own) on loopback, filled from `paas image bootstrap busybox` under
 * `library/busybox`, plays Docker Hub's mirror (`PAAS_REGISTRY_MIRRORS`), so that in a fresh
 * PAAS_ROOT `paas run --rm busybox:latest echo hi` pulls exactly as it would from Docker Hub.
 * Every image asked for here is in that mirror or names a loopback registry, so no pull ever
 * falls through to the real Docker Hub.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Builder, BuildError } from '@paas/builder';
import { ImageService, imageRoots } from '@paas/images';
import { parseNormalizedReference } from '@paas/oci';
import { CredentialStore, ImagePuller } from '@paas/registry';
import { PAAS, PaasProcess, type Result, WORKSPACE, cliFor, paas, tempRoots } from '../support/cli';

const USER = 'mirror-user';
const PASSWORD = 'a-password-of-this-test';

type Roots = ReturnType<typeof tempRoots>;
const made: Roots[] = [];
const servers: Server[] = [];
let registry: PaasProcess | undefined;
let host = '';
let mirror = '';

function roots(): Roots {
  const r = tempRoots();
  made.push(r);
  return r;
}

function login(env: NodeJS.ProcessEnv, server = host): void {
  const r = spawnSync(PAAS, ['login', server, '-u', USER, '--password-stdin'], {
    env,
    input: `${PASSWORD}\n`,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
}

/** A fresh PAAS_ROOT logged in to the mirror, with the mirror configured (or these mirrors). */
function client(mirrors = mirror): Omit<Roots, 'run'> & ReturnType<typeof cliFor> {
  const r = roots();
  r.env['PAAS_REGISTRY_MIRRORS'] = mirrors;
  login(r.env);
  return { ...r, ...cliFor(r.env) };
}

/** bin/paas without blocking this process (for servers of the test's own). */
async function paasAsync(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  const proc = new PaasProcess(args, env);
  const { code } = await proc.exited;
  return { status: code, stdout: proc.stdout, stderr: proc.stderr };
}

/** A loopback port nobody listens on (fetch refuses the well-known ones, such as 1). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/** A "mirror" answering 200 with garbage to every request. */
async function garbageServer(): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('<html>this is no registry</html>');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return `http://127.0.0.1:${address.port}`;
}

/** Every blob of the store hashes to its name (nothing half-written under a final name). */
function assertStoreIntact(root: string): number {
  const dir = join(root, 'content', 'blobs', 'sha256');
  const names = existsSync(dir) ? readdirSync(dir) : [];
  for (const name of names) {
    const hash = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
    assert.equal(hash, name, `blob ${name} does not hash to its name`);
  }
  return names.length;
}

let bigLayer = '';
let otherAppLayer = '';

before(async () => {
  const hub = roots();
  const { ok } = cliFor(hub.env);
  const dir = join(hub.root, '..', 'registry');
  const added = spawnSync(PAAS, ['registry', 'user', 'add', USER, '--root', dir, '--password-stdin'], {
    env: hub.env,
    input: `${PASSWORD}\n`,
    encoding: 'utf8',
  });
  assert.equal(added.status, 0, added.stderr);
  registry = new PaasProcess(['registry', 'serve', '--addr', '127.0.0.1:0', '--root', dir], hub.env);
  host = (await registry.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/))[1] ?? '';
  mirror = `http://${host}`;
  login(hub.env);

  ok('image', 'bootstrap', 'busybox');
  for (const tag of ['latest', '1.36']) {
    ok('tag', 'busybox', `${host}/library/busybox:${tag}`);
    ok('push', `${host}/library/busybox:${tag}`);
  }
  // a one-layer image big enough that a pull can be killed part way
  const data = join(hub.root, '..', 'big');
  mkdirSync(data);
  for (let i = 0; i < 4; i++) writeFileSync(join(data, `blob${i}`), crypto.getRandomValues(new Uint8Array(65536)));
  for (let i = 0; i < 6; i++) {
    const chunk = Buffer.alloc(16 * 1024 * 1024);
    for (let o = 0; o < chunk.length; o += 65536) chunk.set(crypto.getRandomValues(new Uint8Array(65536)), o);
    writeFileSync(join(data, `big${i}`), chunk);
  }
  ok('image', 'import', data, `${host}/library/big:1`);
  ok('push', `${host}/library/big:1`);
  bigLayer = layersOf(hub.root, `${host}/library/big:1`)[0] ?? '';
  // two apps' release images, as the platform registry holds them
  const other = join(hub.root, '..', 'other-app');
  mkdirSync(other);
  writeFileSync(join(other, 'secret.txt'), `secret of app b ${Date.now()}\n`);
  ok('image', 'import', other, `${host}/appb:v1`);
  ok('push', `${host}/appb:v1`);
  otherAppLayer = layersOf(hub.root, `${host}/appb:v1`)[0] ?? '';
  ok('tag', 'busybox', `${host}/appa:v1`);
  ok('push', `${host}/appa:v1`);
});

after(async () => {
  await registry?.stop();
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
  for (const r of made) r.cleanup();
});

/** The layer digests of the image named `name` (a full reference) in the store at `root`. */
function layersOf(root: string, name: string): string[] {
  const index = JSON.parse(readFileSync(join(root, 'images', 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name);
  assert.ok(entry, `${name} is not in ${root}`);
  const blob = join(root, 'content', 'blobs', 'sha256', entry.digest.slice(7));
  return (JSON.parse(readFileSync(blob, 'utf8')) as { layers: Array<{ digest: string }> }).layers.map((l) => l.digest);
}

describe('paas run and create pull a missing image, as Docker does', () => {
  it('run --rm busybox:latest in a fresh root pulls it through the mirror, then runs it', () => {
    const c = client();
    const r = c.run('run', '--rm', 'busybox:latest', 'echo', 'hi');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    assert.match(r.stderr, /^Unable to find image 'busybox:latest' locally\nlatest: Pulling from library\/busybox\n/);
    assert.match(r.stderr, /\n[0-9a-f]{12}: Pull complete\n/);
    assert.match(r.stderr, /\nDigest: sha256:[0-9a-f]{64}\nStatus: Downloaded newer image for busybox:latest\n$/);
    assert.match(c.ok('images'), /^busybox +latest /m);
    // present now: no pull
    const again = c.run('run', '--rm', 'busybox', 'echo', 'again');
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stderr, '');
    assert.equal(again.stdout, 'again\n');
  });

  it('create pulls too and prints only the id on stdout', () => {
    const c = client();
    const r = c.run('create', 'busybox:1.36', 'true');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
    assert.match(r.stderr, /Unable to find image 'busybox:1.36' locally\n1.36: Pulling from library\/busybox\n/);
    c.ok('rm', r.stdout.trim());
  });

  it('--pull never fails like Docker (125) without asking a registry; always pulls; missing does not', () => {
    const c = client();
    for (const verb of ['run', 'create']) {
      const r = c.run(verb, '--pull', 'never', 'busybox', 'true');
      assert.equal(r.status, 125, r.stderr);
      assert.match(r.stderr, /No such image: busybox:latest/);
      assert.doesNotMatch(r.stderr, /Pulling from/);
    }
    const bad = c.run('run', '--pull', 'sometimes', 'busybox', 'true');
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /invalid pull option: 'sometimes': must be one of "always", "missing" or "never"/);

    const first = c.run('run', '--rm', '--pull', 'always', 'busybox', 'true');
    assert.equal(first.status, 0, first.stderr);
    assert.doesNotMatch(first.stderr, /Unable to find image/);
    assert.match(first.stderr, /Status: Downloaded newer image for busybox:latest/);
    const again = c.run('run', '--rm', '--pull', 'always', 'busybox', 'true');
    assert.equal(again.status, 0, again.stderr);
    assert.match(
      again.stderr,
      /^latest: Pulling from library\/busybox\n[^]*Status: Image is up to date for busybox:latest\n$/,
    );
    for (const policy of ['missing', 'never']) {
      const r = c.run('run', '--rm', '--pull', policy, 'busybox', 'true');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
    }
  });

  it('an unknown image or an unreachable registry fails naming the image and the address tried', async () => {
    const port = await closedPort();
    const c = client();
    const unknown = c.run('run', '--rm', `${host}/library/nosuch:1`, 'true');
    assert.equal(unknown.status, 125);
    assert.match(
      unknown.stderr,
      new RegExp(`manifest for ${host}/library/nosuch:1 not found: .*\\(tried http://${host}\\)`),
    );
    const pulled = c.run('pull', `127.0.0.1:${port}/team/app:v1`);
    assert.equal(pulled.status, 1);
    assert.match(
      pulled.stderr,
      new RegExp(`pulling 127.0.0.1:${port}/team/app:v1: .*ECONNREFUSED.*\\(tried http://127.0.0.1:${port}\\)`),
    );
    const bad = roots();
    bad.env['PAAS_REGISTRY_MIRRORS'] = `${host}`;
    const r = paas(['run', '--rm', 'busybox', 'true'], bad.env);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /PAAS_REGISTRY_MIRRORS: entry 1 "127\.0\.0\.1:\d+" (is not a URL|must start with http)/);
  });
});

describe('registry mirrors', () => {
  it('a mirror answering garbage, and one refusing connections, are skipped with a warning', async () => {
    const garbage = await garbageServer();
    const refusing = `http://127.0.0.1:${await closedPort()}`;
    const c = client(`${garbage},${refusing},${mirror}`);
    const r = await paasAsync(['run', '--rm', 'busybox', 'echo', 'through-the-third'], c.env);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'through-the-third\n');
    assert.match(r.stderr, new RegExp(`Warning: registry mirror ${garbage} skipped for busybox:latest: `));
    assert.match(
      r.stderr,
      new RegExp(`Warning: registry mirror ${refusing} skipped for busybox:latest: .*ECONNREFUSED`),
    );
    assert.equal(r.stderr.match(/Pulling from/g)?.length, 1, r.stderr);
    assert.match(r.stderr, /Status: Downloaded newer image for busybox:latest/);
  });

  it('mirrors serve docker.io only: another registry is asked directly', async () => {
    const garbage = await garbageServer();
    const c = client(garbage);
    const r = await paasAsync(['pull', `${host}/appa:v1`], c.env);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Warning/);
  });
});

describe('a pull killed part way', () => {
  it('leaves no partial blob under a final name, and the next pull completes', async () => {
    const c = client();
    const proc = new PaasProcess(['pull', 'big:1'], c.env);
    const ingest = join(c.root, 'content', 'ingest');
    let killedPart = false;
    // wait until the big layer is streaming into an ingest file, then kill the pull
    while (proc.child.exitCode === null) {
      const parts = existsSync(ingest) ? readdirSync(ingest) : [];
      if (parts.some((p) => (statSync(join(ingest, p), { throwIfNoEntry: false })?.size ?? 0) > 1024 * 1024)) {
        proc.child.kill('SIGKILL');
        killedPart = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await proc.exited;
    assert.ok(killedPart, `the pull ended before it could be killed:\n${proc.output}`);
    assertStoreIntact(c.root);
    assert.ok(!existsSync(join(c.root, 'content', 'blobs', 'sha256', bigLayer.slice(7))), 'the big layer is stored');
    assert.doesNotMatch(c.ok('images'), /big/);
    const again = c.run('pull', 'big:1');
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /Status: Downloaded newer image for big:1/);
    assert.ok(assertStoreIntact(c.root) > 0);
  });
});

describe('builds pull their base images', () => {
  function context(dockerfile: string): string {
    const dir = join(made[0]?.root ?? '', '..', `ctx-${Math.random().toString(16).slice(2)}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    return dir;
  }

  it('FROM busybox:1.36 is pulled under its step, as the classic builder prints it', () => {
    const c = client();
    const dir = context('FROM busybox:1.36\nRUN echo built-on-a-pulled-base\n');
    const never = c.run('build', '--pull=never', '-t', 'app:1', dir);
    assert.equal(never.status, 1);
    assert.match(never.stderr, /pull access denied for busybox:1\.36: image not found locally and --pull never/);
    const r = c.run('build', '-t', 'app:1', dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /Step 1\/2 : FROM busybox:1\.36\n1\.36: Pulling from library\/busybox\n([0-9a-f]{12}: Pull complete\n)+Digest: sha256:[0-9a-f]{64}\nStatus: Downloaded newer image for busybox:1\.36\n ---> [0-9a-f]{12}\nStep 2\/2 : RUN echo built-on-a-pulled-base\n/,
    );
    const always = c.run('build', '--pull', '-t', 'app:1', dir);
    assert.equal(always.status, 0, always.stderr);
    assert.match(always.stdout, /Status: Image is up to date for busybox:1\.36\n ---> /);
    const copy = c.run(
      'build',
      '-t',
      'app:2',
      context(`FROM busybox:1.36\nCOPY --from=${host}/appa:v1 /bin/echo /e\n`),
    );
    assert.equal(copy.status, 0, copy.stderr);
    assert.match(
      copy.stdout,
      new RegExp(`Step 2/2 : COPY --from=${host}/appa:v1 /bin/echo /e\\nv1: Pulling from appa\\n`),
    );
  });

  it("the image policy holds for pulls: another app's release repository is never pulled as a base", async () => {
    const c = client();
    const images = await ImageService.open(imageRoots(c.root));
    const puller = new ImagePuller({ images, credentials: new CredentialStore(join(c.root, 'registry-auth.json')) });
    const builder = await Builder.open({
      root: c.root,
      images,
      runtime: {
        runtime: join(WORKSPACE, 'native', 'runtime', 'build', 'paas-runtime'),
        runtimeRoot: join(c.env['PAAS_RUN'] ?? '', 'runtime'),
      },
      puller: { pull: async (ref) => (await puller.pull(parseNormalizedReference(ref))).image },
    });
    // the platform's policy for app "appa": base images, and appa's own releases
    const mayUse = (names: readonly string[]): boolean =>
      names.some((n) => !n.startsWith(`${host}/`) || n.startsWith(`${host}/appa:`));
    for (const dockerfile of [
      `FROM ${host}/appb:v1\n`,
      `FROM ${host}/appa:v1\nCOPY --from=${host}/appb:v1 /secret.txt /x\n`,
    ]) {
      await assert.rejects(
        builder.build({ contextDir: context(dockerfile), mayUse }),
        (err: unknown) =>
          err instanceof BuildError && /pull access denied for .*appb:v1: image not found locally/.test(err.message),
      );
    }
    assert.ok(
      !existsSync(join(c.root, 'content', 'blobs', 'sha256', otherAppLayer.slice(7))),
      "app b's layer was pulled",
    );
    assert.ok(!(await images.refs.list()).some((e) => e.name?.includes('appb')));
    // its own release is a base
    const own = await builder.build({ contextDir: context(`FROM ${host}/appa:v1\n`), mayUse });
    assert.ok(own.image.id.startsWith('sha256:'));
  });
});
