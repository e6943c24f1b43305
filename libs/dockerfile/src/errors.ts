/**
 * The one error type of this library. Every failure a Dockerfile or .dockerignore can cause
 * surfaces as a DockerfileError, never as a raw TypeError or SyntaxError, so that the CLI can
 * print it as `Dockerfile:3:1: unknown instruction: CPOY (did you mean COPY?)` and exit 1.
 */
import { PaasError } from '@paas/errors';

/** Where an error happened: 1-based line and column, as an editor shows them. */
export interface SourcePosition {
  readonly line: number;
  readonly column?: number;
  readonly endLine?: number;
}

export class DockerfileError extends PaasError {
  /** The message without its location prefix. */
  readonly reason: string;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly endLine: number | undefined;
  /**
   * For errors raised by `substitute` without a location: the offset in the processed word,
   * so that a caller knowing where the word sits can point at the right column.
   */
  readonly offset: number | undefined;

  constructor(reason: string, where: { file?: string; offset?: number } & Partial<SourcePosition> = {}) {
    super('invalid_params', formatLocation(where.file, where.line, where.column) + reason);
    this.reason = reason;
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
    this.endLine = where.endLine ?? where.line;
    this.offset = where.offset;
  }

  /** The same error placed at a location (used when a lower layer did not know it). */
  at(file: string, position: SourcePosition): DockerfileError {
    return new DockerfileError(this.reason, { file, ...position });
  }
}

function formatLocation(file: string | undefined, line: number | undefined, column: number | undefined): string {
  if (line === undefined) return file === undefined ? '' : `${file}: `;
  return `${file ?? 'Dockerfile'}:${line}${column === undefined ? '' : `:${column}`}: `;
}

/**
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment), so
 * that `CPOY` is one typo away from `COPY`, as a person sees it.
 */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const up = rows[i - 1] ?? [];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((up[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (up[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

/**
 * The closest candidate, if it is close enough to be a typo rather than a different word
 * (up to half the length: `--plat` still finds `--platform`).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === undefined || bestDistance === 0) return best;
  const longest = Math.max(lower.length, best.length);
  return bestDistance <= Math.max(1, Math.floor(longest / 2)) && bestDistance < longest ? best : undefined;
}
