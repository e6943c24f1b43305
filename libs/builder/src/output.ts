/**
 * The classic `docker build` text, in one place: every line the builder prints goes through
 * here, so the CLI, the platform's build queue and the tests all see the same words.
 */

export interface BuildOutput {
  /** One line of builder text, without its newline. */
  line(text: string): void;
  /** A RUN step's own output, as it comes. */
  raw(chunk: Buffer): void;
  /** A progress line that replaces itself (only given on a terminal). */
  progress?(text: string): void;
}

/** A sink that drops everything (`-q`, or a caller that only wants the result). */
export const SILENT: BuildOutput = { line: () => undefined, raw: () => undefined };

/** Docker's units.HumanSize: decimal units, 4 significant digits, no trailing zeros. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${Number.parseFloat(value.toPrecision(4))}${units[i] ?? 'B'}`;
}

export function short(hexOrDigest: string): string {
  return hexOrDigest.replace(/^sha256:/, '').slice(0, 12);
}
