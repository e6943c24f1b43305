/**
 * Docker token scopes: `repository:<name>:pull,push` and `registry:catalog:*`, as they travel
 * in `scope=` query parameters, in the `WWW-Authenticate` challenge and in a token's `access`.
 */
export interface Access {
  readonly type: string;
  readonly name: string;
  readonly actions: string[];
}

/** Parses `repository:a/b:pull,push` (several may be space-separated). Bad entries are dropped. */
export function parseScopes(value: string): Access[] {
  const out: Access[] = [];
  for (const scope of value.split(' ').filter(Boolean)) {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first <= 0 || last <= first) continue;
    const actions = scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean);
    out.push({ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions });
  }
  return out;
}

export function formatScope(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

/** Whether `granted` allows every action of `needed`. */
export function allows(granted: readonly Access[], needed: Access): boolean {
  return needed.actions.every((action) =>
    granted.some(
      (g) =>
        g.type === needed.type && g.name === needed.name && (g.actions.includes(action) || g.actions.includes('*')),
    ),
  );
}
