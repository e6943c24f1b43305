/**
 * Instance sizes, as Heroku sells dynos: a name stands for a memory limit, a CPU weight and,
 * for the smallest sizes only, a hard CPU quota. CPU is shared, not reserved: an instance gets
 * cgroup cpu shares (cpu.weight on v2) in proportion to its memory, so a busy instance takes
 * idle cores and a contended node splits them by size. Placement counts memory only (against
 * the node's memory times its overcommit ratio); weight spreads softly.
 *
 * A size is written either as a name (`basic`) or as a memory amount (`512M`, `1G`, a bare
 * number is MiB) for a custom size with the weight of that memory and no quota. Every size
 * resolves to one canonical spelling, kept on formation rows and instances so that a size
 * change is seen and rolled out.
 */
import { PaasError } from '@paas/errors';

export interface Size {
  /** The canonical spelling: a name from SIZES, or `<MiB>M` for a custom size. */
  readonly name: string;
  /** Memory limit in MiB. */
  readonly memory: number;
  /** CPU weight as cgroup v1 cpu.shares (1024 is Docker's default; v2 cpu.weight is derived). */
  readonly cpuShares: number;
  /** Hard CPU limit in thousandths of a core, or null for none. */
  readonly cpuQuota: number | null;
}

/** Shares per MiB of memory: 512 MiB weighs 1024, Docker's default. */
const SHARES_PER_MIB = 2;
/** The kernel's bounds for cpu.shares. */
const SHARES_MIN = 2;
const SHARES_MAX = 262_144;

const named = (name: string, memory: number, cpuQuota: number | null = null): Size => ({
  name,
  memory,
  cpuShares: sharesFor(memory),
  cpuQuota,
});

/** The sizes, smallest first. */
export const SIZES: readonly Size[] = [
  named('nano', 32, 250),
  named('micro', 128, 500),
  named('basic', 256),
  named('standard-1x', 512),
  named('standard-2x', 1024),
  named('performance-m', 2560),
  named('performance-l', 14_336),
];

/** What a process type gets unless it asks: dozens of them fit a small VPS. */
export const DEFAULT_SIZE = 'basic';

/** Bounds of a custom size's memory, in MiB (the same bounds as the formation API's memory). */
export const SIZE_MEMORY_MIN = 16;
export const SIZE_MEMORY_MAX = 65_536;

export const SIZE_RULE = `a size: ${SIZES.map((s) => s.name).join(', ')}, or a memory amount from ${SIZE_MEMORY_MIN}M to ${SIZE_MEMORY_MAX / 1024}G (e.g. 512M, 1G)`;

export class UnknownSizeError extends PaasError {
  constructor(readonly input: string) {
    super('invalid_params', `unknown size '${input}': expected ${SIZE_RULE}`);
  }
}

const MEMORY = /^(\d{1,6})(m|mb|mi|mib|g|gb|gi|gib)?$/i;

/** The size `input` names; throws UnknownSizeError listing the sizes. */
export function parseSize(input: string): Size {
  const text = input.trim();
  const found = SIZES.find((s) => s.name === text.toLowerCase());
  if (found) return found;
  const match = MEMORY.exec(text);
  if (!match) throw new UnknownSizeError(input);
  const [, digits = '', unit = 'm'] = match;
  const memory = Number(digits) * (unit.toLowerCase().startsWith('g') ? 1024 : 1);
  if (memory < SIZE_MEMORY_MIN || memory > SIZE_MEMORY_MAX) throw new UnknownSizeError(input);
  return customSize(memory);
}

/** The size of `memory` MiB without a name: the weight of its memory, no quota. */
export function customSize(memory: number): Size {
  return (
    SIZES.find((s) => s.memory === memory && s.cpuQuota === null) ?? {
      name: `${memory}M`,
      memory,
      cpuShares: sharesFor(memory),
      cpuQuota: null,
    }
  );
}

/** The columns a size fills on a formation or an instance row. */
export function sizeFields(size: Size): {
  size: string;
  memory: number;
  cpuShares: number;
  cpuQuota: number | null;
} {
  return { size: size.name, memory: size.memory, cpuShares: size.cpuShares, cpuQuota: size.cpuQuota };
}

/** True when `input` is a size parseSize accepts. */
export function isSize(input: string): boolean {
  try {
    parseSize(input);
    return true;
  } catch {
    return false;
  }
}

function sharesFor(memory: number): number {
  return Math.min(SHARES_MAX, Math.max(SHARES_MIN, Math.round(memory * SHARES_PER_MIB)));
}
