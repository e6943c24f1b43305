/**
 * The image verbs through the real CLI, and interop with skopeo and umoci as independent
 * readers and writers of our archives.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { schemaErrors } from '@paas/oci/testing';
import { PAAS, paas, tempRoots } from '../support/cli';

function sh(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { status: number | null; stdout: string; stderr: string }): string {
  assert.equal(r.status, 0, r.stderr || r.stdout);
  return r.stdout;
}

/** Every path under dir with its type, mode and size (hard links and symlinks as such). */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : `file ${st.size}`;
      out.push(`${relative(dir, p)} ${kind} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

describe('image CLI', () => {
  const roots = tempRoots();
  const work = join(roots.root, '..', 'work');
  let id = '';

  before(() => {
    mkdirSync(work, { recursive: true });
    const out = ok(paas(['image', 'bootstrap', 'busybox'], roots.env));
    id = /busybox:latest: (sha256:[a-f0-9]{64})/.exec(out)?.[1] ?? '';
    assert.ok(id, out);
  });
  after(() => roots.cleanup());

  it('lists, inspects and shows the history of the bootstrapped busybox', () => {
    const list = ok(paas(['images'], roots.env));
    assert.match(list, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\n/);
    assert.match(list, new RegExp(`\nbusybox\\s+latest\\s+${id.slice(7, 19)}\\s`));
    assert.equal(ok(paas(['images', '-q'], roots.env)), `${id.slice(7, 19)}\n`);
    const [inspected] = JSON.parse(ok(paas(['inspect', 'busybox'], roots.env))) as Array<Record<string, unknown>>;
    assert.equal(inspected?.['Id'], id);
    assert.deepEqual(inspected?.['RepoTags'], ['busybox:latest']);
    assert.equal(ok(paas(['inspect', '-f', '{{json .Config.Cmd}}', 'busybox'], roots.env)), '["sh"]\n');
    assert.match(
      ok(paas(['history', 'busybox'], roots.env)),
      /IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n[a-f0-9]{12}\s/,
    );
  });

  it('tags and removes like docker, with its messages and exit codes', () => {
    ok(paas(['tag', 'busybox', 'mybox:1'], roots.env));
    assert.match(ok(paas(['images', 'mybox'], roots.env)), /mybox\s+1\s/);
    assert.equal(ok(paas(['rmi', 'mybox:1'], roots.env)), 'Untagged: mybox:1\n');
    const missing = paas(['rmi', 'nosuch'], roots.env);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^Error: No such image: nosuch\n/);
    const bad = paas(['tag', 'busybox', 'Bad Name'], roots.env);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /invalid reference format/);
    const noObj = paas(['inspect', 'nosuch'], roots.env);
    assert.equal(noObj.status, 1);
    assert.match(noObj.stderr, /Error: No such object: nosuch/);
  });

  it('saves an archive that skopeo reads as docker-archive and oci-archive with our digests', () => {
    const archive = join(work, 'busybox.tar');
    ok(paas(['save', 'busybox', '-o', archive], roots.env));
    const manifestDigest = ok(paas(['inspect', '-f', '{{.Descriptor.digest}}', 'busybox'], roots.env)).trim();

    const dockerRaw = JSON.parse(ok(sh('skopeo', ['inspect', '--raw', `docker-archive:${archive}`]))) as {
      config: { digest: string };
    };
    assert.equal(dockerRaw.config.digest, id);
    const dockerInfo = JSON.parse(ok(sh('skopeo', ['inspect', `docker-archive:${archive}`]))) as {
      RepoTags: string[];
      Layers: string[];
    };
    const diffIds = JSON.parse(
      ok(paas(['inspect', '-f', '{{json .RootFS.Layers}}', 'busybox'], roots.env)),
    ) as string[];
    assert.deepEqual(dockerInfo.Layers, diffIds);

    const ociRaw = ok(sh('skopeo', ['inspect', '--raw', `oci-archive:${archive}`]));
    const digestOfRaw = spawnSync('sha256sum', { input: ociRaw, encoding: 'utf8' }).stdout.split(' ')[0];
    assert.equal(`sha256:${digestOfRaw}`, manifestDigest);
    const ociConfig = JSON.parse(ok(sh('skopeo', ['inspect', '--config', `oci-archive:${archive}`]))) as {
      config: { Cmd: string[] };
    };
    assert.deepEqual(ociConfig.config.Cmd, ['sh']);
  });

  it('writes index, manifest, config and layout that validate against the OCI schemas', () => {
    const archive = join(work, 'busybox.tar');
    const layout = join(work, 'layout');
    mkdirSync(layout, { recursive: true });
    ok(sh('tar', ['-xf', archive, '-C', layout]));
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string }>;
    };
    assert.deepEqual(schemaErrors('index', index), []);
    assert.deepEqual(schemaErrors('layout', JSON.parse(readFileSync(join(layout, 'oci-layout'), 'utf8'))), []);
    const blob = (d: string): unknown => JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', d.slice(7)), 'utf8'));
    const manifest = blob(index.manifests[0]?.digest ?? '') as { config: { digest: string } };
    assert.deepEqual(schemaErrors('manifest', manifest), []);
    assert.deepEqual(schemaErrors('config', blob(manifest.config.digest)), []);
  });

  it('loads what skopeo copied, as the same image', () => {
    const archive = join(work, 'busybox.tar');
    const copied = join(work, 'skopeo-docker.tar');
    ok(sh('skopeo', ['copy', '-q', `oci-archive:${archive}`, `docker-archive:${copied}:copied/box:v1`]));
    const other = tempRoots();
    try {
      assert.equal(ok(paas(['load', '-i', copied], other.env)), 'Loaded image: copied/box:v1\n');
      assert.equal(ok(paas(['inspect', '-f', '{{.Id}}', 'copied/box:v1'], other.env)).trim(), id);
      const layoutDir = join(work, 'skopeo-oci');
      ok(sh('skopeo', ['copy', '-q', `oci-archive:${archive}`, `oci:${layoutDir}:box`]));
      const layoutTar = join(work, 'skopeo-oci.tar');
      ok(sh('tar', ['-cf', layoutTar, '-C', layoutDir, '.']));
      assert.equal(ok(paas(['load', '-i', layoutTar], other.env)), `Loaded image ID: ${id}\n`);
    } finally {
      other.cleanup();
    }
  });

  it('gives the same files through umoci unpack as through our own snapshot', () => {
    const layoutDir = join(work, 'umoci-layout');
    ok(sh('skopeo', ['copy', '-q', `oci-archive:${join(work, 'busybox.tar')}`, `oci:${layoutDir}:box`]));
    const bundle = join(work, 'umoci-bundle');
    ok(sh('umoci', ['unpack', '--image', `${layoutDir}:box`, bundle]));
    const mounted = ok(paas(['image', 'mount', 'busybox'], roots.env)).trim();
    try {
      assert.ok(mounted.startsWith(roots.run), mounted);
      assert.deepEqual(tree(join(bundle, 'rootfs')), tree(mounted));
      // root's alone, and an image's setuid files or devices mean nothing on the host
      assert.equal(statSync(dirname(mounted)).mode & 0o777, 0o700);
      const options = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .find((line) => line.split(' ')[4] === mounted)
        ?.split(' ')[5];
      assert.match(options ?? '', /^ro,nosuid,nodev\b/, `${mounted}: ${options}`);
    } finally {
      ok(paas(['image', 'unmount', 'busybox'], roots.env));
    }
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(mounted), false);
  });

  it('refuses a truncated or foreign archive with a clear error and adds no image', () => {
    const truncated = join(work, 'truncated.tar');
    writeFileSync(truncated, readFileSync(join(work, 'busybox.tar')));
    truncateSync(truncated, 700_000);
    const other = tempRoots();
    try {
      const r = paas(['load', '-i', truncated], other.env);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^Error: load: .*truncated/);
      assert.equal(ok(paas(['images', '-q'], other.env)), '');
      const notImage = join(work, 'not-image.tar');
      ok(sh('tar', ['-cf', notImage, '-C', work, 'truncated.tar']));
      const r2 = paas(['load', '-i', notImage], other.env);
      assert.equal(r2.status, 1);
      assert.match(r2.stderr, /not an image archive/);
      const garbage = join(work, 'garbage.tar');
      writeFileSync(garbage, 'this is not a tar file at all'.repeat(40));
      const r3 = paas(['load', '-i', garbage], other.env);
      assert.equal(r3.status, 1);
      assert.match(r3.stderr, /^Error: load: /);
    } finally {
      other.cleanup();
    }
  });

  it('leaves no partial blob and no ref when load is killed at random points', async () => {
    const data = join(work, 'big');
    mkdirSync(data);
    for (let i = 0; i < 6; i++) writeFileSync(join(data, `r${i}`), randomBytes(4 * 1024 * 1024));
    ok(paas(['image', 'import', data, 'big:1'], roots.env));
    const archive = join(work, 'big.tar');
    ok(paas(['save', 'big:1', '-o', archive], roots.env));
    const other = tempRoots();
    try {
      for (let round = 0; round < 6; round++) {
        const child = spawn(PAAS, ['load', '-i', archive], { env: other.env, stdio: 'ignore' });
        const closed = new Promise((r) => child.once('close', r)); // it may finish before the kill
        await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 400)));
        child.kill('SIGKILL');
        await closed;
        const blobs = join(other.root, 'content', 'blobs', 'sha256');
        for (const hex of existsSync(blobs) ? readdirSync(blobs) : []) {
          const digest = createHash('sha256')
            .update(readFileSync(join(blobs, hex)))
            .digest('hex');
          assert.equal(digest, hex, `round ${round}: blob ${hex} is partial`);
        }
        const listed = ok(paas(['images', '-q'], other.env));
        assert.ok(listed === '' || listed.trim().length === 12, `round ${round}: ${listed}`);
        if (listed) ok(paas(['inspect', 'big:1'], other.env));
      }
      assert.equal(ok(paas(['load', '-i', archive], other.env)), 'Loaded image: big:1\n');
    } finally {
      other.cleanup();
    }
  });
});
