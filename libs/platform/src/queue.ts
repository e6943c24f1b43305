/**
 * The BullMQ queues between the control plane and the workers that build (and, with the
 * agent, run) apps. Job ids are the build ids, so enqueueing the same build twice is a no-op.
 */
export const BUILDS_QUEUE = 'builds';

/** BullMQ key prefix; tests give each run its own so they can share one Redis. */
export const QUEUE_PREFIX = 'paas';

export interface BuildJobData {
  readonly buildId: string;
  readonly appId: string;
  readonly app: string;
  /** The pushed commit, 40 hex. */
  readonly commit: string;
  readonly ref: string;
  /** Path of the app's bare repository on the control plane's node. */
  readonly repo: string;
  /**
   * Set by a push: the branch's commit when it started. Such a build is released only while
   * its push holds it (builds/push-lease.ts); a build of a push that died deploys nothing.
   */
  readonly oldId?: string;
}

/** What a finished build job returns. */
export interface BuildJobResult {
  readonly releaseId: string;
  readonly version: number;
}
