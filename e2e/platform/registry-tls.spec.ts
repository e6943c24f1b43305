/**
 * The platform registry over TLS under a real `paas up` (e2e/bench/paas-up.ts) whose api and
 * registry listen off loopback, on the host end of a veth this spec makes: the registry
 * serves HTTPS with a leaf of the platform CA the first start made, and everything that talks
 * to it trusts that CA, with no PAAS_INSECURE_REGISTRIES anywhere.
 *
 *   build worker  a git push builds and pushes the release image over TLS
 *   agent         pulls it over TLS (its ref removed from the shared store first) and serves
 *   CLI           on "another machine" (the namespace) logs in and pulls with the CA as
 *                 PAAS_CA_FILE; without it, or trusting another CA, it is refused, naming the
 *                 registry and why
 *   --insecure-http  `paas registry serve` off loopback stays plain HTTP when asked, and says
 *                 that clients must list it in PAAS_INSECURE_REGISTRIES
 *
 * Nothing here reaches beyond the veth; everything is stopped and removed, failed or not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePlatformCa } from '@paas/platform';
import { platformCredentialsPath } from '@paas/registry';
import { type PaasUp, get, pushApp, until, withPaasUp } from '../bench/paas-up';
import { PAAS, PaasProcess, tempRoots } from '../support/cli';
import { createInternet, pidInternet, removeInternet } from '../support/internet';

// "another machine": a namespace behind a /30 of the spec's own
const net = pidInternet('rtls', 'prtl', 128);
const { hostEnd } = net;
const HOST = 'site.localhost';

/** `cmd ARGS` in the namespace with `env` only; its status and output. */
function inNamespace(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string) {
  return spawnSync('ip', ['netns', 'exec', net.ns, cmd, ...args], { env, input, encoding: 'utf8', timeout: 120_000 });
}

/** `paas ARGS` against the platform; fails the test with its output. */
function cli(up: PaasUp, ...args: string[]): string {
  const r = spawnSync(PAAS, args, { env: up.env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `paas ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

describe('the platform registry over TLS off loopback', { timeout: 600_000 }, () => {
  before(() => createInternet(net));
  after(() => removeInternet(net));

  it('takes the build worker’s push, the agent’s pull and the CLI’s, all trusting the platform CA', async () => {
    await withPaasUp(
      {
        name: 'paas-e2e-registry-tls-',
        bridge: `prt${process.pid % 100000}`,
        subnet: `10.238.${process.pid % 250}.0/24`,
        images: ['busybox'],
        env: {
          PAAS_API_ADDR: `${hostEnd}:0`,
          PAAS_REGISTRY_ADDR: `${hostEnd}:0`,
          PAAS_REGISTRY_PROXY_REMOTE: 'none',
          PAAS_DRAIN_MS: '200',
          PAAS_STOP_TIMEOUT: '2',
        },
      },
      async (up) => {
        const registryUrl = /\n\s+registry\s+(\S+)/.exec(up.output())?.[1] ?? '';
        assert.match(registryUrl, new RegExp(`^https://${hostEnd.replace(/\./g, '\\.')}:\\d+$`), up.output());
        const registry = new URL(registryUrl).host;
        // the CLI takes the local admin token only for a loopback api
        up.env['PAAS_API_TOKEN'] = up.token;
        const root = up.env['PAAS_ROOT'] ?? '';
        const ref = `${registry}/site:v1`;

        // the build worker pushes over TLS, the release deploys and serves
        pushApp(up, 'site', { 'index.html': 'site v1\n' });
        await until(
          'the router serves the site',
          async () => (await get(up.router, HOST)).body === 'site v1\n',
          180_000,
        );

        // the agent pulls over TLS: the release's ref gone from the store it shares with the build
        cli(up, 'ps:scale', 'web=0', '-a', 'site');
        await until('no instance of the site', async () => (await get(up.router, HOST)).body !== 'site v1\n', 60_000);
        await until(
          'the stopped instance lets go of its image',
          async () => spawnSync(PAAS, ['rmi', ref], { env: up.env, encoding: 'utf8' }).status === 0,
          60_000,
          500,
        );
        const before = up.output().length;
        cli(up, 'ps:scale', 'web=1', '-a', 'site');
        await until('the site serves again', async () => (await get(up.router, HOST)).body === 'site v1\n', 180_000);
        assert.match(up.output().slice(before), new RegExp(`Pulled ${ref.replace(/[.]/g, '\\.')} `), up.output());

        // the CLI on another machine: its own root, the CA copied over as PAAS_CA_FILE
        const client = join(up.work, 'client');
        mkdirSync(client, { recursive: true });
        const caFile = join(client, 'ca.crt');
        copyFileSync(join(root, 'platform', 'tls', 'ca.crt'), caFile);
        const otherCa = (await ensurePlatformCa(join(client, 'other-ca'))).certFile;
        const login = JSON.parse(readFileSync(platformCredentialsPath(join(root, 'platform'), 'node'), 'utf8')) as {
          username: string;
          password: string;
        };
        const clientEnv = {
          PATH: process.env['PATH'],
          HOME: client,
          PAAS_ROOT: join(client, 'root'),
          PAAS_RUN: join(client, 'run'),
          PAAS_CA_FILE: caFile,
        };
        const paasLogin = (env: NodeJS.ProcessEnv) =>
          inNamespace(PAAS, ['login', registry, '-u', login.username, '--password-stdin'], env, login.password);
        for (const [what, env, said] of [
          ['without the CA', { ...clientEnv, PAAS_CA_FILE: undefined }, /Node's default CAs/],
          ['trusting another CA', { ...clientEnv, PAAS_CA_FILE: otherCa }, /other-ca\/ca\.crt/],
        ] as const) {
          const refused = paasLogin(env);
          assert.notEqual(refused.status, 0, `${what}: ${refused.stdout}`);
          assert.match(
            refused.stderr,
            new RegExp(
              `registry ${registry.replace(/[.]/g, '\\.')}: its TLS certificate is not signed by a trusted CA`,
            ),
            what,
          );
          assert.match(refused.stderr, said, what);
        }
        const loggedIn = paasLogin(clientEnv);
        assert.equal(loggedIn.status, 0, loggedIn.stderr);
        const pulled = inNamespace(PAAS, ['pull', ref], clientEnv);
        assert.equal(pulled.status, 0, pulled.stderr);
        assert.match(pulled.stdout, /Status: Downloaded newer image/);
      },
    );
  });

  it('serves plain HTTP off loopback with --insecure-http, warning that clients must list it', async () => {
    const roots = tempRoots();
    const serve = new PaasProcess(['registry', 'serve', '--addr', `${hostEnd}:0`, '--insecure-http'], roots.env);
    try {
      const [, url = ''] = await serve.waitFor(/registry listening on (\S+) /);
      assert.match(url, new RegExp(`^http://${hostEnd.replace(/\./g, '\\.')}:\\d+$`));
      await serve.waitFor(/warning: --insecure-http: plain HTTP .*PAAS_INSECURE_REGISTRIES/);
      const answer = await fetch(`${url}/v2/`);
      assert.equal(answer.status, 401, 'token auth still');
    } finally {
      await serve.stop();
      roots.cleanup();
    }
  });
});
