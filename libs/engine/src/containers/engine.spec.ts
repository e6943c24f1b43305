import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFailureCode } from './engine';

const created = 'create container `0123`: paas-runtime: ';

describe('startFailureCode', () => {
  it('gives 127 and 126 for the command itself, as docker does', () => {
    assert.equal(startFailureCode(`${created}exec \`nosuch\`: No such file or directory`), 127);
    assert.equal(startFailureCode(`${created}exec \`/etc/passwd\`: Permission denied`), 126);
    assert.equal(startFailureCode(`${created}exec \`/bin/x\`: Exec format error`), 126);
  });

  it('gives 125 for every other refusal, whatever its errno says', () => {
    for (const reason of [
      'set capabilities: Operation not permitted',
      'install seccomp filter: Permission denied',
      'apply AppArmor profile `x`: open `/proc/thread-self/attr/exec`: No such file or directory',
      'setgroups: Operation not permitted',
      'mask `/proc/kcore`: Permission denied',
    ])
      assert.equal(startFailureCode(`${created}${reason}`), 125, reason);
  });
});
