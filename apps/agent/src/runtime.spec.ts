import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerRecord, Engine } from '@paas/engine';
import { EngineRuntime } from './runtime';

/** An engine of which only the lease file is read: each read resolves when the spec says. */
class FakeLeases {
  readonly leases: Record<string, { ip: string; ports: [] }> = {};
  readonly reads: ((value: Record<string, { ip: string; ports: [] }>) => void)[] = [];

  networkLeases(): Promise<Record<string, { ip: string; ports: [] }>> {
    return new Promise((resolve) => this.reads.push(resolve));
  }

  /** Ends the `n`th read with the leases as they are now. */
  answer(n: number): void {
    this.reads[n]?.({ ...this.leases });
  }
}

const record = (id: string): ContainerRecord => ({ id }) as ContainerRecord;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('EngineRuntime addresses', () => {
  it('reads the lease file once for instances that ask together, and again for those asking during a read', async () => {
    const engine = new FakeLeases();
    const runtime = new EngineRuntime(engine as unknown as Engine);
    engine.leases['c1'] = { ip: '10.0.0.1', ports: [] };
    engine.leases['c2'] = { ip: '10.0.0.2', ports: [] };

    const together = [runtime.address(record('c1')), runtime.address(record('c2'))];
    await turn();
    assert.equal(engine.reads.length, 1, 'one read for both');

    // c3 gets its lease and asks while the first read is under way: the first read may not
    // have seen it, so c3 waits for a read that starts after it asked
    engine.leases['c3'] = { ip: '10.0.0.3', ports: [] };
    const later = [runtime.address(record('c3')), runtime.address(record('c1'))];
    engine.answer(0);
    assert.deepEqual(await Promise.all(together), [engine.leases['c1'], engine.leases['c2']]);
    await turn();
    assert.equal(engine.reads.length, 2, 'the callers that came during the first read share the second');
    engine.answer(1);
    assert.deepEqual(await Promise.all(later), [engine.leases['c3'], engine.leases['c1']]);

    const none = runtime.address(record('c4'));
    await turn();
    engine.answer(2);
    assert.equal(await none, null, 'a container without a lease has no address');
  });
});
