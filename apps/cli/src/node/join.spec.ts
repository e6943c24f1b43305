/**
 * `paas node join`'s first three steps against a real TLS server on loopback: a leaf of a CA
 * the spec makes, and a second CA for the man in the middle. The api there is a small fake of
 * the join route; the CA pinning and what is written are the real ones.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type PlatformCa, ensureLeaf, ensurePlatformCa } from '@paas/platform/tls';
import type { CliIo } from '../io';
import { runCli } from '../program';
import { CaPinError, pinnedCa } from './ca-pin';
import { joinNode } from './join';
import { nodeFiles, readNodeSettings } from './settings';

const TOKEN = `pjoin_${'t'.repeat(40)}`;
const USED = `pjoin_${'u'.repeat(40)}`;

interface FakeControlPlane {
  readonly url: string;
  /** The join requests it received: their Authorization and body. */
  readonly joins: { authorization: string | undefined; body: unknown }[];
  close(): Promise<void>;
}

/** An https server presenting a leaf of `presented`, answering GET /api/ca with `served`'s certificate. */
async function controlPlane(dir: string, presented: PlatformCa, served: PlatformCa): Promise<FakeControlPlane> {
  const leaf = await ensureLeaf(dir, presented, 'api', { commonName: 'paas api', sans: ['127.0.0.1'] });
  const joins: FakeControlPlane['joins'] = [];
  const server: Server = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/api/ca') {
        res.writeHead(200, { 'content-type': 'application/x-pem-file' });
        return res.end(served.cert);
      }
      if (req.method === 'POST' && req.url === '/api/nodes/join') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { name: string };
        joins.push({ authorization: req.headers.authorization, body });
        res.setHeader('content-type', 'application/json');
        if (req.headers.authorization === `Bearer ${USED}`) {
          res.statusCode = 401;
          return res.end(JSON.stringify({ code: 'unauthorized', message: 'join token already used' }));
        }
        res.statusCode = 201;
        return res.end(
          JSON.stringify({
            name: body.name,
            nodeToken: `paas_${'n'.repeat(40)}`,
            apiUrl: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
            registry: { address: '10.0.0.1:5000', username: 'paas-node', password: 'secret' },
          }),
        );
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    joins,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('paas node join', () => {
  let base: string;
  let ca: PlatformCa;
  let other: PlatformCa;
  let honest: FakeControlPlane;
  let middle: FakeControlPlane;
  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'paas-node-join-'));
    ca = await ensurePlatformCa(join(base, 'ca'));
    other = await ensurePlatformCa(join(base, 'other-ca'));
    honest = await controlPlane(join(base, 'ca'), ca, ca);
    // in the middle: its own certificate, relaying the real CA's certificate at /api/ca
    middle = await controlPlane(join(base, 'other-ca'), other, ca);
  });
  after(async () => {
    await honest?.close();
    await middle?.close();
    rmSync(base, { recursive: true, force: true });
  });

  const cli = async (root: string, argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const io: CliIo = {
      env: { PAAS_ROOT: root, PAAS_RUN: join(root, 'run'), HOME: base },
      out: (s) => (out += s),
      err: (s) => (err += s),
    };
    return { code: await runCli(argv, io), out, err };
  };
  const io = (root: string): CliIo => ({
    env: { PAAS_ROOT: root, PAAS_RUN: join(root, 'run'), HOME: base },
    out: () => undefined,
    err: () => undefined,
  });

  it('keeps the CA only when its hash is the one given', async () => {
    assert.equal(await pinnedCa(honest.url, ca.hash), ca.cert);
    await assert.rejects(
      pinnedCa(honest.url, other.hash),
      (err: Error) =>
        err instanceof CaPinError &&
        err.message ===
          `the control plane's CA is ${ca.hash}, not the ${other.hash} given: a man in the middle or the wrong address; nothing was changed`,
    );
    await assert.rejects(
      pinnedCa('https://127.0.0.1:1', ca.hash),
      /cannot fetch the control plane's CA .*ECONNREFUSED/,
    );
  });

  it('exits 1 on a CA hash that does not match, writing nothing and sending no token', async () => {
    const root = join(base, 'mismatch');
    const res = await cli(root, ['node', 'join', honest.url, '--token', TOKEN, '--ca-hash', other.hash]);
    assert.equal(res.code, 1);
    assert.equal(
      res.err,
      `Error: the control plane's CA is ${ca.hash}, not the ${other.hash} given: a man in the middle or the wrong address; nothing was changed\n`,
    );
    assert.equal(existsSync(join(root, 'node')), false);
    assert.equal(honest.joins.length, 0);
  });

  it('sends the token to no one but a server of the pinned CA, even when the right CA is relayed', async () => {
    const root = join(base, 'middle');
    const res = await cli(root, ['node', 'join', middle.url, '--token', TOKEN, '--ca-hash', ca.hash]);
    assert.equal(res.code, 1);
    assert.match(res.err, /not signed by a trusted CA/);
    assert.equal(middle.joins.length, 0, 'the token never reached it');
    assert.equal(existsSync(join(root, 'node')), false);
  });

  it('joins: the pinned CA, the 0600 credential and the settings under $PAAS_ROOT/node', async () => {
    const root = join(base, 'joined');
    const settings = await joinNode(io(root), honest.url, {
      token: TOKEN,
      caHash: ca.hash,
      name: 'Node-7',
      address: '10.0.0.7',
    });
    assert.deepEqual(honest.joins.at(-1), {
      authorization: `Bearer ${TOKEN}`,
      body: { name: 'node-7', address: '10.0.0.7' },
    });
    const files = nodeFiles(root);
    assert.equal(readFileSync(files.ca, 'utf8'), ca.cert);
    assert.equal(readFileSync(files.token, 'utf8'), `paas_${'n'.repeat(40)}\n`);
    assert.equal(statSync(files.token).mode & 0o777, 0o600);
    assert.equal(statSync(files.settings).mode & 0o777, 0o600);
    assert.deepEqual(await readNodeSettings(root), settings);
    assert.deepEqual(
      { ...settings, joinedAt: undefined },
      {
        name: 'node-7',
        apiUrl: honest.url,
        address: '10.0.0.7',
        caHash: ca.hash,
        registry: { address: '10.0.0.1:5000', username: 'paas-node', password: 'secret' },
        joinedAt: undefined,
      },
    );
    const again = await cli(root, ['node', 'join', honest.url, '--token', TOKEN, '--ca-hash', ca.hash]);
    assert.equal(again.code, 1);
    assert.match(again.err, /already joined .* as node node-7 .*`paas node up`, or join again with --force/);
  });

  it('says why the api refused, and writes nothing', async () => {
    const root = join(base, 'used');
    const res = await cli(root, ['node', 'join', honest.url, '--token', USED, '--ca-hash', ca.hash, '--name', 'n8']);
    assert.equal(res.code, 1);
    assert.match(res.err, /^Error: join token already used\n/);
    assert.equal(existsSync(join(root, 'node')), false);
  });

  it('refuses malformed flags before asking anything', async () => {
    const root = join(base, 'bad');
    for (const [argv, message] of [
      [['--token', 'nope', '--ca-hash', ca.hash], /invalid --token/],
      [['--token', TOKEN, '--ca-hash', 'abc'], /invalid --ca-hash 'abc'/],
      [['--token', TOKEN, '--ca-hash', ca.hash, '--address', 'host'], /invalid --address 'host'/],
      [['--ca-hash', ca.hash], /required option '--token <TOKEN>'/],
    ] as const) {
      const res = await cli(root, ['node', 'join', honest.url, ...argv]);
      assert.equal(res.code, 2, res.err);
      assert.match(res.err, message);
    }
    const plain = await cli(root, ['node', 'join', 'http://10.0.0.1:7000', '--token', TOKEN, '--ca-hash', ca.hash]);
    assert.equal(plain.code, 2);
    assert.match(plain.err, /must be https:\/\/ off loopback, not http:\/\/10\.0\.0\.1:7000/);
    assert.equal(existsSync(join(root, 'node')), false);
  });

  it('node up on a machine that never joined says so', async () => {
    const res = await cli(join(base, 'never'), ['node', 'up']);
    assert.equal(res.code, 1);
    assert.match(res.err, /has not joined a platform .*run `paas node join` first/);
  });
});
