/** Output helpers that match what Docker's CLI prints. */

/** Decimal units (Docker's image and disk sizes) and binary ones (memory). */
export const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;
export const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * `bytes` in the largest of `units` (each `base` times the one before) that leaves at least 1:
 * the one scaling every size printer of the CLI shares; each rounds and spaces as its model does.
 */
export function inUnits(bytes: number, base: 1000 | 1024, units: readonly string[]): { value: number; unit: string } {
  let value = bytes;
  let at = 0;
  while (value >= base && at < units.length - 1) {
    value /= base;
    at++;
  }
  return { value, unit: units[at] ?? '' };
}

/** Decimal sizes with three significant digits, as Docker's units.HumanSize: 4.26MB, 1.2kB, 0B. */
export function humanSize(bytes: number): string {
  const { value, unit } = inUnits(bytes, 1000, DECIMAL_UNITS);
  return `${Number(value.toPrecision(3))}${unit}`;
}

/** "2 weeks ago", as Docker's units.HumanDuration plus " ago". */
export function humanAgo(from: Date | string | undefined, now = Date.now()): string {
  if (from === undefined) return 'N/A';
  const then = typeof from === 'string' ? Date.parse(from) : from.getTime();
  if (Number.isNaN(then)) return 'N/A';
  return `${humanDuration(Math.max(0, now - then) / 1000)} ago`;
}

export function humanDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const minutes = Math.floor(s / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(s / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** Columns padded like Go's tabwriter with padding 3, the last column unpadded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3)))
      .join('')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Docker's truncated id: 12 hex digits without the algorithm. */
export function shortHex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
}
