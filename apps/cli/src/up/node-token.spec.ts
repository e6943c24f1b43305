import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeApi } from '../platform/testing/fake-api';
import type { Token } from '@paas/api-types';
import { ensureNodeToken, nodeTokenPath } from './node-token';

describe('the node token of paas up', () => {
  let api: FakeApi;
  let base: string;
  before(async () => {
    api = await new FakeApi().start();
    base = mkdtempSync(join(tmpdir(), 'paas-node-token-'));
  });
  after(async () => {
    await api.close();
    rmSync(base, { recursive: true, force: true });
  });

  function rootWithAdmin(name: string): string {
    const root = join(base, name);
    mkdirSync(join(root, 'platform'), { recursive: true });
    writeFileSync(join(root, 'platform', 'admin.token'), `${api.adminToken}\n`, { mode: 0o600 });
    return root;
  }

  const nodeTokens = async (): Promise<Token[]> =>
    (
      (await (
        await fetch(`${api.url}/api/tokens`, { headers: { authorization: `Bearer ${api.adminToken}` } })
      ).json()) as Token[]
    ).filter((t) => t.node);

  it('is made once with the admin token, kept 0600, and reused', async () => {
    const root = rootWithAdmin('once');
    const path = await ensureNodeToken(root, api.url);
    assert.equal(path, nodeTokenPath(root));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const token = readFileSync(path, 'utf8').trim();
    assert.match(token, /^paas_[0-9A-Za-z]{40}$/);
    assert.notEqual(token, api.adminToken);
    assert.deepEqual(api.requests.at(-1)?.body, { name: 'paas up agent', node: true });
    const posts = api.requests.filter((r) => r.method === 'POST').length;
    await ensureNodeToken(root, api.url);
    assert.equal(readFileSync(path, 'utf8').trim(), token, 'the same token on the next start');
    assert.equal(api.requests.filter((r) => r.method === 'POST').length, posts, 'nothing made');
    assert.equal((await nodeTokens()).length, 1);
  });

  it('replaces a revoked or garbled one', async () => {
    const root = rootWithAdmin('revoked');
    writeFileSync(nodeTokenPath(root), `paas_${'r'.repeat(40)}\n`, { mode: 0o600 });
    const fresh = readFileSync(await ensureNodeToken(root, api.url), 'utf8').trim();
    assert.notEqual(fresh, `paas_${'r'.repeat(40)}`);
    writeFileSync(nodeTokenPath(root), 'garbage\n');
    const again = readFileSync(await ensureNodeToken(root, api.url), 'utf8').trim();
    assert.match(again, /^paas_[0-9A-Za-z]{40}$/);
    assert.equal(statSync(nodeTokenPath(root)).mode & 0o777, 0o600);
  });

  it('keeps a stored one without an admin token, and says what to do when there is none', async () => {
    const root = join(base, 'no-admin');
    mkdirSync(join(root, 'platform'), { recursive: true });
    await assert.rejects(
      ensureNodeToken(root, api.url),
      /no admin token in .*admin\.token; make one with `paas tokens:create NAME --node`/,
    );
    writeFileSync(nodeTokenPath(root), `paas_${'k'.repeat(40)}\n`, { mode: 0o600 });
    assert.equal(await ensureNodeToken(root, api.url), nodeTokenPath(root));
  });
});
