import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppBuildError } from './errors';
import { STATIC_WEB, detectApp, nodeSatisfies } from './detect';

const names = (...list: string[]): Set<string> => new Set(list);
const START = JSON.stringify({ name: 'a', scripts: { start: 'node a.js' } });

describe('detectApp', () => {
  it('builds a Dockerfile first, whatever else is there', () => {
    assert.deepEqual(detectApp({ names: names('Dockerfile', 'package.json', 'index.html'), packageJson: '{' }), {
      stack: 'dockerfile',
    });
  });

  it('makes a Node.js app of package.json: npm ci with a lockfile, its start script run without npm', () => {
    assert.deepEqual(
      detectApp({ names: names('package.json', 'package-lock.json', 'index.html'), packageJson: START }),
      {
        stack: 'node',
        install: 'ci',
        lockfile: 'package-lock.json',
        web: 'node a.js',
        npmrc: false,
        notes: ['no Procfile web process: starting the app with "node a.js" (its start script, run without npm)'],
      },
    );
  });

  it('starts what npm start would: node server.js without a start script; npm start only for pre/poststart', () => {
    const web = (pkg: unknown, ...files: string[]): string => {
      const plan = detectApp({ names: names('package.json', ...files), packageJson: JSON.stringify(pkg) });
      assert.ok(plan.stack === 'node');
      return plan.web;
    };
    assert.equal(web({}, 'server.js'), 'node server.js');
    assert.equal(web({ scripts: { start: '  ' } }, 'server.js'), 'node server.js', 'a blank start script is none');
    assert.equal(web({ scripts: { start: ' tsx src/main.ts ' } }), 'tsx src/main.ts');
    assert.equal(web({ scripts: { prestart: 'node migrate.js', start: 'node a.js' } }), 'npm start');
    assert.equal(web({ scripts: { start: 'node a.js', poststart: 'echo up' } }), 'npm start');
    assert.throws(
      () => web({ scripts: { start: ' ' } }),
      (err: unknown) => err instanceof AppBuildError && /no "start" script and there is no server.js/.test(err.message),
    );
  });

  it('prefers npm-shrinkwrap.json, takes the Procfile web, engines.node, the build script and .npmrc', () => {
    const plan = detectApp({
      names: names('package.json', 'npm-shrinkwrap.json', 'package-lock.json', '.npmrc'),
      packageJson: JSON.stringify({ engines: { node: '18.x' }, scripts: { build: 'tsc', 'heroku-postbuild': 'x' } }),
      procfile: { web: 'node web.js', worker: 'node w.js' },
    });
    assert.equal(plan.stack, 'node');
    assert.ok(plan.stack === 'node');
    assert.equal(plan.lockfile, 'npm-shrinkwrap.json');
    assert.equal(plan.web, 'node web.js');
    assert.equal(plan.engines, '18.x');
    assert.equal(plan.buildScript, 'heroku-postbuild', "Heroku's buildpack runs heroku-postbuild instead of build");
    assert.equal(plan.npmrc, true);
    assert.deepEqual(plan.notes, []);
    const build = detectApp({ names: names('package.json'), packageJson: '{"scripts":{"start":"x","build":"tsc"}}' });
    assert.ok(build.stack === 'node' && build.buildScript === 'build' && build.engines === undefined);
  });

  it('checks a node version against engines.node', () => {
    assert.equal(nodeSatisfies('v20.11.1', '>=18 <21'), true);
    assert.equal(nodeSatisfies('20.11.1', '22.x'), false);
    assert.equal(nodeSatisfies('20.11.1', '*'), true);
  });

  it('runs npm install without a lockfile and nothing with node_modules checked in', () => {
    const install = detectApp({ names: names('package.json', 'server.js', 'yarn.lock'), packageJson: '{}' });
    assert.ok(install.stack === 'node');
    assert.equal(install.install, 'install');
    assert.equal(install.lockfile, undefined);
    assert.deepEqual(install.notes, [
      'yarn.lock is ignored: only npm is supported here (commit a package-lock.json)',
      'no package-lock.json: running npm install (commit a lockfile for repeatable builds)',
      `no Procfile web process: starting the app with "node server.js" (npm's default, run without npm)`,
    ]);
    const vendored = detectApp({
      names: names('package.json', 'node_modules', 'package-lock.json'),
      packageJson: START,
    });
    assert.ok(vendored.stack === 'node');
    assert.equal(vendored.install, 'vendored');
  });

  it('makes a Python app of requirements.txt or pyproject.toml, guessing the web process as Heroku does', () => {
    const procfile = detectApp({
      names: names('requirements.txt', 'pyproject.toml', 'app.py', 'pip.conf', 'index.html'),
      pythonRequirements: 'flask==3.0\n',
      procfile: { web: 'python serve.py' },
    });
    assert.deepEqual(procfile, {
      stack: 'python',
      requirements: 'requirements.txt',
      web: 'python serve.py',
      pipConf: true,
      notes: [],
    });
    const guess = (files: string[], text: string): string => {
      const plan = detectApp({ names: names(...files), pythonRequirements: text });
      assert.ok(plan.stack === 'python');
      return plan.web;
    };
    assert.equal(
      guess(['requirements.txt', 'app.py'], 'Flask\ngunicorn==22.0 # web\n'),
      'gunicorn --bind 0.0.0.0:$PORT app:app',
    );
    assert.equal(guess(['requirements.txt', 'wsgi.py', 'app.py'], 'gunicorn\n'), 'gunicorn --bind 0.0.0.0:$PORT wsgi');
    assert.equal(
      guess(['pyproject.toml', 'app.py'], 'dependencies = [\n  "gunicorn>=22",\n]\n'),
      'gunicorn --bind 0.0.0.0:$PORT app:app',
    );
    assert.equal(guess(['requirements.txt', 'app.py'], 'gunicorn-extras\nflask\n'), 'python app.py');
    assert.equal(guess(['requirements.txt', 'app.py', 'wsgi.py'], ''), 'python app.py');
    const project = detectApp({ names: names('pyproject.toml', 'app.py'), pythonRequirements: '[project]\n' });
    assert.ok(project.stack === 'python' && project.requirements === 'pyproject.toml' && !project.pipConf);
    assert.deepEqual(project.notes, ['no Procfile web process: starting the app with "python app.py"']);
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
      /^cannot tell how to build this app: the top of the repository has no Dockerfile, package\.json, requirements\.txt, pyproject\.toml or index\.html$/,
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
      'engines.node that is not a string',
      { names: names('package.json'), packageJson: '{"scripts":{"start":"x"},"engines":{"node":20}}' },
      /^package\.json: "engines\.node" must be a semver range such as "20\.x" or ">=18", not 20$/,
    ],
    [
      'engines.node that is not a range',
      { names: names('package.json'), packageJson: '{"scripts":{"start":"x"},"engines":{"node":"twenty"}}' },
      /^package\.json: "engines\.node" must be a semver range such as "20\.x" or ">=18", not "twenty"$/,
    ],
    [
      'engines that is not an object',
      { names: names('package.json'), packageJson: '{"scripts":{"start":"x"},"engines":"node 20"}' },
      /^package\.json: "engines" must be an object such as \{"node": "20\.x"\}, not "node 20"$/,
    ],
    [
      'an unreadable requirements.txt',
      { names: names('requirements.txt', 'app.py') },
      /^requirements\.txt could not be read$/,
    ],
    [
      'a Python app with no way to start',
      { names: names('requirements.txt', 'wsgi.py'), pythonRequirements: 'flask\n' },
      /^no web process for this Python app: add a Procfile with "web: <command>"/,
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
