import { useCallback, useEffect, useRef, useState } from 'react';
import { type App, PlatformApiError, type LogLine, appPath, get } from '../api';
import { Badge, ErrorNotice } from '../components';
import { useEventStream, usePoll, useTitle } from '../hooks';
import { Link } from '../nav';
import { APP_TABS, type AppTab, appUrl } from '../route';
import type { SseMessage } from '../sse';
import { Addons } from './app-addons';
import { Builds } from './app-builds';
import { Overview } from './app-overview';
import { Certificates } from './app-certs';
import { ConfigVars, Domains, Logs, Releases } from './app-sections';
import type { AppView, LogEntry } from './app-view';

const MAX_LOG_LINES = 1000;
const INSTANCE_SOURCE = /^[a-z][a-z0-9_-]*\.\d+$/;

/** Redis stream ids (`ms-seq`), compared as numbers: replays after a reconnect are skipped. */
function newer(id: string, than: string | null): boolean {
  if (than === null) return true;
  const [a = 0, b = 0] = id.split('-').map(Number);
  const [c = 0, d = 0] = than.split('-').map(Number);
  return a > c || (a === c && b > d);
}

export function AppPage({ name, tab, build }: { name: string; tab: AppTab; build?: number }) {
  const [version, setVersion] = useState(0);
  const [logs, setLogs] = useState<LogEntry[]>([]);
  const lastId = useRef<string | null>(null);
  const bump = useRef<number | undefined>(undefined);
  const app = usePoll((signal) => get<App>(appPath(name), signal), 10_000, [name, version]);
  useTitle(tab === 'overview' ? name : `${APP_TABS.find((t) => t.tab === tab)?.label ?? tab} · ${name}`);

  // At most a few reloads a second, however busy the log is.
  const changed = useCallback(() => {
    if (bump.current !== undefined) return;
    bump.current = window.setTimeout(() => {
      bump.current = undefined;
      setVersion((v) => v + 1);
    }, 300);
  }, []);
  useEffect(() => () => window.clearTimeout(bump.current), []);

  // The app's log is the page's live feed: its lines are shown under Logs, and each one
  // (a build, a release, the scheduler placing or stopping instances) reloads what is shown.
  const onLog = useCallback(
    (message: SseMessage) => {
      const id = message.id ?? '';
      if (id && !newer(id, lastId.current)) return;
      let entry: LogLine;
      try {
        entry = JSON.parse(message.data) as LogLine;
      } catch {
        return;
      }
      if (id) lastId.current = id;
      setLogs((l) => [...l.slice(-(MAX_LOG_LINES - 1)), { ...entry, id: id || String(Date.now()) }]);
      // the platform's own lines mean something changed; an instance's output (web.1) does not
      if (!INSTANCE_SOURCE.test(entry.source)) changed();
    },
    [changed],
  );
  const stream = useEventStream(appPath(name, '/logs?tail=200&follow=1'), onLog, { reconnect: true });

  if (app.error instanceof PlatformApiError && app.error.status === 404 && !app.data) {
    return (
      <>
        <h1 tabIndex={-1}>App not found</h1>
        <ErrorNotice error={app.error} />
        <p>
          <Link to="/">See all apps</Link>
        </p>
      </>
    );
  }

  const data = app.data;
  return (
    <>
      <div className="app-head">
        <p className="crumbs">
          <Link to="/">Apps</Link> /
        </p>
        <h1 tabIndex={-1}>{name}</h1>
        {data ? (
          <dl className="facts">
            {data.maintenance ? (
              <div>
                <dt>Mode</dt>
                <dd data-testid="maintenance">
                  <Badge state="maintenance" />
                </dd>
              </div>
            ) : null}
            <div>
              <dt>Release</dt>
              <dd data-testid="current-release">{data.release ? `v${data.release.version}` : 'none yet'}</dd>
            </div>
            <div>
              <dt>URL</dt>
              <dd>
                <a href={data.webUrl} target="_blank" rel="noreferrer">
                  {data.webUrl.replace(/^https?:\/\//, '')}
                </a>
              </dd>
            </div>
            <div>
              <dt>Git</dt>
              <dd>
                <code>{data.gitUrl}</code>
              </dd>
            </div>
          </dl>
        ) : null}
      </div>
      <nav aria-label="App sections" className="tabs">
        {APP_TABS.map((t) => (
          <Link key={t.tab} to={appUrl(name, t.tab)} aria-current={t.tab === tab ? 'page' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      <ErrorNotice error={app.error} action="Loading the app" />
      {stream.status === 'retrying' ? (
        <p className="notice info" role="status">
          Live updates are reconnecting…
        </p>
      ) : null}
      {data ? (
        <Tab view={{ app: data, version, logs, stream: stream.status, changed }} tab={tab} build={build} />
      ) : !app.loaded ? (
        <p className="muted">Loading…</p>
      ) : null}
    </>
  );
}

function Tab({ view, tab, build }: { view: AppView; tab: AppTab; build?: number }) {
  switch (tab) {
    case 'overview':
      return <Overview view={view} />;
    case 'builds':
      return <Builds view={view} build={build} />;
    case 'releases':
      return <Releases view={view} />;
    case 'config':
      return <ConfigVars view={view} />;
    case 'addons':
      return <Addons view={view} />;
    case 'domains':
      return (
        <>
          <Domains view={view} />
          <Certificates view={view} />
        </>
      );
    case 'logs':
      return <Logs view={view} />;
  }
}
