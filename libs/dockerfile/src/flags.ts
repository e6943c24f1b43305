/**
 * Instruction flags (`--from=build`, `--link`, `--mount=...`), checked the way BuildKit's
 * BFlags checks them: only declared flags, booleans accept nothing/true/false, string flags need
 * a value, repeatable flags collect every value, and a bare `--` ends the flags.
 */
import { closest, DockerfileError } from './errors';

export type FlagKind = 'bool' | 'string' | 'strings';

export interface FlagValues {
  bool(name: string): boolean;
  string(name: string): string | undefined;
  strings(name: string): string[];
}

/** A flag error, with the flag text so the caller can point at its column. */
export class FlagError extends DockerfileError {
  constructor(
    reason: string,
    readonly flag: string,
  ) {
    super(reason);
  }
}

/** Parsed flag values; a class rather than closures, since every instruction makes one. */
class ParsedFlags implements FlagValues {
  private readonly values: Record<string, boolean | string | string[]> = {};
  bool(name: string): boolean {
    return this.values[name] === true;
  }
  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }
  strings(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v : [];
  }
  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.values, name);
  }
  set(name: string, value: boolean | string): void {
    this.values[name] = value;
  }
  push(name: string, value: string): void {
    const list = this.values[name];
    if (Array.isArray(list)) list.push(value);
    else this.values[name] = [value];
  }
}

const NO_FLAGS = new ParsedFlags();

export function parseFlags(flags: readonly string[], spec: Readonly<Record<string, FlagKind>>): FlagValues {
  if (flags.length === 0) return NO_FLAGS;
  const parsed = new ParsedFlags();
  for (const flag of flags) {
    if (flag === '--') break;
    if (!flag.startsWith('--')) throw new FlagError(`arg should start with -- : ${flag}`, flag);
    const eq = flag.indexOf('=');
    const name = eq < 0 ? flag.slice(2) : flag.slice(2, eq);
    const value = eq < 0 ? undefined : flag.slice(eq + 1);
    const kind = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (!kind) {
      const suggestion = closest(name, Object.keys(spec));
      const hint = suggestion ? ` (did you mean --${suggestion}?)` : '';
      throw new FlagError(`unknown flag: --${name}${hint}`, flag);
    }
    if (kind !== 'strings' && parsed.has(name)) throw new FlagError(`duplicate flag specified: --${name}`, flag);
    if (kind === 'bool') {
      if (value === '') throw new FlagError(`missing a value on flag: --${name}`, flag);
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') {
        throw new FlagError(`expecting boolean value for flag --${name}, not: ${value ?? ''}`, flag);
      }
      parsed.set(name, v === 'true');
    } else if (value === undefined) {
      throw new FlagError(`missing a value on flag: --${name}`, flag);
    } else if (kind === 'string') parsed.set(name, value);
    else parsed.push(name, value);
  }
  return parsed;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration (`1m30s`, `500ms`, `1.5h`), in nanoseconds; undefined if malformed. */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = part.exec(s);
    if (!m || !m[1] || !m[2]) return undefined;
    total += Number.parseFloat(m[1]) * (UNIT_NS[m[2]] ?? 0);
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}

const SYMBOLIC_MODE = /^[ugoa]*([-+=]([rwxXst]*|[ugo]))+(,[ugoa]*([-+=]([rwxXst]*|[ugo]))+)*$/;

/** `--chmod`: an octal mode up to 07777, or a symbolic one (`u+x,g-w`) as newer BuildKit allows. */
export function checkChmod(value: string): void {
  if (/^[0-7]{1,4}$/.test(value) || SYMBOLIC_MODE.test(value)) return;
  throw new DockerfileError(`chmod --chmod=${value} is not an octal mode`);
}
