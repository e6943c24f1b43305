/** Output in the style of Heroku's CLI: `=== headers`, aligned `Key: value` lists, short ages. */

import { BINARY_UNITS, inUnits } from '../format';

/** `=== text` */
export function header(text: string): string {
  return `=== ${text}\n`;
}

/**
 * `Key:   value` lines with the values aligned, in the given order; entries whose value is
 * undefined or null are left out (an empty string is shown: a config var may be empty).
 */
export function keyValues(entries: readonly (readonly [string, string | undefined | null])[]): string {
  const shown = entries.filter((e): e is readonly [string, string] => e[1] !== undefined && e[1] !== null);
  const width = Math.max(0, ...shown.map(([k]) => k.length + 1));
  return shown
    .map(([k, v]) => `${`${k}:`.padEnd(width)} ${indentContinuation(v, width + 1)}`.trimEnd() + '\n')
    .join('');
}

function indentContinuation(value: string, width: number): string {
  return value.replace(/\n/g, `\n${' '.repeat(width)}`);
}

/** Columns separated by two spaces, without a header line (Heroku's release and build lists). */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map(
      (row) =>
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}

/** `just now`, `42s ago`, `5m ago`, `3h ago`, `12d ago`, then the date. */
export function shortAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const s = Math.max(0, Math.floor((now - then) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 86_400 * 30) return `${Math.floor(s / 86_400)}d ago`;
  return new Date(then).toISOString().slice(0, 10);
}

/** `2024-01-02 13:04:05 UTC (5m ago)` */
export function when(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  return `${new Date(then).toISOString().slice(0, 19).replace('T', ' ')} UTC (${shortAgo(iso, now)})`;
}

/** `2024-01-02 13:04 UTC`: a time to the minute (certificates' dates, backups' times). */
export function utc(iso: string | null | undefined): string {
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '';
}

/** A value as a POSIX shell word: bare when safe, else single-quoted. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `A`, `A and B`, `A, B and C` */
export function listing(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** The first 7 characters of a commit, or the text as is. */
export function shortCommit(commit: string | null | undefined): string {
  if (!commit) return '';
  return /^[0-9a-f]{40,64}$/.test(commit) ? commit.slice(0, 7) : commit;
}

/** `REF@DIGEST` of a build's or release's image (the ref alone without a digest); undefined without one. */
export function imageLine(ref: string | null | undefined, digest: string | null | undefined): string | undefined {
  if (!ref) return undefined;
  return digest ? `${ref}@${digest}` : ref;
}

/** A build's or release's process types as `type: command` lines; undefined when there are none. */
export function processLines(types: Readonly<Record<string, string>> | null | undefined): string | undefined {
  if (!types || Object.keys(types).length === 0) return undefined;
  return Object.entries(types)
    .map(([type, command]) => `${type}: ${command}`)
    .join('\n');
}

/** Pretty JSON for `--json`. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** 1073741824 -> `1 GiB`, 536870912 -> `512 MiB`. */
export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const { value: v, unit } = inUnits(value, 1024, BINARY_UNITS);
  return `${Number(v.toFixed(v < 10 && unit !== 'B' ? 1 : 0))} ${unit}`;
}
