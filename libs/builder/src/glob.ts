/**
 * COPY/ADD source wildcards, as Docker matches them (Go's filepath.Match over the whole
 * context-relative path): `*` and `?` never cross `/`, `[...]` is a class (`[^...]` or
 * `[!...]` negated), `\` escapes the next character.
 */

export function hasWildcards(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

export function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? '';
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\' && i + 1 < pattern.length) re += escape(pattern[++i] ?? '');
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += escape(ch);
  }
  return new RegExp(`${re}$`, 'u');
}

function escape(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

/** The directory part before the first wildcard: where a walk for matches can start. */
export function literalPrefixDir(pattern: string): string {
  const first = pattern.search(/[*?[\\]/);
  const literal = first < 0 ? pattern : pattern.slice(0, first);
  const slash = literal.lastIndexOf('/');
  return slash < 0 ? '' : literal.slice(0, slash);
}
