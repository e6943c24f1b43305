/**
 * `..`, '/' and other path tricks in every name a user gives the engine's CLI: image
 * references and tags, container names, volume specifications, the names inside a loaded
 * archive. Through the real bin/paas with temporary roots, each must be refused with a clear
 * error and Docker's exit code (125 for what `run`/`create`/`build` cannot parse, 1 for the
 * rest), and create or remove nothing: the files beside the store, the store's images and its
 * containers are compared before and after every attempt. (A NUL cannot reach the CLI: execve takes C strings.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { paas, tempRoots } from '../support/cli';

/** Every file below `dir` (but `skip`) with what it holds, to see that nothing changed. */
function listing(dir: string, skip: readonly string[] = []): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const child = rel === '' ? name : `${rel}/${name}`;
      if (skip.includes(child)) continue;
      const path = join(dir, child);
      const st = lstatSync(path);
      if (st.isDirectory()) {
        out.push(`${child}/`);
        walk(child);
      } else if (st.isSymbolicLink()) out.push(`${child} -> ${readlinkSync(path)}`);
      else out.push(`${child} ${createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)}`);
    }
  };
  walk('');
  return out;
}

describe('security: path tricks in names given to the engine CLI', () => {
  const roots = tempRoots();
  const base = dirname(roots.root);
  const context = join(base, 'context');
  let store: () => { images: string; containers: string };
  let storeBefore: ReturnType<typeof store>;

  before(() => {
    const boot = paas(['image', 'bootstrap', 'busybox'], roots.env);
    assert.equal(boot.status, 0, boot.stderr);
    const created = paas(['create', '--name', 'keep', 'busybox', 'true'], roots.env);
    assert.equal(created.status, 0, created.stderr);
    // Things an escaping name would reach: siblings of the store and of its directories.
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(base, 'outside', 'marker'), 'untouched');
    writeFileSync(join(base, 'x'), 'untouched');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), 'FROM busybox\n');
    // IDs and names only: CREATED columns ("2 seconds ago") change by themselves.
    store = () => ({
      images: paas(['images', '--no-trunc'], roots.env)
        .stdout.split('\n')
        .map((line) => line.split(/ {2,}/).slice(0, 3).join(' '))
        .join('\n'),
      containers: paas(['ps', '-aq', '--no-trunc'], roots.env).stdout,
    });
    storeBefore = store();
    assert.match(storeBefore.images, /^busybox latest sha256:/m);
    assert.match(storeBefore.containers, /^[0-9a-f]{64}$/m);
  });
  // Every image and container the store held is still there, and nothing was added.
  afterEach(() => assert.deepEqual(store(), storeBefore, 'the store changed'));
  after(() => {
    paas(['rm', '-f', 'keep'], roots.env);
    roots.cleanup();
  });

  /** Runs `args`; it must fail with `status` and a message matching `message`, touching nothing beside the store. */
  function refused(args: string[], status: number, message: RegExp): void {
    const before = listing(base, ['root', 'run']);
    const r = paas(args, roots.env);
    const what = `paas ${args.map((a) => JSON.stringify(a)).join(' ')}`;
    assert.equal(r.status, status, `${what}: ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.deepEqual(listing(base, ['root', 'run']), before, `${what} changed files beside the store`);
  }

  it('refuses image references and tags with .., / or empty components', () => {
    const invalid = /invalid reference format/;
    for (const target of ['../../x', '../x', 'a/../../b', 'x/..', '/abs', 'x//y', 'x:../y', 'x:..', 'x:a/b', '']) {
      refused(['tag', 'busybox', target], 1, invalid);
    }
    for (const ref of ['../x', 'a/../b', '/etc/passwd']) {
      refused(['pull', ref], 1, invalid);
      refused(['push', ref], 1, invalid);
    }
    for (const tag of ['../x', 'a/../b', 'x:../y']) {
      refused(
        ['build', '-t', tag, context],
        125,
        new RegExp(`invalid argument ".*" for "-t, --tag" flag: ${invalid.source}`),
      );
    }
  });

  it('finds no image or container by a name with .. or / in it, and removes nothing', () => {
    for (const name of ['..', '../x', '../../root', '../outside/marker', '.', '', 'keep/', 'sha256:..']) {
      refused(['rmi', name], 1, /No such image/);
      refused(['tag', name, 'fine:tag'], 1, /No such image/);
      refused(['history', name], 1, /No such image/);
      refused(['save', '-o', join(base, 'saved.tar'), name], 1, /No such image/);
      refused(['rm', '-f', name], 1, /No such container/);
      refused(['stop', name], 1, /No such container/);
      refused(['logs', name], 1, /No such container/);
      refused(['inspect', name], 1, /No such object/);
    }
  });

  it('refuses container names with .., / or a leading dot, from run, create and rename', () => {
    const invalid = /Invalid container name \(.*\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed/;
    for (const name of ['..', '.', '../x', 'a/b', '/x', '.hidden', 'x/../../y']) {
      refused(['run', '--name', name, 'busybox', 'true'], 125, invalid);
      refused(['create', '--name', name, 'busybox', 'true'], 125, invalid);
      refused(['rename', 'keep', name], 1, invalid);
    }
  });

  it('refuses volume sources that are relative names and mount paths that are not absolute', () => {
    // A source that is not absolute is a volume's name, as in Docker (`-v x:/x` is the named
    // volume x under the root's volumes/, e2e/engine/volumes.spec.ts); a relative path is not
    // a name, and never a host directory.
    for (const source of ['..', '../x', '../../etc', './x', 'a/../b', '.hidden']) {
      refused(
        ['run', '-v', `${source}:/x`, 'busybox', 'true'],
        125,
        /invalid characters for a local volume name.*If you intended to pass a host directory, use absolute path/,
      );
    }
    refused(['run', '-v', `${base}:../x`, 'busybox', 'true'], 125, /mount path must be absolute: \.\.\/x/);
    refused(
      ['run', '-v', `${base}/nonexistent/../outside:/x`, 'busybox', 'true'],
      125,
      /bind source path does not exist/,
    );
  });

  it('loads nothing from an archive whose names climb out', () => {
    const evil = join(base, 'evil');
    mkdirSync(evil);
    const manifests = [
      { Config: '../../../../etc/hostname', RepoTags: ['evil:latest'], Layers: [] },
      { Config: 'cfg.json', RepoTags: ['../../evil:latest'], Layers: ['../../../etc/passwd'] },
    ];
    for (const [i, manifest] of manifests.entries()) {
      writeFileSync(join(evil, 'manifest.json'), JSON.stringify([manifest]));
      writeFileSync(join(evil, 'cfg.json'), '{}');
      const archive = join(base, `evil${i}.tar`);
      execFileSync('tar', ['-cf', archive, '-C', evil, 'manifest.json', 'cfg.json']);
      refused(['load', '-i', archive], 1, /load: /);
    }
  });
});
