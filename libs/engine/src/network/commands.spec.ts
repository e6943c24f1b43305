/**
 * The kernel-command helpers against the real ipset and iptables (the tests run as root): a set
 * of the spec's own, named by a rule in a chain of its own that nothing jumps to, so no packet
 * of the host ever meets it. Both are removed at the end, failed or not.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { NetworkCommandError, ipset, ipsetDestroy, ipsetExists } from './commands.linux';

const SET = `PAAS-T-${process.pid}`;
const CHAIN = `PAAS-T-${process.pid}`;
const iptables = (...args: string[]): void => void execFileSync('iptables', ['-w', ...args], { stdio: 'ignore' });
const quietly = (f: () => void): void => {
  try {
    f();
  } catch {
    // already gone
  }
};

describe('ipsetDestroy', () => {
  after(() => {
    quietly(() => iptables('-F', CHAIN));
    quietly(() => iptables('-X', CHAIN));
    quietly(() => execFileSync('ipset', ['destroy', SET], { stdio: 'ignore' }));
  });

  /** The set, and a rule in the spec's own chain that holds it. */
  async function heldSet(): Promise<void> {
    await ipset(['create', SET, 'hash:ip', '-exist']);
    quietly(() => iptables('-N', CHAIN));
    iptables('-F', CHAIN);
    iptables('-A', CHAIN, '-m', 'set', '--match-set', SET, 'src', '-j', 'RETURN');
  }

  it('tries again while a rule still holds the set, and destroys it once the rule is gone', async () => {
    await heldSet();
    const destroyed = ipsetDestroy(SET, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await ipsetExists(SET), true, 'held by the rule, the set stays');
    iptables('-F', CHAIN);
    await destroyed;
    assert.equal(await ipsetExists(SET), false);
  });

  it("gives up after its wait with the kernel's refusal when a rule keeps the set", async () => {
    await heldSet();
    await assert.rejects(
      ipsetDestroy(SET, 200),
      (err: unknown) =>
        err instanceof NetworkCommandError &&
        /in use by a kernel component/.test(err.message) &&
        err.message.includes(SET),
    );
    assert.equal(await ipsetExists(SET), true);
  });

  it('says what the kernel said for a set that does not exist', async () => {
    await assert.rejects(ipsetDestroy(`${SET}-none`), /does not exist/);
  });
});
