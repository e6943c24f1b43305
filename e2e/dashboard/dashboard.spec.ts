/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core)
 * against the real platform: the api in this process (REST, git receiver, an in-process
 * build worker, the scheduler) serving the built dashboard at `/`, a private redis-server, a
 * registry on loopback, a node agent on the host running instances under paas-shim on a
 * bridge of this spec's own, and the router (for the requests/s chart).
 *
 * In the browser: sign in with a token (a wrong one first), create an app, push it with git
 * and watch its build output stream in, see it listed as running, scale web 1 -> 3 with the
 * control, add and edit a config var, roll back, look at nodes and logs. Every page gets a
 * screenshot under e2e/artifacts/dashboard and an axe-core pass with no serious or critical
 * violation. Everything is removed at the end, failed or not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type LocalRedis, startLocalRedis } from '@paas/platform/testing';
import { type RunningRegistry, startRegistry } from '@paas/registry';
import { type Browser, type Page, type Response, chromium } from 'playwright-core';
import { type RunningApi, loadApiConfig, startApi } from '@paas/api/testing';
import { WORKSPACE, cgroupsLeftSince, cliFor, isAlive, containersUnder, mountsUnder, tempRoots } from '../support/cli';
import { type Answer, type GitResult, gitAsync as gitAsyncIn, gitEnv, gitSync, httpGet } from '../support/platform';
import { callApi, readAdminToken } from '../platform/support/api';
import { type Daemon, agentCleanup, startDaemon, stopDaemon } from '../platform/support/daemon';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(WORKSPACE, 'e2e', 'artifacts', 'dashboard');
const startedAt = Date.now();
const roots = tempRoots();
const base = join(roots.root, '..');
const { ok } = cliFor(roots.env);

const GIT_ENV = gitEnv(join(base, 'home'));
const gitOk = (dir: string, ...args: string[]): string => gitSync(GIT_ENV, dir, ...args);
const gitAsync = (dir: string, ...args: string[]): Promise<GitResult> => gitAsyncIn(GIT_ENV, dir, ...args);
const getVia = (url: string, host: string): Promise<Answer> => httpGet(url, host);

/** The router and the agent, stopped in reverse order at the end. */
const daemons: Daemon[] = [];
let registry: RunningRegistry | undefined;
let redis: LocalRedis | undefined;
let api: RunningApi | undefined;
let browser: Browser | undefined;
let page: Page;
let adminToken = '';
let firstLoadJs = 0;
let routerUrl = '';
let agentOutput: () => string = () => '';
const problems: string[] = [];

const agentEnv = (): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'],
  PAAS_ROOT: roots.root,
  PAAS_RUN: roots.run,
  PAAS_API_URL: api?.url,
  REDIS_URL: redis?.url,
  PAAS_REGISTRY_ADDR: registry?.host,
  PAAS_BRIDGE: roots.env['PAAS_BRIDGE'],
  PAAS_SUBNET: roots.env['PAAS_SUBNET'],
  PAAS_IP_FORWARD: '0',
  PAAS_NODE_NAME: 'host',
  PAAS_NODE_MEMORY: '8192',
  PAAS_NODE_CPUS: '16',
});

/** Screenshot and axe-core for the page as it is now; serious and critical violations fail. */
async function checkPage(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const violations = (await page.evaluate(`
    axe.run(document, { resultTypes: ['violations'] }).then((r) =>
      r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })),
    )
  `)) as { id: string; impact: string; help: string; nodes: string[] }[];
  axeReport.push({ page: name, violations });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `axe on ${name}`);
}
const axeReport: { page: string; violations: { id: string; impact: string }[] }[] = [];

/** Injects axe-core as the page's own code would not be allowed to (CSP): through DevTools. */
async function injectAxe(): Promise<void> {
  await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
}

async function go(path: string): Promise<void> {
  await page.goto(`${api?.url}${path}`);
  await injectAxe();
}

/** The last lines of the app's log (builds, releases, the scheduler), for a failure's report. */
async function appLog(): Promise<string> {
  const res = await fetch(`${api?.url}/api/apps/hello/logs?tail=80`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  return (await res.text())
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => {
      const e = JSON.parse(l.slice(6)) as { t: string; source: string; line: string };
      return `${e.t} ${e.source}: ${e.line}`;
    })
    .join('\n');
}

/**
 * Polls a check from here (the page's CSP, rightly, refuses the string evaluation that
 * page.waitForFunction would use).
 */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Navigation inside the app (a link click): axe stays injected. */
