/** The dashboard's pages and their URL patterns (the api serves index.html for every one). */

export type Route =
  | { page: 'login' }
  | { page: 'apps' }
  | { page: 'nodes' }
  | { page: 'app'; app: string; tab: AppTab; build?: number }
  | { page: 'not-found'; path: string };

export type AppTab = 'overview' | 'builds' | 'releases' | 'config' | 'addons' | 'domains' | 'logs';

export const APP_TABS: readonly { tab: AppTab; label: string }[] = [
  { tab: 'overview', label: 'Overview' },
  { tab: 'builds', label: 'Builds' },
  { tab: 'releases', label: 'Releases' },
  { tab: 'config', label: 'Config vars' },
  { tab: 'addons', label: 'Add-ons' },
  { tab: 'domains', label: 'Domains' },
  { tab: 'logs', label: 'Logs' },
];

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/apps') return { page: 'apps' };
  if (path === '/login') return { page: 'login' };
  if (path === '/nodes') return { page: 'nodes' };
  const m = /^\/apps\/([^/]+)(?:\/([a-z]+)(?:\/(\d+))?)?$/.exec(path);
  if (m?.[1]) {
    let app: string;
    try {
      app = decodeURIComponent(m[1]);
    } catch {
      return { page: 'not-found', path };
    }
    const tab = (m[2] ?? 'overview') as AppTab;
    if (!APP_TABS.some((t) => t.tab === tab)) return { page: 'not-found', path };
    if (m[3] !== undefined)
      return tab === 'builds' ? { page: 'app', app, tab, build: Number(m[3]) } : { page: 'not-found', path };
    return { page: 'app', app, tab };
  }
  return { page: 'not-found', path };
}

export function appUrl(app: string, tab: AppTab = 'overview', build?: number): string {
  const base = `/apps/${encodeURIComponent(app)}`;
  const withTab = tab === 'overview' ? base : `${base}/${tab}`;
  return build === undefined ? withTab : `${withTab}/${build}`;
}
