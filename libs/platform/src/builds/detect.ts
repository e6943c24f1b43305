/**
 * What kind of app a pushed tree is, in the order Heroku and Dokku look: a Dockerfile is
 * built as it is; else package.json makes a Node.js app; else requirements.txt or
 * pyproject.toml a Python app; else index.html a static site. The
 * decision is made from the top-level listing only (pure), so it is the same on every node.
 */
import semver from 'semver';
import { AppBuildError } from './errors';

export interface SourceListing {
  /** Names at the top of the tree (files and directories). */
  readonly names: ReadonlySet<string>;
  /** The text of package.json, when there is one. */
  readonly packageJson?: string;
  /** The text of requirements.txt (else pyproject.toml) for a Python app: the web guess reads it. */
  readonly pythonRequirements?: string;
  /** The parsed Procfile, when there is one. */
  readonly procfile?: Readonly<Record<string, string>>;
}

export interface DockerfilePlan {
  readonly stack: 'dockerfile';
}

export interface NodePlan {
  readonly stack: 'node';
  /** `ci` with a lockfile, `install` without, `vendored` when node_modules is committed. */
  readonly install: 'ci' | 'install' | 'vendored';
  /** The lockfile `npm ci` reads. */
  readonly lockfile?: 'package-lock.json' | 'npm-shrinkwrap.json';
  /** The web command: the Procfile's, else the start script (nodeWeb). */
  readonly web: string;
  /** `engines.node`, a valid semver range: the base image's node must satisfy it. */
  readonly engines?: string;
  /** The script run after the install with the whole tree, as Heroku's buildpack picks it. */
  readonly buildScript?: 'heroku-postbuild' | 'build';
  /** The app's `.npmrc` (a registry, a token from a config var), read by the install. */
  readonly npmrc: boolean;
  /** Things the pusher should know (shown in the build output). */
  readonly notes: readonly string[];
}

export interface PythonPlan {
  readonly stack: 'python';
  /** What pip installs: the requirements file, or the project itself (`pip install .`). */
  readonly requirements: 'requirements.txt' | 'pyproject.toml';
  /** The Procfile's web, else Heroku's guess: gunicorn when it is a dependency, else python app.py. */
  readonly web: string;
  /** A pip.conf at the top of the repository (an index URL): pip reads it. */
  readonly pipConf: boolean;
  readonly notes: readonly string[];
}

export interface StaticPlan {
  readonly stack: 'static';
  readonly web: string;
}

export type AppPlan = DockerfilePlan | NodePlan | PythonPlan | StaticPlan;
export type Stack = AppPlan['stack'];

/** How busybox httpd serves a static site; the generated image's CMD runs this. */
export const STATIC_WEB = 'httpd -f -v -p "$PORT" -h /www';

export function detectApp(source: SourceListing): AppPlan {
  const { names } = source;
  if (names.has('Dockerfile')) return { stack: 'dockerfile' };
  if (names.has('package.json')) return detectNode(source);
  if (names.has('requirements.txt') || names.has('pyproject.toml')) return detectPython(source);
  if (names.has('index.html')) return { stack: 'static', web: source.procfile?.['web'] ?? STATIC_WEB };
  throw new AppBuildError(
    'cannot tell how to build this app: the top of the repository has no Dockerfile, package.json, requirements.txt, pyproject.toml or index.html',
  );
}

