import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CliIo } from './io';
import { runCli } from './program';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { env: {}, out: (s) => (out += s), err: (s) => (err += s) };
  const code = await runCli(argv, io);
  return { code, out, err };
}

describe('paas command line', () => {
  for (const argv of [['version'], ['--version'], ['-v']]) {
    it(`prints the version for ${argv.join(' ')}`, async () => {
      const r = await run(...argv);
      assert.equal(r.code, 0);
      assert.match(r.out, /^paas version \S+, node \d+\.\d+\.\d+, linux\/\w+\n$/);
      assert.equal(r.err, '');
    });
  }

  it('prints help listing the commands for `help` and with no arguments', async () => {
    for (const argv of [['help'], ['--help'], []]) {
      const r = await run(...argv);
      assert.equal(r.code, 0, argv.join(' '));
      assert.match(r.out, /Usage: paas \[OPTIONS\] COMMAND/);
      assert.match(r.out, /\bversion\b/);
      assert.match(r.out, /\bup\b/);
    }
  });

  it('rejects an unknown command with exit code 2', async () => {
    const r = await run('nosuch');
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(r.err, /^paas: 'nosuch' is not a paas command\.\nSee 'paas help'\.\n$/);
  });

  it('suggests the nearest command for a typo', async () => {
    const r = await run('verison');
    assert.equal(r.code, 2);
    assert.match(r.err, /Did you mean 'version'\?/);
  });

  it('rejects an unknown flag with exit code 2 and names it', async () => {
    const r = await run('--frobnicate');
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown option '--frobnicate'/);
  });

  it('lists the platform verbs under their own heading', async () => {
    const r = await run('help');
    assert.match(
      r.out,
      /\nPlatform Commands \(heroku-like\):\n(?:.*\n)*? {2}apps:create \[options\] <NAME> +Create an app/,
    );
    assert.match(r.out, /^ {2}ps:scale \[options\] \[TYPE=QUANTITY\[:SIZE\]\.\.\.\] /m);
    for (const verb of ['ps:resize', 'ps:restart', 'ps:stop']) assert.match(r.out, new RegExp(`^ {2}${verb} `, 'm'));
  });

  it('reports a usage error inside a command with exit code 2, engine and platform alike', async () => {
    for (const [argv, message] of [
      [['logs'], "missing required argument 'CONTAINER'"],
      [['config:get'], "missing required argument 'KEY'"],
      [['apps', '--frobnicate'], "unknown option '--frobnicate'"],
    ] as const) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.err, `paas: ${message}\nSee 'paas help'.\n`);
    }
  });

  it('reports a bad setting for `up` as an error naming the variable', async () => {
    let err = '';
    const code = await runCli(['up'], { env: { PAAS_RUN: 'relative' }, out: () => undefined, err: (s) => (err += s) });
    assert.equal(code, 1);
    assert.equal(err, 'Error: PAAS_RUN="relative": must be an absolute path\n');
  });
});
