/**
 * Real apps end to end, with real package registries: the api (git receiver, in-process
 * build worker, scheduler), an agent and the router on one host, and "the internet" as a
 * network namespace of the test's own (a /30 in 198.19.0.0/16 behind a veth, no default
 * route, no resolver) running verdaccio 6.8.0 (no uplinks, storage in a temp dir) and a
 * PEP 503 simple index served by a node http server; both listen on the namespace's IP and
 * never look a name up. Build steps reach them by IP through the node's bridge and its NAT.
 *
 * A Node app depending on a package of verdaccio's (which pulls another) is pushed and
 * served through the router; a push of code only reuses the install layer; a new version of
 * one package downloads that tarball alone (the other comes from the app's npm cache
 * mount); a dependency that does not exist fails `npm ci` with its own output and the old
 * release keeps serving. A Python app installs a wheel the test made from the index named
 * by the PIP_INDEX_URL config var. "Docker Hub" is a `paas registry serve` in the namespace too
 * (token auth, anonymous pulls, `library/node:20-slim` made from `paas image bootstrap node`);
 * the platform registry is its pull-through cache, and a `FROM node:20-slim` Dockerfile app
 * serves. Builds run their RUN steps in the app's user namespace (the default): the RUN of
 * that Dockerfile sees the range in its uid_map, and the images hold the ids the Dockerfile
 * asked for (npm ci's files are 0:0, a chown 1000 is 1000), never the range's host ids.
 * Everything started is stopped and removed, even on failure.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type LocalRedis, startLocalRedis } from '@paas/platform/testing';
import { type RunningRegistry, startRegistry } from '@paas/registry';
import { type RunningApi, loadApiConfig, startApi } from '@paas/api/testing';
import { PaasProcess, WORKSPACE, cgroupsLeftSince, cliFor, isAlive, mountsUnder, tempRoots } from '../support/cli';
import { type Internet, createInternet, removeInternet } from '../support/internet';
import { type GitResult, gitAsync, gitCommit, gitEnv, gitSync, httpGet, waitFor } from '../support/platform';
import { callApi, readAdminToken } from './support/api';
import { type Daemon, agentCleanup, startDaemon, stopDaemon } from './support/daemon';

const startedAt = Date.now();
const roots = tempRoots();
const base = join(roots.root, '..');
const { ok, run } = cliFor(roots.env);
const bridge = roots.env.PAAS_BRIDGE ?? '';

// "the internet": a /30 of the test's own in 198.19.0.0/16, picked from the pid as
// e2e/builder/network.spec.ts does, in the other half of the third octet so the two never meet
const tag = process.pid % 10_000_000;
const prefix = `198.19.${128 | ((process.pid >> 6) & 127)}.${(process.pid & 63) << 2}`;
const hostEnd = prefix.replace(/\d+$/, (d) => String(Number(d) + 1));
const internetIp = prefix.replace(/\d+$/, (d) => String(Number(d) + 2));
const internet: Internet = { ns: `paas-ra${tag}`, veth: `pra${tag}`, hostEnd, ip: internetIp };
const NPM_REGISTRY = `http://${internetIp}:4873/`;
const PYPI = `http://${internetIp}:8000`;
const HUB = `${internetIp}:5000`;

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

const GIT_ENV = gitEnv(join(base, 'home'));
const gitOk = (dir: string, ...args: string[]): string => gitSync(GIT_ENV, dir, ...args);
const push = (dir: string): Promise<GitResult> => gitAsync(GIT_ENV, dir, 'push', 'paas', 'main');

/** npm of the host, with nothing of the host's configuration: its own cache and user config. */
function npm(dir: string, ...args: string[]): string {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier'], {
    cwd: dir,
    env: {
      PATH: process.env['PATH'],
      HOME: join(base, 'home'),
      npm_config_userconfig: join(base, 'home', '.npmrc'),
      npm_config_cache: join(base, 'npm-cache'),
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `npm ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function writeTree(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
}

/** Publishes a package to verdaccio from a directory of its own. */
function publish(name: string, version: string, files: Record<string, string>, dependencies = {}): void {
  const dir = join(base, 'packages', `${name}-${version}`);
  writeTree(dir, {
    ...files,
    'package.json': JSON.stringify({ name, version, main: 'index.js', dependencies }, null, 2),
  });
  npm(dir, 'publish', '--registry', NPM_REGISTRY);
}

/** A daemon in the "internet" namespace; resolves once `ready` appears in its output. */
async function inInternet(
  name: string,
  argv: string[],
  ready: RegExp,
): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn('ip', ['netns', 'exec', internet.ns, ...argv], {
    cwd: base,
    env: { PATH: process.env['PATH'], HOME: join(base, 'home') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor(`${name} to start`, 30_000, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${log}`);
    return ready.test(log);
  });
  return { child, log: () => log };
}

