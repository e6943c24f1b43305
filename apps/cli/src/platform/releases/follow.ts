/**
 * What a new release really did, for the verbs that make one (`config:set`, `config:unset`,
 * `rollback`): a release with an image deploys before it serves, so the verb follows it for a
 * few seconds (unless --no-wait) and says where it stands: live, still deploying (with what it
 * waits for, e.g. no node has room), or failed with the reason (and the verb exits 1).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Release } from '@paas/api-types';
import { CliError } from '../../errors';
import type { ApiClient } from '../client';
import { appPath } from '../session';

/** How long a verb follows its release's deploy; past it, it says the release is still deploying. */
const FOLLOW_MS = 15_000;
const POLL_MS = 250;

/** Follows release `version` until it is live or failed, waits for room, or the wait ends. */
export async function followRelease(client: ApiClient, app: string, release: Release, wait: boolean): Promise<Release> {
  let r = release;
  const deadline = Date.now() + FOLLOW_MS;
  while (wait && r.status === 'deploying' && !r.waiting && Date.now() < deadline) {
    await sleep(POLL_MS);
    r = await client.get<Release>(appPath(app, 'releases', r.version));
  }
  return r;
}

/** `v5`, `v5 (deploying)`, `v5 (deploying, waiting: no node has 512 MiB free)`, `v5 (failed: ...)`. */
export function releaseOutcome(r: Pick<Release, 'version' | 'status' | 'waiting' | 'error'>): string {
  if (r.status === 'live' || r.status === 'superseded') return `v${r.version}`;
  if (r.status === 'failed') return `v${r.version} (failed: ${r.error ?? 'no reason given'})`;
  if (r.status === 'deploying' && r.waiting) return `v${r.version} (deploying, waiting: ${r.waiting})`;
  return `v${r.version} (${r.status})`;
}

/** A release whose deploy failed fails the verb (exit 1), after its line said why. */
export function failIfFailed(r: Pick<Release, 'version' | 'status'>): void {
  if (r.status === 'failed')
    throw new CliError(`the deploy of v${r.version} failed; the previous release keeps serving`);
}
