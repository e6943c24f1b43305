/** Waiting in a spec for what happens by itself (a watcher's message, a poller's write). */
import assert from 'node:assert/strict';

/** Polls `check` until it holds, failing the spec with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > deadline) assert.fail(`timed out: ${what}`);
  }
}
