/**
 * `WWW-Authenticate` challenges (RFC 7235): `Bearer realm="...",service="...",scope="..."`
 * or `Basic realm="..."`. Quoted values may contain commas and escaped quotes.
 */
export interface Challenge {
  readonly scheme: string;
  readonly params: Record<string, string>;
}

export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/gy;
  const rest = m[2] ?? '';
  let p: RegExpExecArray | null;
  while ((p = re.exec(rest)) !== null && p[0].length > 0) {
    params[(p[1] ?? '').toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}