async function click(name: string | RegExp, role: 'link' | 'button' = 'link'): Promise<void> {
  await page
    .getByRole(role, { name, exact: typeof name === 'string' })
    .first()
    .click();
}

before(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  mkdirSync(join(base, 'home'), { recursive: true });
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (infra/bootstrap.sh installs it)`);
  // the dashboard as the api serves it (Nx answers from its cache when nothing changed)
  const build = spawnSync('npx', ['nx', 'run', 'dashboard:build', '--outputStyle=static'], {
    cwd: WORKSPACE,
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
    timeout: 180_000,
  });
  assert.equal(build.status, 0, `the dashboard build failed:\n${build.stdout}${build.stderr}`);
  ok('image', 'bootstrap', 'busybox');
  registry = await startRegistry({ root: join(base, 'registry'), listen: { host: '127.0.0.1', port: 0 } });
  redis = await startLocalRedis(join(base, 'redis'));
  const router = await startDaemon('the router', 'apps/proxy/src/main.ts', {
    PATH: process.env['PATH'],
    PAAS_ROOT: roots.root,
    PAAS_RUN: roots.run,
    REDIS_URL: redis.url,
    PAAS_ROUTER_ADDR: '127.0.0.1:0',
    PAAS_ROUTER_ADMIN_ADDR: 'off',
    PAAS_ROUTER_WORKERS: '0',
    PAAS_ROUTER_ACCESS_LOG: 'off',
  });
  daemons.push(router);
  routerUrl = router.url;
  api = await startApi(
    loadApiConfig({
      ...roots.env,
      PAAS_REGISTRY_ADDR: registry.host,
      PAAS_ROUTER_ADDR: routerUrl.replace(/^http:\/\//, ''),
      REDIS_URL: redis.url,
      PAAS_BUILD_WORKERS: '1',
      PAAS_RECONCILE_MS: '250',
      PAAS_DRAIN_MS: '100',
      PAAS_STOP_TIMEOUT: '3',
    }),
  );
  adminToken = readAdminToken(roots.root);
  const agent = await startDaemon('the agent', 'apps/agent/src/main.ts', agentEnv());
  daemons.push(agent);
  agentOutput = agent.output;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(30_000);
  page = await context.newPage();
  // script errors and CSP refusals fail the run; failed requests the test makes on purpose
  // (a wrong token, a taken name) are console errors too and are expected
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
});

after(async () => {
  const failures: string[] = [];
  const attempt = async (what: string, fn: () => unknown): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      failures.push(`${what}: ${(err as Error).message}`);
    }
  };
  await attempt('browser', () => browser?.close());
  for (const daemon of [...daemons].reverse()) await attempt('daemon', () => stopDaemon(daemon));
  // the node's containers and its bridge, through the agent's own cleanup
  const cleanup = agentCleanup(agentEnv());
  if (cleanup.status !== 0) failures.push(`agent cleanup: ${cleanup.stderr}`);
  await attempt('api', () => api?.app.close());
  await attempt('redis', () => redis?.stop());
  await attempt('registry', () => registry?.close());
  const left = {
    mounts: mountsUnder(roots.root),
    containers: containersUnder(roots.root),
    bridge: existsSync(`/sys/class/net/${roots.env['PAAS_BRIDGE']}`),
    rules: spawnSync('iptables-save', { encoding: 'utf8' }).stdout.includes(String(roots.env['PAAS_BRIDGE'])),
    cgroups: cgroupsLeftSince(startedAt),
    processes: daemons.filter((d) => d.child.pid && isAlive(d.child.pid)).map((d) => d.child.pid),
  };
  await attempt('temp roots', () => roots.cleanup());
  rmSync(base, { recursive: true, force: true });
  console.log(`first load: ${(firstLoadJs / 1024).toFixed(1)} KiB of JavaScript, gzipped`);
  console.log(
    `axe: ${axeReport.map((r) => `${r.page} ${r.violations.length ? r.violations.map((v) => `${v.id}(${v.impact})`).join(',') : 'clean'}`).join('; ')}`,
  );
  assert.deepEqual(failures, [], 'cleanup failed');
  assert.deepEqual(
    left,
    { mounts: [], containers: [], bridge: false, rules: false, cgroups: [], processes: [] },
    'the run left something behind',
  );
});

describe('the dashboard in a browser', { timeout: 240_000 }, () => {
  // Each step builds on the one before: after a failure the rest are skipped, and the page
  // as it was is saved next to the screenshots.
  let broken = '';
  const step = (name: string, fn: () => Promise<void>): void => {
    it(name, async (t) => {
      if (broken) {
        t.skip(`after "${broken}" failed`);
        return;
      }
      try {
        await fn();
      } catch (err) {
        broken = name;
        await page?.screenshot({ path: join(ARTIFACTS, 'failed.png'), fullPage: true }).catch(() => undefined);
        console.log(`the app's log when "${name}" failed:\n${await appLog().catch((e: Error) => e.message)}`);
        throw err;
      }
    });
  };
  const instanceRows = () => page.getByTestId('instances').locator('tbody tr');
  const upRows = () => page.getByTestId('instances').locator('tbody tr[data-state="up"]');

  step('signs in with a token, refusing a wrong one with the api message', async () => {
    // the first load's JavaScript, as it crosses the wire (gzip): the budget is 200 KB
    const scripts: Promise<number>[] = [];
    const onResponse = (res: Response): void => {
      if (res.request().resourceType() === 'script') {
        scripts.push(
          res.headerValue('content-encoding').then(async (encoding) => {
            assert.equal(encoding, 'gzip', res.url());
            return Number(await res.headerValue('content-length'));
          }),
        );
      }
    };
    page.on('response', onResponse);
    await go('/apps/nosuch');
    await page.waitForURL(/\/login\?next=%2Fapps%2Fnosuch$/);
    page.off('response', onResponse);
    const sizes = await Promise.all(scripts);
    firstLoadJs = sizes.reduce((a, b) => a + b, 0);
    assert.ok(
      sizes.length > 0 && firstLoadJs > 10_000 && firstLoadJs < 200 * 1024,
      `first load: ${sizes.join(' + ')} bytes`,
    );
    await checkPage('01-login');
    // the checker checks: a field without a label, added for a moment, is a critical violation
    await page.evaluate(`document.body.insertAdjacentHTML('beforeend', '<input id="axe-probe">')`);
    const probe = (await page.evaluate(
      `axe.run({ include: ['#axe-probe'] }).then((r) => r.violations.map((v) => v.id + ':' + v.impact))`,
    )) as string[];
    await page.evaluate(`document.getElementById('axe-probe').remove()`);
    assert.ok(probe.includes('label:critical'), probe.join(', '));
    await page.getByLabel('API token').fill('paas_wrongwrongwrongwrongwrongwrongwrongwron');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'unknown API token' }).waitFor();
    await checkPage('02-login-refused');
    // keyboard only: type the token and press Enter
    await page.getByLabel('API token').fill(adminToken);
    await page.getByLabel('API token').press('Enter');
    // back where the user was going, which does not exist: the page says so
    await page.waitForURL(/\/apps\/nosuch$/);
    await page.getByRole('heading', { name: 'App not found' }).waitFor();
    await page.getByRole('alert').filter({ hasText: "app 'nosuch' not found" }).waitFor();
    await click('Apps');
    await page.getByText('No apps yet').waitFor();
    assert.equal(await page.evaluate('localStorage.getItem("paas.token")'), adminToken);
    // after a navigation the keyboard continues from the new page's heading
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.id'), 'new-app');
    // on a fresh load it starts at the skip link, which shows itself when focused
    await go('/');
    await page.getByText('No apps yet').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to content');
    assert.ok(await page.getByRole('link', { name: 'Skip to content' }).isVisible());
    await checkPage('03-apps-empty');
  });

  step('creates an app, with the api explaining a taken name', async () => {
    await page.getByLabel('App name').fill('Bad Name');
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('alert').filter({ hasText: 'lower-case letters' }).waitFor();
    await page.getByLabel('App name').fill('hello');
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.waitForURL(/\/apps\/hello$/);
    await page.getByRole('heading', { name: 'Not deployed yet' }).waitFor();
    await page.getByText(`git remote add paas ${api?.url}/git/hello.git`).waitFor();
    await page.getByText('No process types yet').waitFor();
    await checkPage('04-app-new');
    await click('Apps');
    await page.getByLabel('App name').fill('hello');
    await page.getByRole('button', { name: 'Create app' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /already exists.*\(conflict\)/ })
      .waitFor();
    await page.locator('tr[data-app="hello"]').getByText('not deployed').waitFor();
  });

  step('streams the output of a pushed build as it runs, then lists the app as up', async () => {
    const dir = join(base, 'src', 'hello');
    mkdirSync(dir, { recursive: true });
    gitOk(dir, 'init', '--quiet', '--initial-branch=main');
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>hello</title><p>hello from paas</p>\n');
    writeFileSync(
      join(dir, 'Dockerfile'),
      [
        'FROM busybox',
        'COPY index.html /www/index.html',
        // a step that takes a while, so the browser sees the output arrive mid-build
        'RUN echo "part 1 of the build" && sleep 5 && echo "part $((1 + 1)) of the build"',
        'CMD ["/bin/sh", "-c", "httpd -f -p $PORT -h /www"]',
        '',
      ].join('\n'),
    );
    gitOk(dir, 'add', '-A');
    gitOk(dir, 'commit', '--quiet', '-m', 'first');
    gitOk(dir, 'remote', 'add', 'paas', `${api?.url.replace('http://', `http://git:${adminToken}@`)}/git/hello.git`);

    await click('hello');
    await click('Builds');
    await page.getByText('No builds yet').waitFor();
    const push = gitAsync(dir, 'push', 'paas', 'main');
    try {
      // the list follows the app's log: the build shows up without a reload
      await click('Build #1');
      const log = page.getByTestId('build-log');
      await log.getByText('part 1 of the build').waitFor();
      // mid-build: the step's first line is here, its last is not yet, and the page says it streams
      const midway = await log.textContent();
      assert.doesNotMatch(midway ?? '', /part 2 of the build/, 'the output came all at once');
      assert.ok(await page.getByTestId('streaming').isVisible(), 'streaming is shown while the build runs');
      await log.getByText('part 2 of the build').waitFor();
      await page.getByRole('status').filter({ hasText: 'The build succeeded.' }).waitFor({ timeout: 60_000 });
      assert.match((await log.textContent()) ?? '', /Released v1/);
      assert.equal(await page.getByTestId('streaming').count(), 0);
    } finally {
      const pushed = await push;
      assert.equal(pushed.status, 0, pushed.output);
    }
    await checkPage('05-build-log');

    await click('Apps');
    const row = page.locator('tr[data-app="hello"]');
    await row.locator('[data-instances="1/1"]').waitFor({ timeout: 60_000 });
    await row.getByText('v1', { exact: true }).waitFor();
    await row.getByText('up', { exact: true }).waitFor();
    await checkPage('06-apps-running');
    assert.equal(
      (await getVia(`${routerUrl}/`, 'hello.localhost')).body,
      '<!doctype html><title>hello</title><p>hello from paas</p>\n',
    );
  });

  step('scales web from 1 to 3 with the control, and shows three instances up', async () => {
    await click('hello');
    await upRows().first().waitFor();
    assert.equal(await instanceRows().count(), 1);
    const input = page.getByLabel('web instances');
    assert.equal(await input.inputValue(), '1');
    assert.ok(await page.getByRole('button', { name: 'Scale', exact: true }).isDisabled(), 'nothing to apply yet');
    await page.getByRole('button', { name: 'One web instance more' }).click();
    await page.getByRole('button', { name: 'One web instance more' }).click();
    assert.equal(await input.inputValue(), '3');
    await page.getByRole('button', { name: 'Scale', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'web scaled to 3 instances.' }).waitFor();
    await until('three web instances up', async () => (await upRows().count()) === 3, 60_000);
    assert.equal(await instanceRows().count(), 3);
    const names = await page.getByTestId('instances').locator('tbody th').allTextContents();
    assert.deepEqual(names, ['web.1', 'web.2', 'web.3']);
    const nodes = await page.getByTestId('instances').locator('tbody tr td:nth-child(4)').allTextContents();
    assert.deepEqual(nodes, ['host', 'host', 'host']);
    // the instances chart has followed (sampled every 2 s)
    await page.getByRole('img', { name: /Instances over the last 5 minutes: now 3 up of 3/ }).waitFor();
    await checkPage('07-app-scaled');
    // and through the api, for the record
    const formation = (await callApi(api?.url ?? '', adminToken, 'GET', '/api/apps/hello/formation')) as {
      type: string;
      quantity: number;
    }[];
    assert.deepEqual(
      formation.map((f) => [f.type, f.quantity]),
      [['web', 3]],
    );
  });

  step('adds and edits a config var, each change a release', async () => {
    await click('Config vars');
    await page.getByText('No config vars').waitFor();
    await page.getByLabel('Key').fill('GREETING');
    await page.getByLabel('Value', { exact: true }).fill('hello');
    await page.getByRole('button', { name: 'Add' }).click();
    await page.getByRole('status').filter({ hasText: 'GREETING set' }).waitFor();
    const value = page.getByLabel('Value of GREETING');
    assert.equal(await value.inputValue(), 'hello');
    await page.getByTestId('current-release').getByText('v2').waitFor();
    await value.fill('bonjour');
    await value.press('Enter');
    await page.getByRole('status').filter({ hasText: 'GREETING updated' }).waitFor();
    await page.getByTestId('current-release').getByText('v3').waitFor();
    await checkPage('08-config-vars');
    const vars = await callApi(api?.url ?? '', adminToken, 'GET', '/api/apps/hello/config-vars');
    assert.deepEqual(vars, { GREETING: 'bonjour' });
  });

  step('rolls back to v1, which deploys with its image and config', async () => {
    await click('Releases');
    const v1 = page.locator('tr[data-release="1"]');
    await v1.waitFor();
    assert.equal(await page.locator('tr[data-release="3"]').getByText('current').count(), 1);
    await v1.getByRole('button', { name: 'Roll back to v1' }).click();
    await v1.getByRole('button', { name: 'Roll back', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Rolled back to v1: v4 is being deployed.' }).waitFor();
    const v4 = page.locator('tr[data-release="4"]');
    await v4.getByText('Rollback to v1').waitFor();
    await v4.getByText('current').waitFor();
    await checkPage('09-releases');
    await click('Overview');
    await until(
      'three instances of v4 up, and only those',
      async () =>
        (await instanceRows().count()) === 3 &&
        (await page.getByTestId('instances').locator('tbody tr[data-state="up"]', { hasText: 'v4' }).count()) === 3,
      90_000,
    );
    await click('Config vars');
    await page.getByText('No config vars').waitFor();
  });

  step("charts the app's requests per second from the router", async () => {
    await click('Overview');
    // ~20 requests a second through the router for a few seconds
    const stopAt = Date.now() + 4000;
    let answered = 0;
    while (Date.now() < stopAt) {
      const batch = await Promise.all(Array.from({ length: 5 }, () => getVia(`${routerUrl}/`, 'hello.localhost')));
      answered += batch.filter((r) => r.status === 200).length;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(answered > 50, `answered ${answered}`);
    const chart = page.getByRole('img', { name: /Requests per second over the last 5 minutes/ });
    await until(
      'the chart shows the traffic',
      async () => Number(/peak (\d+(?:\.\d+)?)/.exec((await chart.locator('desc').textContent()) ?? '')?.[1] ?? 0) > 1,
      20_000,
    );
    assert.ok(await chart.isVisible());
    await page.getByText(/requests answered \(0 errors\) across 1 router/).waitFor();
    await checkPage('10-app-activity');
  });

  step('shows the node with its capacity, memory and placed instances', async () => {
    await click('Nodes');
    const node = page.locator('section[data-node="host"]');
    await node.getByRole('heading', { name: /host/ }).waitFor();
    await node.getByText('of 8.0 GiB', { exact: false }).first().waitFor();
    await until('three instances placed on the node', async () => (await node.locator('tbody tr').count()) === 3);
    const rows = await node.locator('tbody tr').allTextContents();
    assert.ok(
      rows.every((r) => r.startsWith('hello') && r.includes('v4')),
      rows.join('\n'),
    );
    // three basic (256 MiB) instances of the 8 GiB the node offers, twice over (overcommit 2)
    await page.getByRole('img', { name: /Memory per node.*host: 768 MiB promised, .* used, of 16\.0 GiB/ }).waitFor();
    await checkPage('11-nodes');
  });

  step("follows the app's log live", async () => {
    await click('Apps');
    await click('hello');
    await click('Logs');
    const log = page.getByTestId('app-log');
    await log.getByText('Deployed v4').first().waitFor();
    await page.getByText('live', { exact: true }).waitFor();
    const before = await log.locator('.log-line').count();
    // a change made elsewhere (the CLI, another user) shows up here by itself
    await callApi(api?.url ?? '', adminToken, 'PATCH', '/api/apps/hello/formation/web', { quantity: 1 }, 200);
    await log
      .getByText(/Stopping web\.[23]/)
      .first()
      .waitFor();
    assert.ok((await log.locator('.log-line').count()) > before);
    await checkPage('12-logs');
    await click('Domains');
    await page.getByText('No custom domains').waitFor();
    await page.getByLabel('Host name').fill('www.example.com');
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page.getByRole('status').filter({ hasText: 'www.example.com added.' }).waitFor();
    await checkPage('13-domains');
  });

  it('had no script errors or refused resources', () => {
    assert.deepEqual(problems, []);
    assert.doesNotMatch(agentOutput(), /Error:/);
  });
});
