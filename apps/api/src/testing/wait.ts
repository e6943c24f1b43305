import assert from 'node:assert/strict';

/** Polls `check` until it holds, failing the spec with `what` after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) assert.fail(`timed out: ${what}`);
  }
}
