/**
 * `paas build` through the real CLI, paas-runtime and overlayfs, in a temporary PAAS_ROOT
 * with the busybox base image (node in one test). Every test leaves no container, mount or
 * step directory behind; `after` checks it once more for the whole file.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliFor, mountsUnder, PAAS, paas, tempRoots } from '../support/cli';
import { buildStepsRootOf } from '@paas/builder';

const roots = tempRoots();
const { run, ok } = cliFor(roots.env);

/** A build context directory with these files (a Dockerfile among them). */
function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(roots.root, '..', 'ctx-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

function leftovers(): { mounts: string[]; steps: string[]; containers: string[] } {
  let steps: string[] = [];
  let containers: string[] = [];
  try {
    steps = readdirSync(buildStepsRootOf(roots.root));
  } catch {
    // no build yet
  }
  try {
    containers = readdirSync(join(roots.run, 'runtime'));
  } catch {
    // no runtime state yet
  }
  return { mounts: mountsUnder(roots.root), steps, containers };
}

const NOTHING = { mounts: [], steps: [], containers: [] };

function stepLines(output: string): string[] {
  return output.split('\n').filter((l) => l.startsWith('Step '));
}
function cachedCount(output: string): number {
  return output.split('\n').filter((l) => l === ' ---> Using cache').length;
}
function builtId(output: string): string {
  const m = /Successfully built ([0-9a-f]{12})/.exec(output);
  assert.ok(m, output);
  return m[1] ?? '';
}

/** Compressed sizes of an image's layers, from its manifest in the content store. */
function layerSizes(image: string): number[] {
  const descriptor = JSON.parse(ok('inspect', '-f', '{{json .Descriptor}}', image)) as { digest: string };
  const hex = descriptor.digest.replace('sha256:', '');
  const manifest = JSON.parse(readFileSync(join(roots.root, 'content', 'blobs', 'sha256', hex), 'utf8')) as {
    layers: { size: number }[];
  };
  return manifest.layers.map((l) => l.size);
}

const SIX_STEPS = (last: string) =>
  [
    'FROM busybox',
    'ENV APP_HOME=/app GREETING=hello',
    'COPY app.txt /app/app.txt',
    'RUN echo built > /app/built.txt',
    'WORKDIR /app',
    `RUN ${last}`,
  ].join('\n') + '\n';

describe('paas build', () => {
  before(() => {
    ok('image', 'bootstrap', 'busybox');
  });
  after(() => {
    const left = leftovers();
    roots.cleanup();
    assert.deepEqual(left, NOTHING, 'build left something behind');
  });

  it('builds a single-stage image that runs with its files, env, cmd, user and workdir', () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'ENV GREETING=hello',
        'COPY hello.txt /srv/hello.txt',
        "RUN echo 'app:x:1234:1234::/srv:/bin/sh' >> /etc/passwd && echo touched > /srv/touched.txt",
        'USER app',
        'WORKDIR /srv',
        'CMD ["cat", "/srv/hello.txt"]',
        '',
      ].join('\n'),
      'hello.txt': 'hi from the context\n',
    });
    const out = ok('build', '-t', 'single:1', dir);
    assert.match(out, /^Sending build context to Docker daemon {2}\d+(\.\d+)?kB\n/);
    assert.deepEqual(stepLines(out), [
      'Step 1/7 : FROM busybox',
      'Step 2/7 : ENV GREETING=hello',
      'Step 3/7 : COPY hello.txt /srv/hello.txt',
      "Step 4/7 : RUN echo 'app:x:1234:1234::/srv:/bin/sh' >> /etc/passwd && echo touched > /srv/touched.txt",
      'Step 5/7 : USER app',
      'Step 6/7 : WORKDIR /srv',
      'Step 7/7 : CMD ["cat", "/srv/hello.txt"]',
    ]);
    assert.match(out, / ---> Running in [0-9a-f]{12}\n/);
    assert.match(out, /Removing intermediate container [0-9a-f]{12}\n/);
    assert.match(out, /Successfully built [0-9a-f]{12}\nSuccessfully tagged single:1\n$/);

    assert.equal(ok('run', '--rm', 'single:1'), 'hi from the context\n');
    assert.equal(ok('run', '--rm', 'single:1', 'cat', '/srv/touched.txt'), 'touched\n');
    assert.equal(ok('run', '--rm', 'single:1', 'sh', '-c', 'echo $GREETING $(id -u) $(pwd)'), 'hello 1234 /srv\n');
    assert.equal(ok('inspect', '-f', '{{.Config.User}} {{.Config.WorkingDir}}', 'single:1'), 'app /srv\n');
    assert.equal(ok('inspect', '-f', '{{json .Config.Cmd}}', 'single:1'), '["cat","/srv/hello.txt"]\n');
    assert.match(ok('inspect', '-f', '{{json .Config.Env}}', 'single:1'), /"GREETING=hello"/);
    const history = ok('history', '--no-trunc', 'single:1');
    assert.match(history, /\/bin\/sh -c #\(nop\) +CMD \["cat" "\/srv\/hello.txt"\]/);
    assert.match(history, /\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/srv\/hello.txt/);
    assert.match(history, /\/bin\/sh -c echo 'app:x:1234/);
  });

  it('makes a layer under 1 KiB for a step that touches one small file', () => {
    const dir = context({
      Dockerfile: 'FROM busybox\nRUN echo one > /one.txt\nCOPY small.txt /small.txt\n',
      'small.txt': 'x\n',
    });
    ok('build', '-t', 'small', dir);
    const sizes = layerSizes('small');
    assert.equal(sizes.length, 3, 'busybox + RUN + COPY');
    for (const size of sizes.slice(1)) assert.ok(size < 1024, `layer of ${size} bytes`);
  });

  it('reuses every step on a rebuild, the earlier steps when only the last RUN changes', () => {
    const dir = context({ Dockerfile: SIX_STEPS('echo first > /app/last.txt'), 'app.txt': 'v1\n' });
    const first = ok('build', '-t', 'six', dir);
    assert.equal(cachedCount(first), 0);
    const again = ok('build', '-t', 'six', dir);
    assert.equal(cachedCount(again), 5, again);
    assert.equal(builtId(again), builtId(first));

    writeFileSync(join(dir, 'Dockerfile'), SIX_STEPS('echo second > /app/last.txt'));
    const last = ok('build', '-t', 'six', dir);
    assert.equal(cachedCount(last), 4, last);
    assert.match(last, /Step 6\/6 : RUN echo second > \/app\/last.txt\n ---> Running in/);
    assert.equal(ok('run', '--rm', 'six', 'cat', '/app/last.txt', '/app/app.txt'), 'second\nv1\n');
  });

  it('busts the cache from a COPY whose file changed, but not when only its mtime did', () => {
    const dir = context({ Dockerfile: SIX_STEPS('echo x > /app/x'), 'app.txt': 'v1\n' });
    ok('build', dir);
    utimesSync(join(dir, 'app.txt'), new Date(2000, 0, 1), new Date(2000, 0, 1));
    assert.equal(cachedCount(ok('build', dir)), 5);
    writeFileSync(join(dir, 'app.txt'), 'v2\n');
    const out = ok('build', '-t', 'copied', dir);
    assert.equal(cachedCount(out), 1, 'only ENV comes from the cache');
    assert.match(out, /Step 3\/6 : COPY app.txt \/app\/app.txt\n ---> [0-9a-f]{12}\n/);
    assert.equal(ok('run', '--rm', 'copied', 'cat', '/app/app.txt'), 'v2\n');
  });

  it('rebuilds everything with --no-cache', () => {
    const dir = context({ Dockerfile: SIX_STEPS('echo y > /app/y'), 'app.txt': 'v1\n' });
    ok('build', dir);
    const out = ok('build', '--no-cache', dir);
    assert.equal(cachedCount(out), 0);
    assert.equal(stepLines(out).length, 6);
  });

  it('builds multi-stage images, and only the stages --target needs', () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox AS base',
        'RUN echo base > /base.txt',
        'FROM base AS builder',
        'RUN echo artifact > /artifact.txt',
        'FROM busybox AS unrelated',
        'RUN echo never > /never.txt',
        'FROM busybox',
        'COPY --from=builder /artifact.txt /base.txt /out/',
        'CMD ["cat", "/out/artifact.txt"]',
        '',
      ].join('\n'),
    });
    const out = ok('build', '-t', 'multi', dir);
    assert.doesNotMatch(out, /never/);
    assert.equal(stepLines(out).length, 7, out);
    assert.equal(ok('run', '--rm', 'multi'), 'artifact\n');
    assert.equal(ok('run', '--rm', 'multi', 'cat', '/out/base.txt'), 'base\n');

    const target = ok('build', '--target', 'base', '-t', 'only-base', dir);
    assert.deepEqual(stepLines(target), ['Step 1/2 : FROM busybox AS base', 'Step 2/2 : RUN echo base > /base.txt']);
    const unknown = run('build', '--target', 'nope', dir);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /failed to reach build target nope in Dockerfile/);
  });

  it('fails a RUN with Docker message, leaves nothing behind and keeps the steps before in the cache', () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo ok > /ok\nRUN false\n' });
    const r = run('build', '-t', 'broken', dir);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "Error: The command '/bin/sh -c false' returned a non-zero code: 1\n");
    assert.deepEqual(leftovers(), NOTHING);
    assert.equal(run('inspect', 'broken').status, 1, 'no image is tagged');
    assert.equal(ok('ps', '-aq'), '');
    const again = run('build', '-t', 'broken', dir);
    assert.equal(again.status, 1);
    assert.match(again.stdout, /Step 2\/3 : RUN echo ok > \/ok\n ---> Using cache\n/);
  });

  it('cleans up when interrupted with SIGINT during a RUN', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo started; sleep 3607\n' });
    const child = spawn(PAAS, ['build', dir], { env: roots.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 30_000;
    // the RUN's own line, not the step line that names it
    while (!/^started$/m.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(output, /^started$/m);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 130, output);
    assert.deepEqual(leftovers(), NOTHING);
    assert.equal(spawnSync('pgrep', ['-f', 'sleep 3607']).status, 1, 'the step command still runs');
  });

  it('reports Dockerfile syntax errors with line and column', () => {
    const dir = context({ Dockerfile: 'FROM busybox\nCPOY a b\n' });
    const r = run('build', dir);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'Error: Dockerfile:2:1: unknown instruction: CPOY (did you mean COPY?)\n');
  });

  it('respects .dockerignore, unpacks local tar archives with ADD, and fails clearly for URLs', () => {
    const dir = context({
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nADD bundle.tar.gz /unpacked/\n',
      '.dockerignore': 'secret.txt\nlogs/\n',
      'secret.txt': 'nope',
      'logs/a.log': 'nope',
      'kept.txt': 'kept',
      'tree/inner.txt': 'inner\n',
    });
    execFileSync('tar', ['czf', join(dir, 'bundle.tar.gz'), '-C', join(dir, 'tree'), '.']);
    ok('build', '-t', 'ignored', dir);
    const listing = ok('run', '--rm', 'ignored', 'sh', '-c', 'ls -a /ctx; cat /unpacked/inner.txt');
    assert.match(listing, /kept\.txt/);
    assert.doesNotMatch(listing, /secret|logs/);
    assert.match(listing, /inner\n$/);

    const missing = context({
      Dockerfile: 'FROM busybox\nCOPY secret.txt /\n',
      '.dockerignore': 'secret.txt\n',
      'secret.txt': 's',
    });
    const r = run('build', missing);
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      'Error: COPY failed: file not found in build context or excluded by .dockerignore: stat secret.txt: file does not exist\n',
    );
    const url = run('build', context({ Dockerfile: 'FROM busybox\nADD https://example.com/x /x\n' }));
    assert.equal(url.status, 1);
    assert.match(url.stderr, /cannot fetch https:\/\/example.com\/x: remote sources are not supported/);
  });

  it('passes build args to RUN and substitutions, with their values in the cache key', () => {
    const dir = context({
      Dockerfile:
        'FROM busybox\nARG NAME=world\nARG FROMENV\nRUN echo "hello $NAME $FROMENV" > /greeting\nLABEL name=$NAME\n',
    });
    ok('build', '-t', 'args', dir);
    assert.equal(ok('run', '--rm', 'args', 'cat', '/greeting'), 'hello world \n');
    const out = paas(['build', '-t', 'args', '--build-arg', 'NAME=paas', '--build-arg', 'FROMENV', dir], {
      ...roots.env,
      FROMENV: 'from-env',
    });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /Step 4\/5 : RUN echo "hello \$NAME \$FROMENV" > \/greeting\n ---> Running in/);
    assert.equal(ok('run', '--rm', 'args', 'cat', '/greeting'), 'hello paas from-env\n');
    assert.equal(ok('inspect', '-f', '{{json .Config.Labels}}', 'args'), '{"name":"paas"}\n');
    assert.match(ok('history', '--no-trunc', 'args'), /\|2 FROMENV=from-env NAME=paas \/bin\/sh -c echo/);
  });

  it('treats cache entries whose images were pruned as misses', () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo pruned > /p\n' });
    const first = builtId(ok('build', dir));
    ok('image', 'prune', '-f');
    const again = ok('build', '-t', 'after-prune', dir);
    assert.equal(cachedCount(again), 0, again);
    assert.notEqual(builtId(again), '');
    assert.equal(ok('run', '--rm', 'after-prune', 'cat', '/p'), 'pruned\n');
    void first;
  });

  it('-q prints only the image id; --label labels the result', () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo q > /q\n' });
    const out = ok('build', '-q', '--label', 'team=core', '-t', 'quiet', dir);
    assert.match(out, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(ok('inspect', '-f', '{{json .Config.Labels}}', 'quiet'), '{"team":"core"}\n');
  });

  it('builds a multi-stage node app', () => {
    ok('image', 'bootstrap', 'node');
    const dir = context({
      Dockerfile: [
        'FROM node:20 AS build',
        'WORKDIR /src',
        'COPY package.json index.js ./',
        "RUN node -e \"require('fs').writeFileSync('dist.js', 'console.log(\\\"built by node\\\")')\"",
        'FROM node:20',
        'WORKDIR /app',
        'COPY --from=build /src/dist.js /src/package.json ./',
        'CMD ["node", "dist.js"]',
        '',
      ].join('\n'),
      'package.json': '{"name":"app","version":"1.0.0"}\n',
      'index.js': 'console.log("source")\n',
    });
    ok('build', '-t', 'nodeapp', dir);
    assert.equal(ok('run', '--rm', 'nodeapp'), 'built by node\n');
    assert.equal(ok('inspect', '-f', '{{.Config.WorkingDir}}', 'nodeapp'), '/app\n');
  });
});
