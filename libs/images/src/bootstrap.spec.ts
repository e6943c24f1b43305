/**
 * What `paas image bootstrap postgres redis` says on a host that lacks what the images are made
 * from. The images themselves, run by the engine, are tested in e2e/images/service-images.spec.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BASE_IMAGES, BootstrapError, bootstrapImage } from './bootstrap';
import { ImageService, imageRoots } from './service';

describe('bootstrapImage on a host without the binaries', () => {
  let dir: string;
  let images: ImageService;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paas-bootstrap-spec-'));
    images = await ImageService.open(imageRoots(join(dir, 'root')));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A fake `/usr/lib/postgresql/15` holding only the named tools. */
  function postgresHome(name: string, tools: string[]): string {
    const home = join(dir, name, '15');
    mkdirSync(join(home, 'bin'), { recursive: true });
    for (const tool of tools) writeFileSync(join(home, 'bin', tool), '#!/bin/sh\n', { mode: 0o755 });
    return home;
  }

  it('lists postgres and redis among the base images', () => {
    assert.deepEqual([...BASE_IMAGES], ['busybox', 'node', 'python', 'postgres', 'redis', 'debian']);
  });

  it('names the missing PostgreSQL tools and the package that has them, and stores nothing', async () => {
    const none = postgresHome('none', []);
    await assert.rejects(
      bootstrapImage(images, 'postgres', { postgres: none }),
      (err: unknown) =>
        err instanceof BootstrapError &&
        err.message ===
          `${none}/bin lacks postgres, initdb, pg_ctl, pg_isready, psql, pg_dump, pg_restore; install it with: apt-get install postgresql-15`,
    );
    const serverOnly = postgresHome('server-only', ['postgres', 'initdb', 'pg_ctl']);
    await assert.rejects(
      bootstrapImage(images, 'postgres', { postgres: serverOnly }),
      new BootstrapError(
        `${serverOnly}/bin lacks pg_isready, psql, pg_dump, pg_restore; install it with: apt-get install postgresql-client-15`,
      ),
    );
    assert.deepEqual(await images.list(), []);
  });

  it('names redis-server, or redis-cli beside it, and the package to install', async () => {
    const missing = join(dir, 'no-redis', 'redis-server');
    await assert.rejects(
      bootstrapImage(images, 'redis', { redisServer: missing }),
      new BootstrapError(`${missing} not found; install it with: apt-get install redis-server`),
    );
    mkdirSync(join(dir, 'redis-only'), { recursive: true });
    const lone = join(dir, 'redis-only', 'redis-server');
    writeFileSync(join(dir, 'redis-only', 'redis-check-rdb'), '#!/bin/sh\n', { mode: 0o755 });
    symlinkSync('redis-check-rdb', lone);
    await assert.rejects(
      bootstrapImage(images, 'redis', { redisServer: lone }),
      new BootstrapError(
        `${join(dir, 'redis-only', 'redis-cli')} not found; install it with: apt-get install redis-server`,
      ),
    );
    assert.deepEqual(await images.list(), []);
  });
});
