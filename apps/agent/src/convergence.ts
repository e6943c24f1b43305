/**
 * The agent's convergence, without I/O: the desired set a heartbeat answers with, against
 * what the node has, gives the few actions that make the node run exactly that set. The
 * agent (agent.ts) carries them out through the instance lifecycle (instance.ts).
 *
 *   launch   desired, and the node has no such instance: pull, create, start, check
 *   claim    the node has it but did not know it was desired (adopted after an agent
 *            restart): it takes the desired entry, and is checked if its check had not passed
 *   leave    the node has it and it is no longer desired: drain, stop, remove
 *
 * Instances already leaving are left to finish; one desired again later is launched anew
 * once the old one is gone (a new container, never the one being stopped).
 */
import type { DesiredInstance } from '@paas/platform';

/** What convergence needs to know of an instance the node has. */
export interface HeldInstance {
  readonly id: string;
  /** Null until a heartbeat answer names it (an adopted container). */
  readonly desired: DesiredInstance | null;
  readonly leaving: boolean;
}

export type ConvergeAction =
  | { readonly kind: 'launch'; readonly desired: DesiredInstance }
  | { readonly kind: 'claim'; readonly id: string; readonly desired: DesiredInstance }
  | { readonly kind: 'leave'; readonly id: string };

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
    if (!instance) actions.push({ kind: 'launch', desired: d });
    else if (!instance.desired) actions.push({ kind: 'claim', id: d.id, desired: d });
  }
  for (const instance of held.values()) {
    if (!wanted.has(instance.id) && !instance.leaving) actions.push({ kind: 'leave', id: instance.id });
  }
  return actions;
}