/** A minimal pure-python wheel, made with the host's python3 (zipfile, hashes in RECORD). */
function makeWheel(dir: string): { file: string; sha256: string } {
  const file = 'paas_e2e_hello-1.0.0-py3-none-any.whl';
  const script = `
import base64, hashlib, sys, zipfile
files = {
  'paas_e2e_hello/__init__.py': 'def hello():\\n    return "hello from a wheel"\\n',
  'paas_e2e_hello-1.0.0.dist-info/METADATA': 'Metadata-Version: 2.1\\nName: paas-e2e-hello\\nVersion: 1.0.0\\n',
  'paas_e2e_hello-1.0.0.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: paas-e2e\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
record = ''.join('%s,sha256=%s,%d\\n' % (n, base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b'=').decode(), len(c)) for n, c in files.items())
files['paas_e2e_hello-1.0.0.dist-info/RECORD'] = record + 'paas_e2e_hello-1.0.0.dist-info/RECORD,,\\n'
with zipfile.ZipFile(sys.argv[1], 'w') as z:
  for n, c in files.items(): z.writestr(n, c)
`;
  mkdirSync(dir, { recursive: true });
  sh('python3', ['-c', script, join(dir, file)]);
  const sha256 = sh('sha256sum', [join(dir, file)]).split(' ')[0] ?? '';
  return { file, sha256 };
}

/** Tarball requests in verdaccio's log (one "requested" line each; the answer is logged twice), in order. */
const tarballs = (log: string): string[] =>
  [...log.matchAll(/ requested 'GET ([^']*\/-\/[^']+\.tgz)'/g)].map((m) => m[1] ?? '');

