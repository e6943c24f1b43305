/** run through the CLI's entry point against the fake api (../testing/platform-cli.ts): output streamed, the remote exit status. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas run', () => {
  const t = platformCli();
  before(() => void t.api.addApp('shop'));

  it('run -a APP streams the output and exits with the remote status', async () => {
    const r = await t.cli(['run', '-a', 'shop', 'echo', 'hi']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'running: echo hi\nhéllo wörld\n');
    assert.deepEqual(t.api.requests.at(-1)?.body, { command: ['echo', 'hi'] });
    const failed = await t.cli(['run', '--app', 'shop', '-e', 'A=1', 'exit 3']);
    assert.equal(failed.code, 3);
    assert.equal(failed.out, 'running: exit 3\nA=1\nhéllo wörld\n');
    assert.equal(failed.err, '');
    assert.deepEqual(t.api.requests.at(-1)?.body, { command: 'exit 3', env: { A: '1' } });
  });
});
