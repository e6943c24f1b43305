/**
 * Config vars as `KEY=value` lines with shell quoting: what `paas config --shell` prints and
 * what `paas config:edit` writes for the editor and reads back. Reading takes what a POSIX
 * shell would read as plain assignments (no expansion): bare words, '...' (newlines included),
 * "..." with \", \\, \$, \` and \<newline>, a backslash before any other character outside
 * quotes, an optional `export `, blank lines and `#` comments. Anything else is refused with
 * its line, never guessed at.
 */
import { CONFIG_KEY, CONFIG_KEY_RULE } from '@paas/platform/names';
import { CliError } from '../../errors';
import { shellQuote } from '../format';

/** One `KEY=value` line per var, keys sorted, values quoted as a shell reads them back. */
export function shellLines(vars: Readonly<Record<string, string>>): string {
  return Object.keys(vars)
    .sort()
    .map((k) => `${k}=${shellQuote(vars[k] ?? '')}\n`)
    .join('');
}

/** A line of a config file that does not read; `line` counts from 1. */
export class ConfigFileError extends CliError {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

const SPACE = /[ \t]/;

/** The vars of `text` (as shellLines writes them, or edited by hand); throws ConfigFileError. */
export function parseShellLines(text: string): Record<string, string> {
  const vars: Record<string, string> = Object.create(null) as Record<string, string>; // `__proto__` is a key like any other
  const seenOn = new Map<string, number>();
  let i = 0;
  let line = 1;
  const at = (): string => text[i] ?? '';
  while (i < text.length) {
    // blank space, blank lines and comments between assignments
    if (SPACE.test(at())) {
      i++;
      continue;
    }
    if (at() === '\n') {
      i++;
      line++;
      continue;
    }
    if (at() === '#') {
      while (i < text.length && at() !== '\n') i++;
      continue;
    }
    const start = line;
    if (text.startsWith('export', i) && SPACE.test(text[i + 6] ?? '')) {
      i += 6;
      while (SPACE.test(at())) i++;
    }
    const name = /^[^\s=]*/.exec(text.slice(i))?.[0] ?? '';
    if (text[i + name.length] !== '=') {
      const word = /^\S*/.exec(text.slice(i))?.[0] ?? '';
      throw new ConfigFileError(start, `expected KEY=value, not ${JSON.stringify(word.slice(0, 40))}`);
    }
    if (!CONFIG_KEY.test(name)) {
      throw new ConfigFileError(start, `${JSON.stringify(name.slice(0, 40))} is not ${CONFIG_KEY_RULE}`);
    }
    const earlier = seenOn.get(name);
    if (earlier !== undefined) throw new ConfigFileError(start, `${name} is set twice (on line ${earlier} too)`);
    i += name.length + 1;
    let value = '';
    // the value: quoted and bare parts up to unquoted blank space, a newline or the end
    while (i < text.length && !SPACE.test(at()) && at() !== '\n') {
      const c = at();
      if (c === "'") {
        const end = text.indexOf("'", i + 1);
        if (end < 0) throw new ConfigFileError(line, `the ' opened here in the value of ${name} is never closed`);
        const quoted = text.slice(i + 1, end);
        value += quoted;
        line += quoted.split('\n').length - 1;
        i = end + 1;
      } else if (c === '"') {
        const opened = line;
        i++;
        for (;;) {
          if (i >= text.length) {
            throw new ConfigFileError(opened, `the " opened here in the value of ${name} is never closed`);
          }
          const d = at();
          if (d === '"') break;
          if (d === '\\' && /["\\$`\n]/.test(text[i + 1] ?? '')) {
            const next = text[i + 1] as string;
            if (next === '\n') line++;
            else value += next;
            i += 2;
            continue;
          }
          if (d === '\n') line++;
          value += d;
          i++;
        }
        i++;
      } else if (c === '\\') {
        const next = text[i + 1];
        if (next === undefined) throw new ConfigFileError(line, `the value of ${name} ends in a lone \\`);
        if (next === '\n')
          line++; // a continued line
        else value += next;
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    // after the value: blank space, then a comment or the end of the line
    while (SPACE.test(at())) i++;
    if (at() === '#') while (i < text.length && at() !== '\n') i++;
    if (i < text.length && at() !== '\n') {
      throw new ConfigFileError(line, `unquoted blank space in the value of ${name}: quote the value ('...')`);
    }
    seenOn.set(name, start);
    vars[name] = value;
  }
  return { ...vars };
}