describe('real apps: npm and pip against registries on "the internet"', { timeout: 600_000 }, () => {
  let registry: RunningRegistry | undefined;
  let redis: LocalRedis | undefined;
  let api: RunningApi | undefined;
  const daemons: Daemon[] = [];
  const servers: ChildProcess[] = [];
  let verdaccio: { child: ChildProcess; log: () => string };
  let pypi: { child: ChildProcess; log: () => string };
  let hub: { child: ChildProcess; log: () => string };
  let token = '';
  let routerUrl = '';
  let anchored = false;

  const api$ = (method: string, path: string, body?: unknown): Promise<unknown> =>
    callApi(api?.url ?? '', token, method, path, body);

  /** A new app with a git checkout whose `paas` remote is the api's receiver. */
  async function newApp(name: string): Promise<string> {
    await api$('POST', '/api/apps', { name });
    const dir = join(base, 'apps', name);
    mkdirSync(dir, { recursive: true });
    gitOk(dir, 'init', '--quiet', '--initial-branch=main');
    gitOk(dir, 'remote', 'add', 'paas', `${api?.url.replace('http://', `http://git:${token}@`)}/git/${name}.git`);
    writeFileSync(join(dir, '.gitignore'), 'node_modules/\n');
    return dir;
  }

  const commit = (dir: string, files: Record<string, string>, message: string): string =>
    gitCommit(GIT_ENV, dir, files, message);

  const serves = (app: string, body: string): Promise<boolean> =>
    waitFor(`the router serves "${body}" for ${app}`, 30_000, async () => {
      const res = await httpGet(`${routerUrl}/`, `${app}.localhost`, 5000);
      return res.status === 200 && res.body.trim() === body;
    });

  before(async () => {
    mkdirSync(join(base, 'home'), { recursive: true });
    ok('image', 'bootstrap', 'busybox', 'node', 'python');

    createInternet(internet);

    // verdaccio: no uplinks, no web UI, storage and users in the test's dir, an access log
    // on stdout; anyone reads, a logged-in user publishes
    const vdir = join(base, 'verdaccio');
    writeTree(vdir, {
      'config.yaml': [
        `storage: ${join(vdir, 'storage')}`,
        'auth:',
        '  htpasswd:',
        `    file: ${join(vdir, 'htpasswd')}`,
        '    max_users: 1',
        'uplinks: {}',
        'packages:',
        "  '**':",
        '    access: $all',
        '    publish: $authenticated',
        '    unpublish: $authenticated',
        'web:',
        '  enable: false',
        'log: { type: stdout, format: json, level: http }',
        '',
      ].join('\n'),
    });
    verdaccio = await inInternet(
      'verdaccio',
      [
        process.execPath,
        join(WORKSPACE, 'node_modules', 'verdaccio', 'bin', 'verdaccio'),
        '--config',
        join(vdir, 'config.yaml'),
        '--listen',
        NPM_REGISTRY,
      ],
      /http address/,
    );
    servers.push(verdaccio.child);
    const user = await fetch(`${NPM_REGISTRY}-/user/org.couchdb.user:tester`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'tester', password: 'e2e-secret', type: 'user', roles: [] }),
    });
    const { token: npmToken } = (await user.json()) as { token?: string };
    assert.ok(user.ok && npmToken, `adding verdaccio's user: ${user.status}`);
    writeFileSync(join(base, 'home', '.npmrc'), `//${internetIp}:4873/:_authToken=${npmToken}\n`);

    // a PEP 503 simple index of one wheel, bound to the namespace's IP
    const wheels = join(base, 'wheels');
    const wheel = makeWheel(wheels);
    const index =
      `const fs=require('fs'),path=require('path');` +
      `const s=require('http').createServer((q,r)=>{console.log('GET '+q.url);` +
      `if(q.url==='/simple/'||q.url==='/simple/paas-e2e-hello/'){r.setHeader('content-type','text/html');` +
      `return r.end('<html><body><a href="/files/${wheel.file}#sha256=${wheel.sha256}">${wheel.file}</a></body></html>')}` +
      `if(q.url==='/files/${wheel.file}')return r.end(fs.readFileSync(path.join(${JSON.stringify(wheels)},'${wheel.file}')));` +
      `r.statusCode=404;r.end('not found\\n')});` +
      `s.listen(8000,'${internetIp}',()=>console.log('listening'))`;
    pypi = await inInternet('the simple index', [process.execPath, '-e', index], /listening/);
    servers.push(pypi.child);

    // "Docker Hub": its store filled through a registry on loopback, then served from the
    // namespace as Docker Hub serves public images (token auth, anonymous pulls)
    const hubRoot = join(base, 'hub');
    const filling = await startRegistry({ root: hubRoot, listen: { host: '127.0.0.1', port: 0 } });
    try {
      ok('tag', 'node:latest', `${filling.host}/library/node:20-slim`);
      // the registry answers in this process: the push must not block it
      const pushed = new PaasProcess(['push', '-q', `${filling.host}/library/node:20-slim`], roots.env);
      assert.equal((await pushed.exited).code, 0, pushed.output);
      ok('rmi', `${filling.host}/library/node:20-slim`);
    } finally {
      await filling.close();
    }
    hub = await inInternet(
      'Docker Hub',
      [
        join(WORKSPACE, 'bin', 'paas'),
        'registry',
        'serve',
        '--auth',
        'token',
        '--anonymous-pull',
        '--root',
        hubRoot,
        '--addr',
        HUB,
        '--access-log',
        // plain HTTP, as the cache's remote says: off loopback `registry serve` speaks https
        // with a leaf of its own root's CA unless told otherwise
        '--insecure-http',
      ],
      /listening on/,
    );
    servers.push(hub.child);

    registry = await startRegistry({
      root: join(base, 'registry'),
      listen: { host: '127.0.0.1', port: 0 },
      proxy: { remote: `http://${HUB}` },
    });
    redis = await startLocalRedis(join(base, 'redis'));
    const env = { ...roots.env, REDIS_URL: redis.url, PAAS_REGISTRY_ADDR: registry.host };
    api = await startApi(
      loadApiConfig({ ...env, PAAS_RECONCILE_MS: '250', PAAS_DRAIN_MS: '500', PAAS_STOP_TIMEOUT: '3' }),
    );
    token = readAdminToken(roots.root);
    daemons.push(
      await startDaemon('agent', 'apps/agent/src/main.ts', { ...env, PAAS_API_URL: api.url, PAAS_NODE_NAME: 'host' }),
    );
    const router = await startDaemon('router', 'apps/proxy/src/main.ts', {
      ...env,
      PAAS_ROUTER_WORKERS: '0',
      PAAS_ROUTER_ACCESS_LOG: 'off',
      PAAS_ROUTER_HEALTH_INTERVAL_MS: '500',
    });
    daemons.push(router);
    routerUrl = router.url;
    // the bridge exists once a container is on it; then it forwards (a node's ip_forward,
    // which the test's roots leave off) so that the build steps' NAT out works at all
    ok('run', '-d', '--name', 'anchor', 'busybox', 'sleep', '600');
    anchored = true;
    writeFileSync(`/proc/sys/net/ipv4/conf/${bridge}/forwarding`, '1');
    writeFileSync(`/proc/sys/net/ipv4/conf/${internet.veth}/forwarding`, '1');
  });

  after(async () => {
    const problems: string[] = [];
    if (anchored) run('rm', '-f', 'anchor');
    for (const daemon of daemons.reverse()) await stopDaemon(daemon);
    // the node's containers and its bridge, through the agent's own cleanup
    const cleanup = agentCleanup(roots.env);
    if (cleanup.status !== 0) problems.push(`agent cleanup: ${cleanup.stderr}`);
    await api?.app.close();
    await redis?.stop();
    await registry?.close();
    for (const server of servers) {
      if (server.pid && server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
    }
    removeInternet(internet);
    const alive = [...servers, ...daemons.map((d) => d.child)].filter((c) => c.pid && isAlive(c.pid));
    const left = { mounts: mountsUnder(roots.root), cgroups: cgroupsLeftSince(startedAt), alive: alive.length };
    run('network', 'prune');
    roots.cleanup();
    rmSync(base, { recursive: true, force: true });
    assert.deepEqual(left, { mounts: [], cgroups: [], alive: 0 }, 'the test left something behind');
    assert.deepEqual(sh('ip', ['netns', 'list']).includes(internet.ns), false, 'the internet namespace is gone');
    assert.deepEqual(problems, []);
  });

  const server = (greeting: string): string =>
    `const greet = require('paas-e2e-greet');\n` +
    `require('http').createServer((q, r) => r.end(greet('${greeting}') + '\\n')).listen(process.env.PORT);\n`;
  let nodeDir = '';

  it('a Node app depending on a package of verdaccio (which pulls another) serves after its first push', async (t) => {
    publish('paas-e2e-shout', '1.0.0', { 'index.js': "module.exports = (s) => s.toUpperCase() + '!';\n" });
    publish(
      'paas-e2e-greet',
      '1.0.0',
      { 'index.js': "const shout = require('paas-e2e-shout');\nmodule.exports = (n) => shout('hello ' + n);\n" },
      { 'paas-e2e-shout': '^1.0.0' },
    );
    nodeDir = await newApp('shop');
    writeTree(nodeDir, {
      '.npmrc': `registry=${NPM_REGISTRY}\n`,
      'package.json': JSON.stringify(
        { name: 'shop', version: '1.0.0', private: true, scripts: { start: 'node server.js' } },
        null,
        2,
      ),
      'server.js': server('paas'),
    });
    npm(nodeDir, 'install', '--package-lock-only', '--save-exact', 'paas-e2e-greet@1.0.0');
    const lock = readFileSync(join(nodeDir, 'package-lock.json'), 'utf8');
    assert.match(lock, new RegExp(`"resolved": "${NPM_REGISTRY}paas-e2e-shout/-/paas-e2e-shout-1.0.0.tgz"`));
    commit(nodeDir, {}, 'v1');

    const t0 = Date.now();
    const pushed = await push(nodeDir);
    assert.equal(pushed.status, 0, pushed.output);
    await serves('shop', 'HELLO PAAS!');
    t.diagnostic(`first push to serving: ${Date.now() - t0} ms`);
    assert.match(pushed.output, /npm ci --omit=dev/);
    assert.match(pushed.output, /added 2 packages/);
    // downloaded side by side, in either order
    assert.deepEqual(tarballs(verdaccio.log()).sort(), [
      '/paas-e2e-greet/-/paas-e2e-greet-1.0.0.tgz',
      '/paas-e2e-shout/-/paas-e2e-shout-1.0.0.tgz',
    ]);
    // npm ci ran as root of the app's user namespace (builds' default): the image holds root's
    // ids (0), not the range's host ids
    assert.equal(
      ok(
        'run',
        '--rm',
        '--network',
        'none',
        `${registry?.host}/shop:v1`,
        'stat',
        '-c',
        '%u:%g',
        'node_modules/paas-e2e-greet/index.js',
        'node_modules',
      ),
      '0:0\n0:0\n',
    );
    // the peer of the install step: npm ci of the same tree on the host, with a cold cache
    const peer = join(base, 'peer-ci');
    writeTree(peer, {
      '.npmrc': `registry=${NPM_REGISTRY}\n`,
      'package.json': readFileSync(join(nodeDir, 'package.json'), 'utf8'),
      'package-lock.json': lock,
    });
    const c0 = Date.now();
    npm(peer, 'ci', '--omit=dev', '--cache', join(peer, '.npm'));
    t.diagnostic(`peer: npm ci on the host against verdaccio, cold cache: ${Date.now() - c0} ms`);
    // its log comes through this process's event loop, which spawnSync held
    await waitFor(
      "verdaccio's log of the peer's two downloads",
      10_000,
      async () => tarballs(verdaccio.log()).length === 4,
    );
  });

  it('a push that changes only code reuses the dependency layer', async (t) => {
    const before = tarballs(verdaccio.log()).length;
    commit(nodeDir, { 'server.js': server('code') }, 'code only');
    const t0 = Date.now();
    const pushed = await push(nodeDir);
    assert.equal(pushed.status, 0, pushed.output);
    await serves('shop', 'HELLO CODE!');
    t.diagnostic(`code-only push to serving: ${Date.now() - t0} ms`);
    assert.match(pushed.output, /RUN --mount=type=cache,id=npm,target=\/root\/.npm npm ci[^\n]*\n[^\n]*Using cache/);
    assert.equal(tarballs(verdaccio.log()).length, before, 'nothing downloaded');
  });

  it('a new version of one package downloads that tarball alone: the other comes from the npm cache mount', async () => {
    publish(
      'paas-e2e-greet',
      '1.1.0',
      { 'index.js': "const shout = require('paas-e2e-shout');\nmodule.exports = (n) => shout('hi ' + n);\n" },
      { 'paas-e2e-shout': '^1.0.0' },
    );
    npm(nodeDir, 'install', '--package-lock-only', '--save-exact', 'paas-e2e-greet@1.1.0');
    commit(nodeDir, {}, 'greet 1.1.0');
    const before = tarballs(verdaccio.log()).length;
    const pushed = await push(nodeDir);
    assert.equal(pushed.status, 0, pushed.output);
    assert.match(pushed.output, /npm ci --omit=dev/);
    assert.doesNotMatch(
      pushed.output,
      /RUN --mount=type=cache,id=npm,target=\/root\/.npm npm ci[^\n]*\n[^\n]*Using cache/,
      'the install step ran',
    );
    await serves('shop', 'HI CODE!');
    assert.deepEqual(tarballs(verdaccio.log()).slice(before), ['/paas-e2e-greet/-/paas-e2e-greet-1.1.0.tgz']);
  });

  it('npm ci failing on a dependency that does not exist rejects the push with its output; the old release serves', async () => {
    const missing = `${NPM_REGISTRY}paas-e2e-missing/-/paas-e2e-missing-1.0.0.tgz`;
    const pkg = JSON.parse(readFileSync(join(nodeDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    const dependencies = { 'paas-e2e-missing': '1.0.0' };
    const lock = {
      name: 'shop',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'shop', version: '1.0.0', dependencies },
        'node_modules/paas-e2e-missing': {
          version: '1.0.0',
          resolved: missing,
          integrity: `sha512-${Buffer.alloc(64).toString('base64')}`,
        },
      },
    };
    commit(
      nodeDir,
      {
        'package.json': JSON.stringify({ ...pkg, dependencies }, null, 2),
        'package-lock.json': JSON.stringify(lock, null, 2),
      },
      'a dependency that does not exist',
    );
    const pushed = await push(nodeDir);
    assert.notEqual(pushed.status, 0, pushed.output);
    assert.match(pushed.output, /remote: +npm error 404 Not Found - GET http:\/\/[\d.]+:4873\/paas-e2e-missing/);
    assert.match(pushed.output, /returned a non-zero code/);
    assert.match(pushed.output, /! \[remote rejected\] main -> main \(build failed\)/);
    await serves('shop', 'HI CODE!');
  });

  it('a Python app installs a wheel from the simple index of its PIP_INDEX_URL and serves', async (t) => {
    const dir = await newApp('py');
    await api$('PATCH', '/api/apps/py/config-vars', {
      PIP_INDEX_URL: `${PYPI}/simple/`,
      PIP_TRUSTED_HOST: internetIp,
    });
    commit(
      dir,
      {
        'requirements.txt': 'paas-e2e-hello==1.0.0\n',
        'app.py': [
          'import http.server, os, socketserver',
          'from paas_e2e_hello import hello',
          'class Handler(http.server.BaseHTTPRequestHandler):',
          '    def do_GET(self):',
          '        body = (hello() + "\\n").encode()',
          '        self.send_response(200)',
          '        self.send_header("content-length", str(len(body)))',
          '        self.end_headers()',
          '        self.wfile.write(body)',
          'socketserver.ThreadingTCPServer.allow_reuse_address = True',
          'socketserver.ThreadingTCPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()',
          '',
        ].join('\n'),
      },
      'python v1',
    );
    const t0 = Date.now();
    const pushed = await push(dir);
    assert.equal(pushed.status, 0, pushed.output);
    await serves('py', 'hello from a wheel');
    t.diagnostic(`python first push to serving: ${Date.now() - t0} ms`);
    assert.match(pushed.output, /Successfully installed paas-e2e-hello-1\.0\.0/);
    assert.match(pypi.log(), /GET \/simple\/paas-e2e-hello\//);
    assert.match(pypi.log(), /GET \/files\/paas_e2e_hello-1\.0\.0-py3-none-any\.whl/);
  });

  it('a FROM node:20-slim Dockerfile app builds through the pull-through cache of "Docker Hub" and serves', async (t) => {
    // the node has two CPUs and shop and py hold one each: py makes room, as `apps:destroy` does
    await api$('DELETE', '/api/apps/py');
    const dir = await newApp('slim');
    commit(
      dir,
      {
        Dockerfile:
          'FROM node:20-slim\nCOPY server.js /app/server.js\n' +
          // a RUN step of a platform build runs in the app's user namespace (PAAS_BUILD_USERNS)
          'RUN cat /proc/self/uid_map > /app/uid_map && mkdir /app/data && chown 1000:1000 /app/data\n' +
          'CMD ["node", "/app/server.js"]\n',
        'server.js':
          "require('http').createServer((q, r) => r.end('slim ' + process.version + '\\n')).listen(process.env.PORT);\n",
      },
      'dockerfile v1',
    );
    const t0 = Date.now();
    const pushed = await push(dir);
    assert.equal(pushed.status, 0, pushed.output);
    await serves('slim', `slim ${process.version}`);
    t.diagnostic(`FROM node:20-slim first push to serving: ${Date.now() - t0} ms`);
    assert.match(pushed.output, /remote: +Step 1\/4 : FROM node:20-slim/);
    const image = `${registry?.host}/slim:v1`;
    const [inside, host, size] = ok('run', '--rm', '--network', 'none', image, 'cat', '/app/uid_map')
      .trim()
      .split(/\s+/)
      .map(Number);
    assert.ok(
      inside === 0 && (host ?? 0) >= 65536 && size === 65536,
      `the RUN step's uid_map: ${inside} ${host} ${size}`,
    );
    assert.equal(
      ok(
        'run',
        '--rm',
        '--network',
        'none',
        image,
        'stat',
        '-c',
        '%n %u:%g',
        '/app/uid_map',
        '/app/data',
        '/app/server.js',
      ),
      '/app/uid_map 0:0\n/app/data 1000:1000\n/app/server.js 0:0\n',
      'the image holds the ids the Dockerfile asked for',
    );
    assert.match(pushed.output, /remote: +20-slim: Pulling from library\/node/);
    // the cache fetched the image from "Docker Hub" (anonymously, with a token of its own)
    assert.match(hub.log(), /"GET \/v2\/library\/node\/manifests\/20-slim" 200/);
  });
});
