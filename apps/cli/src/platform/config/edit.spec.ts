/**
 * config:edit through the CLI's entry point against the fake api (../testing/platform-cli.ts),
 * with fake editors ($EDITOR, $VISUAL: shell scripts) that keep a copy of what they were given
 * and write their own version in its place.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';
import { parseShellLines } from './shell-format';

describe('paas config:edit', () => {
  const t = platformCli();
  let seen = '';
  let given = '';
  before(async () => {
    t.api.addApp('shop');
    await t.ok('config:set', '-a', 'shop', 'KEEP=same', 'CHANGE=old', 'DROP=gone soon', "QUOTED=it's");
    seen = join(t.base, 'seen');
    given = join(t.base, 'given');
  });

  /** An editor that copies the file it edits (mode kept) to `seen`, its path to `given`, then writes `content` (null: leaves it). */
  const editor = (content: string | null): string => {
    const script = join(t.base, 'editor.sh');
    const write = content === null ? '' : `cat '${join(t.base, 'content')}' > "$1"`;
    if (content !== null) writeFileSync(join(t.base, 'content'), content);
    writeFileSync(script, `#!/bin/sh\ncp -p "$1" '${seen}'\nprintf '%s' "$1" > '${given}'\n${write}\n`);
    chmodSync(script, 0o755);
    return script;
  };
  const edit = (env: Record<string, string>) =>
    t.cli(['config:edit', '-a', 'shop'], { PATH: process.env['PATH'] ?? '', ...env });
  const patches = (): unknown[] => t.api.requests.filter((q) => q.method === 'PATCH').map((q) => q.body);
  const releases = (): number => t.api.state('shop').releases.length;

  it('hands the vars to the editor in a 0600 file as config --shell prints them, and with no change makes no release', async () => {
    const [before, count] = [patches().length, releases()];
    const r = await edit({ EDITOR: editor(null) });
    assert.deepEqual(r, { code: 0, out: '', err: 'No changes to the config vars of shop: no release\n' });
    const text = readFileSync(seen, 'utf8');
    assert.match(text, /^# Config vars of shop: /);
    assert.ok(text.endsWith((await t.ok('config', '-a', 'shop', '--shell')).out), text);
    assert.equal(statSync(seen).mode & 0o777, 0o600);
    assert.equal(existsSync(dirname(readFileSync(given, 'utf8'))), false, 'the file and its directory are gone');
    assert.deepEqual([patches().length, releases()], [before, count]);
  });

  it('applies what changed, added and went as one release, $VISUAL before $EDITOR', async () => {
    const count = releases();
    const content = "# mine\nKEEP=same\nCHANGE=new\nQUOTED=\"it's\"\nADDED='two\nlines'\n";
    const r = await edit({ VISUAL: editor(content), EDITOR: '/bin/false' });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, 'Setting CHANGE and ADDED and unsetting DROP and restarting shop... done, v2\n');
    assert.deepEqual(patches().at(-1), { CHANGE: 'new', ADDED: 'two\nlines', DROP: null });
    assert.equal(releases(), count + 1, 'one release');
    assert.deepEqual(t.api.state('shop').config, parseShellLines(content));
    assert.equal(existsSync(dirname(readFileSync(given, 'utf8'))), false);
  });

  it('keeps an edit that does not read, says which line and why, and makes no release', async () => {
    const [before, count] = [patches().length, releases()];
    const r = await edit({ EDITOR: editor('KEEP=same\nCHANGE=newer\nthis is not a var\n') });
    assert.equal(r.code, 1);
    const file = readFileSync(given, 'utf8');
    assert.equal(
      r.err,
      `paas: line 3: expected KEY=value, not "this"; nothing changed, no release (your edit is kept in ${file})\n`,
    );
    assert.equal(readFileSync(file, 'utf8'), 'KEEP=same\nCHANGE=newer\nthis is not a var\n');
    assert.deepEqual([patches().length, releases()], [before, count]);
    rmSync(dirname(file), { recursive: true, force: true });
  });

  it('keeps the file when the editor fails', async () => {
    const script = join(t.base, 'failing.sh');
    writeFileSync(script, `#!/bin/sh\nprintf '%s' "$1" > '${given}'\nexit 4\n`);
    chmodSync(script, 0o755);
    const r = await edit({ EDITOR: script });
    assert.equal(r.code, 1);
    const file = readFileSync(given, 'utf8');
    assert.equal(
      r.err,
      `paas: the editor "${script}" exited 4; nothing changed, no release (your edit is kept in ${file})\n`,
    );
    rmSync(dirname(file), { recursive: true, force: true });
  });
});
