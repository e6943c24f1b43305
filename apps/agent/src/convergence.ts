/**
 * The agent's convergence, without I/O: the desired set a heartbeat answers with, against
 * what the node has, gives the few actions that make the node run exactly that set. The
 * agent (agent.ts) carries them out through the instance lifecycle (instance.ts).
 *
 *   launch   desired, and the node has no such instance: pull, create, start, check
 *   claim    the node has it but did not know it was desired (adopted after an agent
 *            restart): it takes the desired entry, and is checked if its check had not passed
 *   leave    the node has it and it is no longer desired: drain, stop, remove
 *   reach    the node has it, but its container may connect to other add-ons than the
 *            desired entry says (one was attached to or detached from its app): the
 *            container's entries change in place, never a reason to replace the instance
 *
 * Instances already leaving are left to finish; one desired again later is launched anew
 * once the old one is gone (a new container, never the one being stopped).
 */
import type { DesiredInstance, ServiceEndpoint } from '@paas/platform';

/** What convergence needs to know of an instance the node has. */
export interface HeldInstance {
  readonly id: string;
  /** Null until a heartbeat answer names it (an adopted container). */
  readonly desired: DesiredInstance | null;
  readonly leaving: boolean;
  /** The add-on endpoints its container may connect to; null while it has no container (its create takes the desired entry's). */
  readonly reach: readonly ServiceEndpoint[] | null;
}

export type ConvergeAction =
  | { readonly kind: 'launch'; readonly desired: DesiredInstance }
  | { readonly kind: 'claim'; readonly id: string; readonly desired: DesiredInstance }
  | { readonly kind: 'leave'; readonly id: string }
  | { readonly kind: 'reach'; readonly id: string; readonly desired: DesiredInstance };

/** The add-on endpoints a desired instance's container may connect to: an add-on's, none. */
export function reachOf(d: DesiredInstance): readonly ServiceEndpoint[] {
  return d.addon ? [] : (d.reach ?? []);
}

/** Whether two lists name the same endpoints, in whatever order and however often. */
export function sameReach(a: readonly ServiceEndpoint[], b: readonly ServiceEndpoint[]): boolean {
  const key = (e: ServiceEndpoint): string => `${e.address}:${e.port}`;
  const left = new Set(a.map(key));
  const right = new Set(b.map(key));
  return left.size === right.size && [...left].every((k) => right.has(k));
}

export function converge(
  desired: readonly DesiredInstance[],
  held: ReadonlyMap<string, HeldInstance>,
): ConvergeAction[] {
  const actions: ConvergeAction[] = [];
  const wanted = new Set<string>();
  for (const d of desired) {
    if (wanted.has(d.id)) continue;
    wanted.add(d.id);
    const instance = held.get(d.id);
    if (!instance) {
      actions.push({ kind: 'launch', desired: d });
      continue;
    }
    if (!instance.desired) actions.push({ kind: 'claim', id: d.id, desired: d });
    if (!instance.leaving && instance.reach !== null && !sameReach(instance.reach, reachOf(d))) {
      actions.push({ kind: 'reach', id: d.id, desired: d });
    }
  }
  for (const instance of held.values()) {
    if (!wanted.has(instance.id) && !instance.leaving) actions.push({ kind: 'leave', id: instance.id });
  }
  return actions;
}
