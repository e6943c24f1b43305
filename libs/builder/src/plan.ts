/**
 * Which stages a build needs, as BuildKit plans them: the target (the last stage by default)
 * and, transitively, the stages it starts FROM or copies `--from`. Stages nothing needs are
 * never run. Also the step count `Step N/M` shows: every instruction of the needed stages.
 */
import type { Stage, Stages } from '@paas/dockerfile';
import { BuildError } from './errors';

/** A `--from`/FROM name as a stage index: the name of an earlier stage, or its number. */
export function stageIndex(stages: readonly Stage[], name: string, before: number): number | undefined {
  const lower = name.toLowerCase();
  const named = stages.findIndex((s, i) => i < before && s.name === lower);
  if (named >= 0) return named;
  if (/^\d+$/.test(name)) {
    const n = Number(name);
    if (n >= before) throw new BuildError(`invalid from flag value ${name}: refers to current or future build stage`);
    return n;
  }
  return undefined;
}

export function targetIndex(stages: Stages, target: string | undefined): number {
  if (target === undefined) return stages.stages.length - 1;
  const index = stages.stages.findIndex((s) => s.name === target.toLowerCase());
  if (index < 0) throw new BuildError(`failed to reach build target ${target} in Dockerfile`);
  return index;
}

/** Indexes of the stages the target needs, in Dockerfile order. */
export function neededStages(stages: Stages, target: number): number[] {
  const needed = new Set<number>();
  const visit = (index: number): void => {
    if (needed.has(index)) return;
    needed.add(index);
    const stage = stages.stages[index];
    if (!stage) return;
    if (stage.from.stage !== undefined) visit(stage.from.stage);
    for (const instruction of stage.instructions) {
      if (instruction.kind !== 'copy' || instruction.from === undefined) continue;
      const from = stageIndex(stages.stages, instruction.from, index);
      if (from !== undefined) visit(from);
    }
  };
  visit(target);
  return [...needed].sort((a, b) => a - b);
}

export function stepCount(stages: Stages, needed: readonly number[]): number {
  return needed.reduce((n, i) => n + 1 + (stages.stages[i]?.instructions.length ?? 0), 0);
}
