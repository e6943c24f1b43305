/**
 * The registry through the real CLI, with skopeo as the independent client in both
 * directions (an open registry on loopback: `--auth none`, asked for explicitly), and the
 * token flow with `paas login` + `paas push`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PAAS, PaasProcess, paas, tempRoots } from '../support/cli';

function sh(cmd: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { status: number | null; stdout: string; stderr: string }): string {
  assert.equal(r.status, 0, r.stderr || r.stdout);
  return r.stdout;
}

function sha256File(path: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
}

/** The blobs of a skopeo `dir:` copy, by digest. */
function dirBlobs(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^[a-f0-9]{64}$/.test(n))
    .map((n) => {
      assert.equal(sha256File(join(dir, n)), `sha256:${n}`);
      return `sha256:${n}`;
    })
    .sort();
}

async function serve(
  roots: ReturnType<typeof tempRoots>,
  dir: string,
  extra: string[] = [],
): Promise<{ proc: PaasProcess; host: string }> {
  const proc = new PaasProcess(['registry', 'serve', '--addr', '127.0.0.1:0', '--root', dir, ...extra], roots.env);
  const m = await proc.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  return { proc, host: m[1] ?? '' };
}

describe('registry with skopeo and the CLI', () => {
  const roots = tempRoots();
  const work = join(roots.root, '..', 'work');
  let server: { proc: PaasProcess; host: string };
  let archive = '';
  let local: { manifest: string; config: string; layers: string[] };

  before(async () => {
    mkdirSync(work, { recursive: true });
    ok(paas(['image', 'bootstrap', 'busybox'], roots.env));
    archive = join(work, 'busybox.tar');
    ok(paas(['save', 'busybox', '-o', archive], roots.env));
    const [inspected] = JSON.parse(ok(paas(['inspect', '--type', 'image', 'busybox'], roots.env))) as Array<{
      Id: string;
      RepoDigests?: string[];
    }>;
    const index = JSON.parse(readFileSync(join(roots.root, 'images', 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string }>;
    };
    const manifestDigest = index.manifests[0]?.digest ?? '';
    const doc = JSON.parse(
      readFileSync(join(roots.root, 'content', 'blobs', 'sha256', manifestDigest.slice(7)), 'utf8'),
    ) as { config: { digest: string }; layers: Array<{ digest: string }> };
    local = { manifest: manifestDigest, config: inspected?.Id ?? '', layers: doc.layers.map((l) => l.digest) };
    assert.equal(doc.config.digest, local.config);
    server = await serve(roots, join(work, 'registry'), ['--auth', 'none']);
  });
  after(async () => {
    await server?.proc.stop();
    roots.cleanup();
  });

  it('takes an image from skopeo (docker-archive and oci-archive) and gives it back', () => {
    ok(
      sh('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        `docker-archive:${archive}`,
        `docker://${server.host}/sk/docker:1`,
      ]),
    );
    ok(
      sh('skopeo', [
        'copy',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci-archive:${archive}:latest`,
        `docker://${server.host}/sk/oci:1`,
      ]),
    );
    const inspected = JSON.parse(
      ok(sh('skopeo', ['inspect', '--tls-verify=false', `docker://${server.host}/sk/oci:1`])),
    ) as { Digest: string; Layers: string[]; RepoTags: string[] };
    assert.equal(inspected.Digest, local.manifest);
    assert.deepEqual(inspected.Layers, local.layers);
    assert.deepEqual(inspected.RepoTags, ['1']);
    const out = join(work, 'sk-out');
    ok(sh('skopeo', ['copy', '--src-tls-verify=false', `docker://${server.host}/sk/oci:1`, `dir:${out}`]));
    assert.deepEqual(dirBlobs(out), [local.config, ...local.layers].sort());
    assert.equal(sha256File(join(out, 'manifest.json')), local.manifest);
  });

  it('paas push, then skopeo inspect shows our digests and skopeo copy gives identical blobs', () => {
    ok(paas(['tag', 'busybox', `${server.host}/team/busybox:v1`], roots.env));
    const pushed = ok(paas(['push', `${server.host}/team/busybox:v1`], roots.env));
    assert.match(pushed, new RegExp(`The push refers to repository \\[${server.host}/team/busybox\\]`));
    assert.match(
      pushed,
      new RegExp(`${local.layers[0]?.slice(7, 19)}: (Pushed|Layer already exists|Mounted from sk/oci)`),
    );
    assert.match(pushed, new RegExp(`v1: digest: ${local.manifest} size: \\d+`));
    const raw = ok(sh('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${server.host}/team/busybox:v1`]));
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, local.manifest);
    const out = join(work, 'pushed-out');
    ok(sh('skopeo', ['copy', '--src-tls-verify=false', `docker://${server.host}/team/busybox:v1`, `dir:${out}`]));
    assert.deepEqual(dirBlobs(out), [local.config, ...local.layers].sort());
    for (const d of [local.config, ...local.layers]) {
      assert.ok(
        readFileSync(join(out, d.slice(7))).equals(
          readFileSync(join(roots.root, 'content', 'blobs', 'sha256', d.slice(7))),
        ),
      );
    }
    const again = ok(paas(['push', `${server.host}/team/busybox:v1`], roots.env));
    assert.match(again, /: Layer already exists\n/);
  });

  it('skopeo copy in, then paas pull out into a fresh root', () => {
    ok(
      sh('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        `docker-archive:${archive}`,
        `docker://${server.host}/sk/pullme:latest`,
      ]),
    );
    const fresh = tempRoots();
    try {
      const out = ok(paas(['pull', `${server.host}/sk/pullme`], fresh.env));
      assert.match(out, /^latest: Pulling from sk\/pullme\n/);
      assert.match(out, /[a-f0-9]{12}: Pull complete\n/);
      assert.match(out, /\nDigest: sha256:[a-f0-9]{64}\n/);
      assert.match(out, new RegExp(`Status: Downloaded newer image for ${server.host}/sk/pullme:latest\\n`));
      const [image] = JSON.parse(
        ok(paas(['inspect', '--type', 'image', `${server.host}/sk/pullme`], fresh.env)),
      ) as Array<{
        Id: string;
        RepoTags: string[];
      }>;
      assert.equal(image?.Id, local.config);
      assert.deepEqual(image?.RepoTags, [`${server.host}/sk/pullme:latest`]);
      assert.match(ok(paas(['pull', `${server.host}/sk/pullme`], fresh.env)), /Status: Image is up to date for/);
      const missing = paas(['pull', `${server.host}/sk/nothing:1`], fresh.env);
      assert.equal(missing.status, 1);
      // the image and the address tried are named
      assert.match(
        missing.stderr,
        new RegExp(
          `Error: manifest for ${server.host}/sk/nothing:1 not found: name unknown: .*\\(tried http://${server.host}\\)`,
        ),
      );
    } finally {
      fresh.cleanup();
    }
  });

  it('runs the token flow: user add, push refused, login, push, logout', async () => {
    const dir = join(work, 'secure');
    ok(sh(PAAS, ['registry', 'user', 'add', 'alice', '--root', dir, '--password-stdin'], 'wonderland\n'));
    const secure = await serve(roots, dir, ['--auth', 'token']);
    try {
      const ref = `${secure.host}/alice/busybox:1`;
      ok(paas(['tag', 'busybox', ref], roots.env));
      const refused = paas(['push', ref], roots.env);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /unauthorized/);
      const bad = spawnSync(PAAS, ['login', secure.host, '-u', 'alice', '--password-stdin'], {
        env: roots.env,
        input: 'wrong\n',
        encoding: 'utf8',
      });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /login to .* failed: unauthorized: incorrect username or password/);
      const good = spawnSync(PAAS, ['login', secure.host, '-u', 'alice', '--password-stdin'], {
        env: roots.env,
        input: 'wonderland\n',
        encoding: 'utf8',
      });
      assert.equal(good.stdout, 'Login Succeeded\n', good.stderr);
      const authFile = join(roots.root, 'registry-auth.json');
      assert.equal(statSync(authFile).mode & 0o777, 0o600);
      assert.match(ok(paas(['push', ref], roots.env)), new RegExp(`1: digest: ${local.manifest}`));
      const inspected = sh('skopeo', [
        'inspect',
        '--tls-verify=false',
        '--creds',
        'alice:wonderland',
        `docker://${ref}`,
      ]);
      assert.equal((JSON.parse(ok(inspected)) as { Digest: string }).Digest, local.manifest);
      assert.equal(ok(paas(['logout', secure.host], roots.env)), `Removing login credentials for ${secure.host}\n`);
      assert.equal(paas(['push', ref], roots.env).status, 1);
    } finally {
      await secure.proc.stop();
    }
  });
});
