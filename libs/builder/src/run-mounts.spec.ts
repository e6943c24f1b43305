import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type RunMount, instructions, parse } from '@paas/dockerfile';
import type { SpecMount } from '@paas/engine';
import { BuildContext } from './build-context';
import { BuildError } from './errors';
import { CACHE_MOUNTS_DIR, bindChecksum, cacheMountDir, checkRunMounts, withRunMounts } from './run-mounts';

const base = mkdtempSync(join(tmpdir(), 'paas-run-mounts-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

async function contextOf(files: Record<string, string>): Promise<BuildContext> {
  const dir = join(base, `ctx${n++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return BuildContext.open(dir);
}

function mountCtx(context: BuildContext, scope = 'app-a'): Parameters<typeof withRunMounts>[1] {
  return { builderRoot: join(base, `builder${n++}`), scope, context, workdir: '/app' };
}

/** One `--mount` flag as the Dockerfile parser reads it. */
function parseMount(flag: string): RunMount {
  const [run] =
    instructions(parse(`FROM scratch\nRUN --mount=${flag} true\n`), { buildArgs: {} }).stages[0]?.instructions ?? [];
  assert.ok(run?.kind === 'run' && run.mounts[0]);
  return run.mounts[0];
}

const noStage = async (): Promise<string> => assert.fail('no bind expected');

describe('cache mount directories', () => {
  it('are a hash of scope and id below cache-mounts: no id leaves it, scopes do not meet', () => {
    const root = '/var/lib/paas/builder';
    for (const id of ['../../x', '/etc', '..', '', 'a/../../b', 'npm']) {
      const dir = cacheMountDir(root, 'app', id);
      assert.equal(dirname(dir), join(root, CACHE_MOUNTS_DIR), id);
      assert.match(dir.slice(dirname(dir).length + 1), /^[0-9a-f]{64}$/);
    }
    assert.notEqual(cacheMountDir(root, 'app-a', 'npm'), cacheMountDir(root, 'app-b', 'npm'));
    assert.equal(cacheMountDir(root, 'app-a', 'npm'), cacheMountDir(root, 'app-a', 'npm'));
  });
});

describe('withRunMounts', () => {
  it('binds a cache dir (made 0755 root on first use, the id defaulting to the target), a tmpfs, a context file', async () => {
    const context = await contextOf({ 'pkg/a.json': '{}' });
    const ctx = mountCtx(context);
    const staged: string[] = [];
    const mounts = [
      parseMount('type=cache,target=.npm'),
      parseMount('type=tmpfs,target=/scratch,size=1m'),
      parseMount('type=bind,source=pkg/a.json,target=/in/a.json'),
    ];
    const seen = await withRunMounts(
      mounts,
      ctx,
      async (match) => {
        staged.push(match.entry.rel);
        return '/staged/a.json';
      },
      async (spec) => spec,
    );
    const dir = cacheMountDir(ctx.builderRoot, 'app-a', '/app/.npm');
    assert.deepEqual(seen, [
      { destination: '/app/.npm', type: 'bind', source: dir, options: ['rbind', 'rprivate', 'rw'] },
      {
        destination: '/scratch',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'nodev', 'mode=1777', 'size=1048576'],
      },
      { destination: '/in/a.json', type: 'bind', source: '/staged/a.json', options: ['rbind', 'rprivate', 'ro'] },
    ] satisfies SpecMount[]);
    assert.deepEqual(staged, ['pkg/a.json']);
    assert.equal(statSync(dir).mode & 0o7777, 0o755);
    assert.equal(statSync(dirname(dir)).mode & 0o777, 0o700);
  });

  it('gives the mount uid, gid and mode to a new cache dir; a readonly cache is bound ro', async () => {
    const ctx = mountCtx(await contextOf({}));
    const [spec] = await withRunMounts(
      [parseMount('type=cache,target=/c,id=x,uid=1000,gid=1001,mode=0700,ro')],
      ctx,
      noStage,
      async (s) => s,
    );
    const st = statSync(cacheMountDir(ctx.builderRoot, 'app-a', 'x'));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1000, 1001, 0o700]);
    assert.deepEqual(spec?.options, ['rbind', 'rprivate', 'ro']);
  });

  it('sharing=locked: a second step waits until the first is done; the lock goes with the step', async () => {
    const ctx = mountCtx(await contextOf({}));
    const mounts = [parseMount('type=cache,target=/c,id=l,sharing=locked')];
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const firstIn = new Promise<void>((r) => (started = r));
    const first = withRunMounts(mounts, ctx, noStage, async () => {
      events.push('first in');
      started();
      await held;
      events.push('first out');
    });
    await firstIn;
    const second = withRunMounts(mounts, ctx, noStage, async () => {
      events.push('second in');
    });
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all([first, second]);
    assert.deepEqual(events, ['first in', 'first out', 'second in']);
    assert.deepEqual(
      readdirSync(join(ctx.builderRoot, CACHE_MOUNTS_DIR)).filter((f) => f.endsWith('.lock')),
      [],
    );
  });

  it('sharing=private: a step gets an instance no running step holds', async () => {
    const ctx = mountCtx(await contextOf({}));
    const mounts = [parseMount('type=cache,target=/c,id=p,sharing=private')];
    const outer = await withRunMounts(mounts, ctx, noStage, async ([a]) => {
      const inner = await withRunMounts(mounts, ctx, noStage, async ([b]) => b?.source);
      return [a?.source, inner];
    });
    const dir = cacheMountDir(ctx.builderRoot, 'app-a', 'p');
    assert.deepEqual(outer, [dir, `${dir}.1`]);
    const again = await withRunMounts(mounts, ctx, noStage, async ([a]) => a?.source);
    assert.equal(again, dir, 'a free instance is reused');
  });

  it('a failing step is not run twice and releases its lock', async () => {
    const ctx = mountCtx(await contextOf({}));
    const mounts = [parseMount('type=cache,target=/c,sharing=private')];
    let runs = 0;
    await assert.rejects(
      withRunMounts(mounts, ctx, noStage, async () => {
        runs++;
        throw new BuildError('step failed');
      }),
      /step failed/,
    );
    assert.equal(runs, 1);
    assert.deepEqual(
      readdirSync(join(ctx.builderRoot, CACHE_MOUNTS_DIR)).filter((f) => f.endsWith('.lock')),
      [],
    );
  });
});

describe('checkRunMounts', () => {
  const refused: Array<[string, RegExp]> = [
    ['type=secret,id=npmrc', /^RUN --mount=type=secret: secret mounts are not supported by this builder/],
    ['type=ssh', /^RUN --mount=type=ssh: ssh mounts are not supported by this builder/],
    ['type=bind,source=a,target=/a,rw', /^RUN --mount=type=bind,rw: writable bind mounts are not supported/],
    ['type=bind,from=build,source=/out,target=/a', /^RUN --mount=type=bind,from=build: bind mounts from a stage/],
    ['type=cache,from=build,target=/a', /^RUN --mount=type=cache,from=build: a cache mount seeded from a stage/],
    [
      'type=bind,source=missing,target=/a',
      /^RUN --mount=type=bind,source=missing failed: file not found in build context/,
    ],
    ['type=bind,source=secret.txt,target=/a', /file not found in build context or excluded by \.dockerignore/],
  ];
  for (const [flag, message] of refused) {
    it(`refuses ${flag} with the reason`, async () => {
      const context = await contextOf({ a: 'x', 'secret.txt': 's', '.dockerignore': 'secret.txt\n' });
      assert.throws(
        () => checkRunMounts([parseMount(flag)], context),
        (err: unknown) => err instanceof BuildError && message.test(err.message),
      );
    });
  }

  it('does not follow a context symlink out of the context', async () => {
    const context = await contextOf({});
    symlinkSync('../../../..', join(context.root, 'up'));
    assert.throws(() => checkRunMounts([parseMount('type=bind,source=up/etc/passwd,target=/p')], context), /not found/);
  });

  it('puts the content of bound files in the key, and nothing for other mounts', async () => {
    const one = await contextOf({ 'package.json': '{"a":1}' });
    const two = await contextOf({ 'package.json': '{"a":2}' });
    const bind = [parseMount('type=bind,source=package.json,target=/p.json')];
    assert.notEqual(bindChecksum(checkRunMounts(bind, one), one), bindChecksum(checkRunMounts(bind, two), two));
    const cache = [parseMount('type=cache,target=/c'), parseMount('type=tmpfs,target=/t')];
    assert.equal(bindChecksum(checkRunMounts(cache, one), one), undefined);
  });
});
