/**
 * The platform's registry users: made once, kept 0600, idempotent, healed when the user store
 * loses them; the builder may push and delete, a node only pull (on a real token registry).
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegistryClient, RegistryClientError } from '../client/client';
import { type TestRegistry, errorCode, putImage, testRegistry } from '../spec-support';
import { PLATFORM_REGISTRY_USERS, ensurePlatformRegistryUsers, platformCredentialsPath } from './platform-users';
import { UserStore } from './users';

describe('platform registry users', () => {
  let reg: TestRegistry;
  let dir: string;
  before(async () => {
    reg = await testRegistry({ auth: 'token' });
    dir = join(reg.root, 'platform');
  });
  after(() => reg.dispose());

  it('makes each credential once, 0600, and gives the same on every later call', async () => {
    const first = await ensurePlatformRegistryUsers(reg.root, dir);
    assert.equal(first.builder.username, 'paas-builder');
    assert.equal(first.node.username, 'paas-node');
    assert.notEqual(first.builder.password, first.node.password);
    for (const role of ['builder', 'node'] as const) {
      const path = platformCredentialsPath(dir, role);
      assert.equal((await stat(path)).mode & 0o777, 0o600, path);
      assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), first[role]);
    }
    assert.deepEqual(await ensurePlatformRegistryUsers(reg.root, dir), first);
    const users = new UserStore(reg.root);
    assert.equal(await users.check('paas-builder', first.builder.password), 'delete');
    assert.equal(await users.check('paas-node', first.node.password), 'pull');
  });

  it('puts back a user the store lost or whose access was changed', async () => {
    const logins = await ensurePlatformRegistryUsers(reg.root, dir);
    const users = new UserStore(reg.root);
    await users.remove('paas-builder');
    await users.set('paas-node', logins.node.password, 'push');
    assert.deepEqual(await ensurePlatformRegistryUsers(reg.root, dir), logins);
    assert.equal(await users.check('paas-builder', logins.builder.password), 'delete');
    assert.equal(await users.check('paas-node', logins.node.password), PLATFORM_REGISTRY_USERS.node.access);
  });

  it('refuses a credentials file it cannot read, naming it', async () => {
    const other = join(reg.root, 'broken');
    await ensurePlatformRegistryUsers(reg.root, other);
    await writeFile(platformCredentialsPath(other, 'node'), 'paas-node:secret\n');
    await assert.rejects(
      ensurePlatformRegistryUsers(reg.root, other),
      new RegExp(`${platformCredentialsPath(other, 'node')}: expected \\{"username"`),
    );
  });

  it('lets the builder push and delete, and a node only pull', async () => {
    const logins = await ensurePlatformRegistryUsers(reg.root, dir);
    const builder = new RegistryClient(reg.host, { credentials: logins.builder });
    const node = new RegistryClient(reg.host, { credentials: logins.node });
    const scopes = (actions: string) => [`repository:apps/web:${actions}`];
    const push = await builder.request('/v2/apps/web/blobs/uploads/', { method: 'POST', scopes: scopes('pull,push') });
    assert.equal(push.status, 202);
    await push.body?.cancel();
    const token = (await (
      await fetch(`${reg.url}/token?scope=repository:apps/web:pull,push`, {
        headers: {
          Authorization: `Basic ${Buffer.from(`${logins.builder.username}:${logins.builder.password}`).toString('base64')}`,
        },
      })
    ).json()) as { token: string };
    await putImage(reg.url, 'apps/web', 'v1', {}, { Authorization: `Bearer ${token.token}` });

    const pulled = await node.request('/v2/apps/web/manifests/v1', { method: 'HEAD', scopes: scopes('pull') });
    assert.equal(pulled.status, 200);
    for (const [method, path, actions] of [
      ['POST', '/v2/apps/web/blobs/uploads/', 'pull,push'],
      ['DELETE', '/v2/apps/web/manifests/v1', '*'],
    ] as const) {
      await assert.rejects(
        node.request(path, { method, scopes: scopes(actions) }),
        (err: unknown) => err instanceof RegistryClientError && err.status === 403 && err.registryCode === 'DENIED',
      );
    }
    const removed = await builder.request('/v2/apps/web/manifests/v1', { method: 'DELETE', scopes: scopes('*') });
    assert.equal(removed.status, 202);
    await removed.body?.cancel();
    const gone = await fetch(`${reg.url}/v2/apps/web/manifests/v1`, { method: 'HEAD' });
    assert.equal(gone.status, 401, 'and nothing without a login');
    const anonymous = await fetch(`${reg.url}/v2/apps/web/tags/list`);
    assert.equal(await errorCode(anonymous), 'UNAUTHORIZED');
  });
});
