/**
 * The step cache key, in the manner of BuildKit: a sha256 of the canonical form of the
 * operation with the fields that cannot change the result removed, chained with what it
 * builds on (the parent image id) and the content hash of what it copies in.
 *
 *   key = sha256(canonicalJson({
 *     v:       CACHE_KEY_VERSION,
 *     parent:  parent image id (config digest), or "scratch",
 *     op:      the typed instruction after substitution, without its source location and
 *              raw text (a comment or a line break moved elsewhere does not bust the cache),
 *              and without how it was written (`json`, the `--from` spelling),
 *     args:    build args in effect — RUN only: RUN sees them as environment variables,
 *              every other instruction sees them only through substitution, already in `op`,
 *     sources: content hash of the copied files (COPY/ADD from the context; see context.ts),
 *     from:    image id the files come from (COPY --from a stage or an image),
 *     scope:   the build's cache scope (BuildOptions.cacheScope: the platform's app), when
 *              it has one: a RUN step's result may depend on what no key field holds (the
 *              scope's cache mounts, its secrets), so two scopes never share an entry,
 *   }))
 *
 * The parent id covers everything the step inherits: layers, ENV, WORKDIR, USER, SHELL.
 * Bump the version when the meaning of a key changes, so old entries are simply missed.
 */
import { createHash } from 'node:crypto';
import type { Instruction } from '@paas/dockerfile';
import { canonicalJson } from './canonical-json';

export const CACHE_KEY_VERSION = 1;

export interface StepKeyInput {
  /** Parent image id, or undefined for `FROM scratch`. */
  readonly parent: string | undefined;
  readonly instruction: Instruction;
  /** Build args in effect at this step (declared ARGs with a value). */
  readonly args?: Readonly<Record<string, string>>;
  /** Content hash of the context files a COPY/ADD copies. */
  readonly sources?: string;
  /** Image id a `COPY --from` copies from. */
  readonly from?: string;
  /** The build's cache scope; none or '' (the CLI's) keeps the key it had without one. */
  readonly scope?: string;
}

/** The instruction without what cannot change the result. */
export function canonicalOperation(instruction: Instruction): Record<string, unknown> {
  const drop = new Set(['location', 'original']);
  if (instruction.kind === 'copy' || instruction.kind === 'add') drop.add('json').add('from');
  return Object.fromEntries(Object.entries(instruction).filter(([k]) => !drop.has(k)));
}

export function stepCacheKey(input: StepKeyInput): string {
  const body = {
    v: CACHE_KEY_VERSION,
    parent: input.parent ?? 'scratch',
    op: canonicalOperation(input.instruction),
    args: input.instruction.kind === 'run' ? { ...(input.args ?? {}) } : undefined,
    sources: input.sources,
    from: input.from,
    scope: input.scope || undefined,
  };
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}