function detectPython(source: SourceListing): PythonPlan {
  const { names } = source;
  const requirements = names.has('requirements.txt') ? 'requirements.txt' : 'pyproject.toml';
  const text = source.pythonRequirements;
  if (text === undefined) throw new AppBuildError(`${requirements} could not be read`);
  const notes: string[] = [];
  let web = source.procfile?.['web'];
  if (web === undefined) {
    // a requirement line (`gunicorn==22.0`) or a pyproject dependency string (`"gunicorn>=22"`)
    const gunicorn = /^\s*["']?gunicorn(?![\w.-])/im.test(text);
    const module = names.has('wsgi.py') ? 'wsgi' : names.has('app.py') ? 'app:app' : undefined;
    if (gunicorn && module) web = `gunicorn --bind 0.0.0.0:$PORT ${module}`;
    else if (names.has('app.py')) web = 'python app.py';
    else {
      throw new AppBuildError(
        'no web process for this Python app: add a Procfile with "web: <command>" (or an app.py, or a wsgi.py with gunicorn in the requirements)',
      );
    }
    notes.push(`no Procfile web process: starting the app with "${web}"`);
  }
  return { stack: 'python', requirements, web, pipConf: names.has('pip.conf'), notes };
}

function detectNode(source: SourceListing): NodePlan {
  let pkg: unknown;
  try {
    pkg = JSON.parse((source.packageJson ?? '').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new AppBuildError(`package.json is not valid JSON (${(err as Error).message})`);
  }
  if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) {
    throw new AppBuildError('package.json: expected a JSON object at the top level');
  }
  const manifest = pkg as { scripts?: unknown; engines?: unknown };
  const scripts =
    typeof manifest.scripts === 'object' && manifest.scripts !== null
      ? (manifest.scripts as Record<string, unknown>)
      : {};
  const web = source.procfile?.['web'];
  const hasStart =
    (typeof scripts['start'] === 'string' && scripts['start'].trim() !== '') || source.names.has('server.js');
  if (web === undefined && !hasStart) {
    throw new AppBuildError(
      'package.json has no "start" script and there is no server.js: add "scripts": {"start": "node app.js"} or a Procfile with a web process',
    );
  }
  const notes: string[] = [];
  const engines = nodeEngines(manifest.engines);
  // Heroku's Node buildpack: heroku-postbuild instead of build when both are there
  const buildScript = (['heroku-postbuild', 'build'] as const).find((name) => typeof scripts[name] === 'string');
  const lockfile = source.names.has('npm-shrinkwrap.json')
    ? 'npm-shrinkwrap.json'
    : source.names.has('package-lock.json')
      ? 'package-lock.json'
      : undefined;
  for (const other of ['yarn.lock', 'pnpm-lock.yaml']) {
    if (source.names.has(other) && !lockfile)
      notes.push(`${other} is ignored: only npm is supported here (commit a package-lock.json)`);
  }
  const install = source.names.has('node_modules') ? 'vendored' : lockfile ? 'ci' : 'install';
  if (install === 'vendored') notes.push('node_modules is checked in: using it as it is, without npm install');
  if (install === 'install')
    notes.push('no package-lock.json: running npm install (commit a lockfile for repeatable builds)');
  const start = web === undefined ? nodeWeb(scripts) : undefined;
  if (start !== undefined) notes.push(start.note);
  return {
    stack: 'node',
    install,
    ...(lockfile ? { lockfile } : {}),
    web: web ?? (start?.web as string),
    ...(engines !== undefined ? { engines } : {}),
    ...(buildScript ? { buildScript } : {}),
    npmrc: source.names.has('.npmrc'),
    notes,
  };
}

/**
 * The web command of a Node.js app without a Procfile web, what `npm start` would run: the start
 * script, else `node server.js` (npm's default). It runs through the shell without npm in
 * between (as Paketo's npm-start buildpack does; the generated image puts node_modules/.bin on
 * PATH as npm would): npm costs every instance ~0.3 s of CPU before the app starts and ~60 MB
 * of RSS for as long as it runs, which is most of a small app's start and memory. Only a
 * prestart or poststart script keeps `npm start`, which runs them.
 */
function nodeWeb(scripts: Readonly<Record<string, unknown>>): { web: string; note: string } {
  const start = typeof scripts['start'] === 'string' ? scripts['start'].trim() : '';
  if (typeof scripts['prestart'] === 'string' || typeof scripts['poststart'] === 'string') {
    return {
      web: 'npm start',
      note: 'no Procfile web process: starting the app with "npm start" (it has prestart/poststart scripts)',
    };
  }
  const web = start || 'node server.js';
  return {
    web,
    note: `no Procfile web process: starting the app with "${web}" (${start ? 'its start script' : "npm's default"}, run without npm)`,
  };
}

/** `engines.node` checked as npm reads it: absent, or a string that is a semver range. */
function nodeEngines(engines: unknown): string | undefined {
  if (engines === undefined) return undefined;
  if (typeof engines !== 'object' || engines === null || Array.isArray(engines)) {
    throw new AppBuildError(
      `package.json: "engines" must be an object such as {"node": "20.x"}, not ${JSON.stringify(engines)}`,
    );
  }
  const node = (engines as { node?: unknown }).node;
  if (node === undefined) return undefined;
  if (typeof node !== 'string' || semver.validRange(node) === null) {
    throw new AppBuildError(
      `package.json: "engines.node" must be a semver range such as "20.x" or ">=18", not ${JSON.stringify(node)}`,
    );
  }
  return node;
}

/** Whether a node version (`20.11.1`, `v20.11.1`) satisfies an app's `engines.node`. */
export function nodeSatisfies(version: string, range: string): boolean {
  return semver.satisfies(version.replace(/^v/, ''), range);
}
