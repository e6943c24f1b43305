import { useCallback, useEffect, useRef, useState } from 'react';
import { type Build, type BuildStatus, appPath, get } from '../api';
import { Badge, DataTable, Empty, ErrorNotice } from '../components';
import { formatAgo } from '../format';
import { useEventStream, useNow, usePoll } from '../hooks';
import { Link } from '../nav';
import { appUrl } from '../route';
import type { SseMessage } from '../sse';
import type { AppView } from './app-view';

export function Builds({ view, build }: { view: AppView; build?: number }) {
  if (build !== undefined) return <BuildLog key={build} view={view} number={build} />;
  return <BuildList view={view} />;
}

function BuildList({ view }: { view: AppView }) {
  const { app, version } = view;
  const builds = usePoll((s) => get<Build[]>(appPath(app.name, '/builds'), s), 5000, [app.name, version]);
  const now = useNow(5000);
  return (
    <section aria-labelledby="builds-heading">
      <h2 id="builds-heading">Builds</h2>
      <ErrorNotice error={builds.error} action="Loading builds" />
      {builds.data && builds.data.length === 0 ? (
        <Empty title="No builds yet">
          <p>
            Each <code>git push paas main</code> makes one; its output shows here as it runs.
          </p>
        </Empty>
      ) : null}
      {builds.data && builds.data.length > 0 ? (
        <DataTable
          rows={builds.data}
          rowKey={(b) => b.id}
          rowData={(b) => ({ 'data-build': b.number })}
          columns={[
            {
              header: 'Build',
              names: true,
              cell: (b) => <Link to={appUrl(app.name, 'builds', b.number)}>Build #{b.number}</Link>,
            },
            { header: 'Status', cell: (b) => <Badge state={b.status} /> },
            {
              header: 'Commit',
              cell: (b) => (
                <>
                  <code>{b.commit.slice(0, 7)}</code>{' '}
                  <span className="muted">{b.ref.replace(/^refs\/heads\//, '')}</span>
                </>
              ),
            },
            { header: 'Stack', cell: (b) => b.stack ?? <span className="muted">–</span> },
            {
              header: 'Release',
              cell: (b) => (b.release ? `v${b.release.version}` : <span className="muted">–</span>),
            },
            { header: 'Started', cell: (b) => formatAgo(b.createdAt, now) },
          ]}
        />
      ) : null}
    </section>
  );
}

/** One build's output, streamed as it is written (`GET .../builds/N/log`), to its end. */
function BuildLog({ view, number }: { view: AppView; number: number }) {
  const { app } = view;
  const [lines, setLines] = useState<string[]>([]);
  const [ended, setEnded] = useState<BuildStatus | null>(null);
  const build = usePoll((s) => get<Build>(appPath(app.name, `/builds/${number}`), s), ended ? 0 : 3000, [
    app.name,
    number,
    ended,
  ]);
  const onMessage = useCallback((m: SseMessage) => {
    if (m.event === 'end') {
      try {
        setEnded((JSON.parse(m.data) as { status: BuildStatus }).status);
      } catch {
        setEnded('failed');
      }
    } else if (m.event === 'message') {
      setLines((l) => [...l, m.data]);
    }
  }, []);
  const stream = useEventStream(appPath(app.name, `/builds/${number}/log`), onMessage, { reconnect: false });
  const status = ended ?? build.data?.status ?? 'pending';
  const live = stream.status === 'open' && !ended;

  // Follow the end of the output unless the reader scrolled up.
  const box = useRef<HTMLPreElement>(null);
  const atEnd = useRef(true);
  useEffect(() => {
    const el = box.current;
    if (el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  return (
    <section aria-labelledby="build-heading">
      <p className="crumbs">
        <Link to={appUrl(app.name, 'builds')}>All builds</Link> /
      </p>
      <h2 id="build-heading">
        Build #{number} <Badge state={status} />
        {live ? (
          <span className="live" data-testid="streaming">
            streaming
          </span>
        ) : null}
      </h2>
      <ErrorNotice error={build.error} action="Loading the build" />
      <ErrorNotice error={stream.error} action="Following the build output" />
      {build.data ? (
        <p className="muted">
          <code>{build.data.commit.slice(0, 7)}</code> on {build.data.ref.replace(/^refs\/heads\//, '')}
          {build.data.stack ? `, ${build.data.stack}` : ''}
          {build.data.release ? `, released as v${build.data.release.version}` : ''}
          {build.data.error ? ` — ${build.data.error}` : ''}
        </p>
      ) : null}
      <pre
        ref={box}
        className="log build-log"
        role="log"
        aria-label={`Output of build ${number}`}
        tabIndex={0}
        data-testid="build-log"
        onScroll={(e) => {
          const el = e.currentTarget;
          atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {lines.length === 0
          ? stream.status === 'connecting'
            ? 'Connecting…'
            : live
              ? 'Waiting for output…'
              : ''
          : null}
        {lines.join('\n')}
      </pre>
      {ended ? (
        <p role="status" className="status-line">
          The build {ended === 'succeeded' ? 'succeeded' : 'failed'}.
        </p>
      ) : null}
    </section>
  );
}
