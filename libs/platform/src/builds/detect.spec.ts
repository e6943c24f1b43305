import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppBuildError } from './errors';
import { STATIC_WEB, detectApp } from './detect';

const names = (...list: string[]): Set<string> => new Set(list);
const START = JSON.stringify({ name: 'a', scripts: { start: 'node a.js' } });

describe('detectApp', () => {
  it('builds a Dockerfile first, whatever else is there', () => {
    assert.deepEqual(detectApp({ names: names('Dockerfile', 'package.json', 'index.html'), packageJson: '{' }), {
      stack: 'dockerfile',
    });
  });

  it('makes a Node.js app of package.json: npm ci with a lockfile, npm start', () => {
    assert.deepEqual(
      detectApp({ names: names('package.json', 'package-lock.json', 'index.html'), packageJson: START }),
      {
        stack: 'node',
        install: 'ci',
        lockfile: 'package-lock.json',
        web: 'npm start',
        notes: [],
      },
    );
  });

  it('prefers npm-shrinkwrap.json, takes the Procfile web, notes engines and other lockfiles', () => {
    const plan = detectApp({
      names: names('package.json', 'npm-shrinkwrap.json', 'package-lock.json'),
      packageJson: JSON.stringify({ engines: { node: '18.x' } }),
      procfile: { web: 'node web.js', worker: 'node w.js' },
    });
    assert.equal(plan.stack, 'node');
    assert.ok(plan.stack === 'node');
    assert.equal(plan.lockfile, 'npm-shrinkwrap.json');
    assert.equal(plan.web, 'node web.js');
    assert.deepEqual(plan.notes, ["package.json asks for node 18.x; building on the platform's node image"]);
  });

  it('runs npm install without a lockfile and nothing with node_modules checked in', () => {
    const install = detectApp({ names: names('package.json', 'server.js', 'yarn.lock'), packageJson: '{}' });
    assert.ok(install.stack === 'node');
    assert.equal(install.install, 'install');
    assert.equal(install.lockfile, undefined);
    assert.deepEqual(install.notes, [
      'yarn.lock is ignored: only npm is supported here (commit a package-lock.json)',
      'no package-lock.json: running npm install (commit a lockfile for repeatable builds)',
    ]);
    const vendored = detectApp({
      names: names('package.json', 'node_modules', 'package-lock.json'),
      packageJson: START,
    });
    assert.ok(vendored.stack === 'node');
    assert.equal(vendored.install, 'vendored');
  });

  it('serves index.html with busybox httpd, or the Procfile web', () => {
    assert.deepEqual(detectApp({ names: names('index.html', 'style.css') }), { stack: 'static', web: STATIC_WEB });
    assert.deepEqual(detectApp({ names: names('index.html'), procfile: { web: 'httpd -f -p $PORT' } }), {
      stack: 'static',
      web: 'httpd -f -p $PORT',
    });
  });

  const bad: Array<[string, Parameters<typeof detectApp>[0], RegExp]> = [
    [
      'an unknown tree',
      { names: names('README.md', 'main.go') },
      /^cannot tell how to build this app: the top of the repository has no Dockerfile, package\.json or index\.html$/,
    ],
    [
      'broken package.json',
      { names: names('package.json'), packageJson: '{"name":' },
      /^package\.json is not valid JSON \(/,
    ],
    [
      'a package.json array',
      { names: names('package.json'), packageJson: '[]' },
      /^package\.json: expected a JSON object/,
    ],
    [
      'no way to start',
      { names: names('package.json'), packageJson: '{"scripts":{"test":"x"}}' },
      /^package\.json has no "start" script and there is no server\.js/,
    ],
  ];
  for (const [what, source, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => detectApp(source),
        (err: unknown) => err instanceof AppBuildError && message.test(err.message),
      );
    });
  }
});
