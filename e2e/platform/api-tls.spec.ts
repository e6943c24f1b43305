/**
 * The api off loopback speaks TLS with a leaf of the platform CA, and its clients trust that
 * CA and nothing else: the api bundle (dist/apps/api) listens on the host end of a veth this
 * spec makes; the CLI (bin/paas) and git run in the namespace at the other end, as on another
 * machine, with the CA copied there as PAAS_CA_FILE. Without the CA, or trusting another
 * CA, they are refused and say why. Nothing here reaches beyond the veth.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePlatformCa } from '@paas/platform';
import { type LocalRedis, startLocalRedis } from '@paas/platform/testing';
import { PAAS, PaasProcess, tempRoots } from '../support/cli';
import { createInternet, pidInternet, removeInternet } from '../support/internet';
import { gitCommit, gitEnv, gitSync, waitFor } from '../support/platform';
import { type Daemon, startDaemon, stopDaemon } from './support/daemon';
import { callApi, readAdminToken } from './support/api';

const roots = tempRoots();
const base = join(roots.root, '..');
// "another machine": a namespace behind a /30 of the test's own
const net = pidInternet('tls', 'ptls', 64);
const { hostEnd } = net;

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command in the client namespace, without blocking this process. */
function inClient(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = base): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', net.ns, cmd, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('the api over TLS off loopback', () => {
  let redis: LocalRedis | undefined;
  let api: Daemon | undefined;
  let adminToken = '';
  const client = join(base, 'client');
  const caFile = join(client, 'ca.crt');
  const otherCaFile = join(client, 'other-ca.crt');
  const home = join(client, 'home');
  /** The CLI's environment on the other machine: its own (empty) root, the api's URL and token. */
  let cliEnv: NodeJS.ProcessEnv = {};
  const paas = (args: string[], env: NodeJS.ProcessEnv = cliEnv, cwd = client): Promise<Run> =>
    inClient(PAAS, args, env, cwd);

  before(async () => {
    createInternet(net);
    redis = await startLocalRedis(join(base, 'redis'));
    api = await startDaemon('api', 'dist/apps/api/main.js', {
      PAAS_ROOT: roots.root,
      PAAS_RUN: roots.run,
      PAAS_API_ADDR: `${hostEnd}:0`,
      PAAS_API_TLS_SANS: 'paas-api.test',
      REDIS_URL: redis.url,
      PAAS_BUILD_WORKERS: '0',
      PAAS_BRIDGE: roots.env.PAAS_BRIDGE,
      PAAS_SUBNET: roots.env.PAAS_SUBNET,
    });
    adminToken = readAdminToken(roots.root);
    mkdirSync(home, { recursive: true });
    copyFileSync(join(roots.root, 'platform', 'tls', 'ca.crt'), caFile);
    copyFileSync((await ensurePlatformCa(join(base, 'other-ca'))).certFile, otherCaFile);
    cliEnv = {
      ...gitEnv(home),
      PAAS_ROOT: join(client, 'root'),
      PAAS_RUN: join(client, 'run'),
      PAAS_API_URL: api.url,
      PAAS_API_TOKEN: adminToken,
      PAAS_CA_FILE: caFile,
    };
  });

  after(async () => {
    if (api) await stopDaemon(api);
    await redis?.stop().catch(() => undefined);
    removeInternet(net);
    roots.cleanup();
  });

  it('serves https on its address with a leaf of the platform CA it made (key 0600, directory 0700)', async () => {
    assert.match(api?.url ?? '', new RegExp(`^https://${hostEnd.replace(/\./g, '\\.')}:\\d+$`));
    const dir = join(roots.root, 'platform', 'tls');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
    const port = Number(new URL(api?.url ?? '').port);
    const peer = await new Promise<X509Certificate>((resolve, reject) => {
      const socket = connect(
        { host: hostEnd, port, ca: [readFileSync(caFile, 'utf8')], servername: 'paas-api.test' },
        () => {
          const cert = socket.getPeerX509Certificate();
          socket.end();
          if (cert && socket.authorized) resolve(cert);
          else reject(new Error(`not authorized: ${String(socket.authorizationError)}`));
        },
      );
      socket.once('error', reject);
    });
    assert.equal(peer.checkIP(hostEnd), hostEnd);
    assert.equal(peer.checkHost('paas-api.test'), 'paas-api.test');
  });

  it('answers the CLI on another machine that trusts the CA (PAAS_CA_FILE)', async () => {
    const created = await paas(['apps:create', 'tls-web']);
    assert.equal(created.status, 0, created.stderr);
    const list = await paas(['apps']);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /tls-web/);
  });

  for (const [what, env, said] of [
    [
      'without the CA',
      { PAAS_CA_FILE: undefined },
      /its TLS certificate is not signed by a trusted CA .*Node's default CAs/,
    ],
    [
      'trusting another CA',
      { PAAS_CA_FILE: otherCaFile },
      /its TLS certificate is not signed by a trusted CA .*other-ca\.crt/,
    ],
  ] as const) {
    it(`refuses the CLI ${what}, saying why`, async () => {
      const r = await paas(['apps'], { ...cliEnv, ...env });
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, /cannot reach the paas API at https:\/\//);
      assert.match(r.stderr, said);
    });
  }

  it('takes a git push over https with the CA apps:create gave git, and git without it is refused', async () => {
    const repo = join(client, 'repo');
    mkdirSync(repo, { recursive: true });
    gitSync(cliEnv, repo, 'init', '--quiet', '--initial-branch=main');
    const head = gitCommit(cliEnv, repo, { 'README.md': 'over TLS\n' }, 'first');
    const created = await paas(['apps:create', 'tls-git'], cliEnv, repo);
    assert.equal(created.status, 0, created.stderr);
    const remote = gitSync(cliEnv, repo, 'remote', 'get-url', 'paas');
    assert.match(remote, /^https:\/\/.*\/git\/tls-git\.git$/);
    const origin = new URL(remote).origin;
    assert.equal(gitSync(cliEnv, repo, 'config', '--get', `http.${origin}/.sslCAInfo`), caFile);
    // a tag is stored without a build (a branch would make a review app): the transport is what is tested here
    const pushed = await inClient('git', ['push', 'paas', 'HEAD:refs/tags/tls-check'], cliEnv, repo);
    assert.equal(pushed.status, 0, pushed.stderr);
    const listed = await inClient('git', ['ls-remote', 'paas', 'refs/tags/tls-check'], cliEnv, repo);
    assert.equal(listed.stdout.split('\t')[0], head);

    gitSync(cliEnv, repo, 'config', '--unset', `http.${origin}/.sslCAInfo`);
    const refused = await inClient('git', ['push', 'paas', 'HEAD:refs/tags/tls-again'], cliEnv, repo);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /SSL certificate problem|server certificate verification failed/);
  });

  it('comes up under paas up with its api off loopback: the probe, the node token and the agent trust the CA', async () => {
    const up = tempRoots();
    const paasUp = new PaasProcess(['up'], { ...up.env, PAAS_API_ADDR: `${hostEnd}:0` });
    try {
      const [, url = ''] = await paasUp.waitFor(/\n\s+api\s+(https:\/\/\S+)\s+pid \d+/, 120_000);
      assert.match(url, new RegExp(`^https://${hostEnd.replace(/\./g, '\\.')}:`));
      const ca = readFileSync(join(up.root, 'platform', 'tls', 'ca.crt'), 'utf8');
      const token = readAdminToken(up.root);
      await waitFor('the agent of paas up is up at the https api', 30_000, async () => {
        const nodes = (await callApi(url, token, 'GET', '/api/nodes', undefined, 200, ca)) as { state: string }[];
        return nodes.length === 1 && nodes[0]?.state === 'up';
      });
    } finally {
      paasUp.child.kill('SIGINT');
      await paasUp.exited;
      up.cleanup();
    }
  });
});
