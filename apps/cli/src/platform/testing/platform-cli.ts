/**
 * The setup every platform verb's spec starts from: the CLI's own entry point (runCli) against
 * a FakeApi on loopback, with its own HOME, PAAS_ROOT and PAAS_RUN under a temporary directory,
 * an empty git repo, and a working directory outside any repo. Call `platformCli()` inside a
 * `describe`: it registers the before/after hooks that start and remove all of it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { CliIo } from '../../io';
import { runCli } from '../../program';
import { FakeApi } from './fake-api';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export interface PlatformCli {
  readonly api: FakeApi;
  /** The temporary directory that holds everything below. */
  readonly base: string;
  /** A git repository (`git init`, no commits). */
  readonly repo: string;
  /** The working directory of the verbs: a directory outside any git repository. */
  readonly outside: string;
  /** `paas ARGV` with the spec's environment (plus `extraEnv`); `onOut` sees stdout as it is written. */
  cli(argv: string[], extraEnv?: Record<string, string>, onOut?: (s: string) => void): Promise<CliResult>;
  /** `paas ARGV`, which must exit 0. */
  ok(...argv: string[]): Promise<CliResult>;
  git(cwd: string, ...args: string[]): string;
  /** Runs `work` with the repo as the working directory, and leaves it again. */
  inRepo<T>(work: () => Promise<T>): Promise<T>;
}

export function platformCli(): PlatformCli {
  const home = process.cwd();
  let api: FakeApi | undefined;
  let base = '';
  let env: Record<string, string> = {};
  const paths = { repo: '', outside: '' };
  const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' });

  before(async () => {
    api = await new FakeApi().start();
    base = mkdtempSync(join(tmpdir(), 'paas-cli-platform-'));
    paths.repo = join(base, 'repo');
    mkdirSync(paths.repo);
    git(paths.repo, 'init', '-q');
    paths.outside = join(base, 'outside');
    mkdirSync(paths.outside);
    process.chdir(paths.outside);
    env = {
      HOME: join(base, 'home'),
      PAAS_ROOT: join(base, 'root'),
      PAAS_RUN: join(base, 'run'),
      PAAS_API_URL: api.url,
      PAAS_API_TOKEN: api.adminToken,
    };
  });

  after(async () => {
    process.chdir(home);
    await api?.close();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const cli = async (
    argv: string[],
    extraEnv: Record<string, string> = {},
    onOut?: (s: string) => void,
  ): Promise<CliResult> => {
    let out = '';
    let err = '';
    const io: CliIo = {
      env: { ...env, ...extraEnv },
      out: (s) => {
        out += s;
        onOut?.(s);
      },
      err: (s) => (err += s),
    };
    const code = await runCli(argv, io);
    return { code, out, err };
  };

  return {
    get api(): FakeApi {
      assert.ok(api, 'platformCli: the api starts in before()');
      return api;
    },
    get base() {
      return base;
    },
    get repo() {
      return paths.repo;
    },
    get outside() {
      return paths.outside;
    },
    cli,
    async ok(...argv) {
      const r = await cli(argv);
      assert.equal(r.code, 0, `paas ${argv.join(' ')}: ${r.err}`);
      return r;
    },
    git,
    async inRepo(work) {
      process.chdir(paths.repo);
      try {
        return await work();
      } finally {
        process.chdir(paths.outside);
      }
    },
  };
}
