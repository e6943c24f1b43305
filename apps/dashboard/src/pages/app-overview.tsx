import { MAX_QUANTITY, formationSummary } from '@paas/platform/formation';
import { type FormEvent, useState } from 'react';
import { type AppMetrics, type Formation, type Instance, type ReviewApp, appPath, get, request } from '../api';
import { Badge, DataTable, Empty, ErrorNotice, LineChart, Status } from '../components';
import { formatAgo, formatBytes, formatDuration, formatMiB, formatRate, plural } from '../format';
import { Link } from '../nav';
import { appUrl } from '../route';
import { useAttempt, useNow, usePoll } from '../hooks';
import type { AppView } from './app-view';

const CHART_WINDOW_MS = 5 * 60_000;
/** Instances listed before "Show all": an app scaled to a thousand stays readable (and fast). */
const INSTANCES_SHOWN = 50;

export function Overview({ view }: { view: AppView }) {
  const { app, version } = view;
  const formation = usePoll((s) => get<Formation[]>(appPath(app.name, '/formation'), s), 10_000, [app.name, version]);
  const instances = usePoll((s) => get<Instance[]>(appPath(app.name, '/instances'), s), 2000, [app.name, version]);
  const [said, setSaid] = useState('');

  const scaled = (type: string, quantity: number, all: Formation[]) => {
    setSaid(`${type} scaled to ${plural(quantity, 'instance')}.`);
    formation.mutate(all);
    instances.reload();
  };

  return (
    <>
      {!app.release ? <NotDeployed gitUrl={app.gitUrl} /> : null}
      <section aria-labelledby="formation-heading">
        <h2 id="formation-heading">Process types</h2>
        <ErrorNotice error={formation.error} action="Loading the formation" />
        {said ? <Status>{said}</Status> : null}
        {formation.data && formation.data.length === 0 ? (
          <Empty title="No process types yet">
            <p>
              They come with the first release: the <code>Procfile</code>&apos;s types, or <code>web</code> running the
              image&apos;s command.
            </p>
          </Empty>
        ) : null}
        {formation.data && formation.data.length > 0 ? (
          <DataTable
            rows={formation.data}
            rowKey={(f) => f.type}
            columns={[
              { header: 'Type', names: true, cell: (f) => f.type },
              { header: 'Command', cell: (f) => <code>{f.command ?? '(image command)'}</code> },
              {
                header: 'Size',
                className: 'muted',
                cell: (f) =>
                  `${f.size}: ${formatMiB(f.memory)}, CPU weight ${f.cpuShares}${f.cpuQuota !== null ? `, at most ${f.cpuQuota / 1000} CPU` : ''}`,
              },
              {
                header: 'State',
                cell: (f) => (
                  <span data-testid={`formation-state-${f.type}`} className={f.waiting > 0 ? 'waiting' : undefined}>
                    {formationSummary(f)}
                  </span>
                ),
              },
              {
                header: 'Instances',
                // autoscale sets an autoscaled type's count (the api refuses a manual one)
                cell: (f) =>
                  f.autoscale ? (
                    <span className="muted" data-testid={`formation-autoscaled-${f.type}`}>
                      set by autoscale
                    </span>
                  ) : (
                    <ScaleControl app={app.name} formation={f} onScaled={scaled} />
                  ),
              },
            ]}
          />
        ) : null}
      </section>
      <Instances instances={instances.data} error={instances.error} formation={formation.data ?? []} view={view} />
      <Activity view={view} />
      {app.review ? <ReviewOf parent={app.review.parent} branch={app.review.branch} /> : <ReviewApps app={app.name} />}
    </>
  );
}

/** A review app's page says whose branch it serves. */
function ReviewOf({ parent, branch }: { parent: string; branch: string }) {
  return (
    <section aria-labelledby="review-of-heading">
      <h2 id="review-of-heading">Review app</h2>
      <p>
        It serves the branch <code>{branch}</code> of <Link to={appUrl(parent)}>{parent}</Link>: each push of that
        branch deploys here, and deleting it removes this app.
      </p>
    </section>
  );
}

/** The app's review apps, one per pushed branch (docs/api.md "Review apps"). */
function ReviewApps({ app }: { app: string }) {
  const reviews = usePoll((s) => get<ReviewApp[]>(appPath(app, '/reviews'), s), 10_000, [app]);
  const list = reviews.data ?? [];
  if (!reviews.error && list.length === 0) return null;
  return (
    <section aria-labelledby="reviews-heading">
      <h2 id="reviews-heading">Review apps</h2>
      <ErrorNotice error={reviews.error} action="Loading the review apps" />
      {list.length > 0 ? (
        <DataTable
          rows={list}
          rowKey={(r) => r.name}
          columns={[
            { header: 'Name', names: true, cell: (r) => <Link to={appUrl(r.name)}>{r.name}</Link> },
            { header: 'Branch', cell: (r) => <code>{r.branch}</code> },
            {
              header: 'URL',
              cell: (r) => (
                <a href={r.url} target="_blank" rel="noreferrer">
                  {r.url.replace(/^https?:\/\//, '')}
                </a>
              ),
            },
            { header: 'Last push', className: 'muted', cell: (r) => formatAgo(r.lastPushAt) },
            { header: 'State', cell: (r) => r.state },
          ]}
        />
      ) : null}
    </section>
  );
}

function NotDeployed({ gitUrl }: { gitUrl: string }) {
  return (
    <section className="card" aria-labelledby="deploy-heading">
      <h2 id="deploy-heading">Not deployed yet</h2>
      <p>Push a repository with a Dockerfile, a package.json or an index.html to build and release it:</p>
      <pre className="commands">
        <code>{`git remote add paas ${gitUrl}\ngit push paas main`}</code>
      </pre>
      <p className="hint">
        git asks for a password: give it an API token (any user name). <code>paas apps:create</code> sets this up for
        you.
      </p>
    </section>
  );
}

/** − and + buttons around a number, applied with Scale: nothing changes until then. */
function ScaleControl({
  app,
  formation,
  onScaled,
}: {
  app: string;
  formation: Formation;
  onScaled: (type: string, quantity: number, formation: Formation[]) => void;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const { busy, error, setError, attempt } = useAttempt();
  const value = draft ?? String(formation.quantity);
  const n = Number(value);
  const valid = value !== '' && Number.isInteger(n) && n >= 0 && n <= MAX_QUANTITY;
  const dirty = draft !== null && !(valid && n === formation.quantity);
  const id = `scale-${formation.type}`;

  const set = (next: number) => setDraft(String(Math.min(MAX_QUANTITY, Math.max(0, next))));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!valid) {
      setError(new Error(`The number of instances is a whole number from 0 to ${MAX_QUANTITY}.`));
      return;
    }
    await attempt(async () => {
      const all = await request<Formation[]>('PATCH', appPath(app, '/formation'), {
        body: { updates: [{ type: formation.type, quantity: n }] },
      });
      setDraft(null);
      onScaled(formation.type, n, all);
    });
  };

  return (
    <form className="scale" onSubmit={submit} noValidate>
      <button
        type="button"
        className="step"
        onClick={() => set((valid ? n : formation.quantity) - 1)}
        disabled={busy || (valid && n <= 0)}
        aria-label={`One ${formation.type} instance fewer`}
      >
        −
      </button>
      <label htmlFor={id} className="visually-hidden">
        {formation.type} instances
      </label>
      <input
        id={id}
        type="number"
        inputMode="numeric"
        min={0}
        max={MAX_QUANTITY}
        step={1}
        value={value}
        onChange={(e) => setDraft(e.target.value)}
        aria-invalid={!valid || undefined}
      />
      <button
        type="button"
        className="step"
        onClick={() => set((valid ? n : formation.quantity) + 1)}
        disabled={busy || (valid && n >= MAX_QUANTITY)}
        aria-label={`One ${formation.type} instance more`}
      >
        +
      </button>
      <button type="submit" className="primary" disabled={!dirty || busy}>
        {busy ? 'Scaling…' : 'Scale'}
      </button>
      {dirty ? (
        <button type="button" onClick={() => setDraft(null)} disabled={busy}>
          Cancel
        </button>
      ) : null}
      <ErrorNotice error={error} action={`Scaling ${formation.type}`} />
    </form>
  );
}

function Instances({
  instances,
  error,
  formation,
  view,
}: {
  instances: Instance[] | undefined;
  error: unknown;
  formation: readonly Formation[];
  view: AppView;
}) {
  const now = useNow(1000);
  const [showAll, setShowAll] = useState(false);
  const limits = new Map(formation.map((f) => [f.type, f.memory]));
  const shown = instances && !showAll ? instances.slice(0, INSTANCES_SHOWN) : instances;
  const current = view.app.release?.version;
  const deploying = instances?.some((i) => i.state !== 'stopping' && i.release.version !== current);
  const up = instances?.filter((i) => i.state === 'up').length ?? 0;
  return (
    <section aria-labelledby="instances-heading">
      <h2 id="instances-heading">
        Instances <span className="count">{instances?.length ? `${up} of ${instances.length} up` : ''}</span>
      </h2>
      <ErrorNotice error={error} action="Loading instances" />
      {deploying && current ? (
        <p className="notice info">
          Deploying v{current}: its instances start next to the old ones, which stop once the new ones pass their
          checks.
        </p>
      ) : null}
      {instances && instances.length === 0 ? (
        <Empty title="No instances">
          <p>
            {view.app.release
              ? 'Every process type is scaled to 0, or no node has room: see Logs for what the scheduler says.'
              : 'Instances start once the app has a release.'}
          </p>
        </Empty>
      ) : null}
      {instances && instances.length > 0 ? (
        <DataTable
          testId="instances"
          rows={shown ?? []}
          rowKey={(i) => i.id}
          rowData={(i) => ({ 'data-state': i.state })}
          columns={[
            { header: 'Instance', names: true, cell: (i) => i.name },
            { header: 'State', cell: (i) => <Badge state={i.state} /> },
            { header: 'Release', cell: (i) => `v${i.release.version}` },
            { header: 'Node', cell: (i) => i.node ?? <span className="muted">unplaced</span> },
            {
              header: 'Memory',
              className: 'num',
              cell: (i) => {
                const limit = limits.get(i.type);
                return (
                  <>
                    {formatBytes(i.memoryBytes)}
                    {limit ? <span className="muted"> / {formatMiB(limit)}</span> : null}
                  </>
                );
              },
            },
            {
              header: 'Uptime',
              className: 'num',
              cell: (i) =>
                i.state === 'up' ? formatDuration(now - Date.parse(i.createdAt)) : <span className="muted">–</span>,
            },
            {
              header: 'Address',
              cell: (i) => (i.address ? <code>{i.address}</code> : <span className="muted">–</span>),
            },
          ]}
        />
      ) : null}
      {instances && instances.length > INSTANCES_SHOWN ? (
        <p className="hint">
          {showAll ? `All ${instances.length} instances.` : `The first ${INSTANCES_SHOWN} of ${instances.length}.`}{' '}
          <button type="button" onClick={() => setShowAll(!showAll)}>
            {showAll ? `Show the first ${INSTANCES_SHOWN}` : `Show all ${instances.length}`}
          </button>
        </p>
      ) : null}
    </section>
  );
}

/** Requests per second and instances over the last minutes (the routers' metrics). */
function Activity({ view }: { view: AppView }) {
  const metrics = usePoll((s) => get<AppMetrics>(appPath(view.app.name, '/metrics'), s), 2000, [view.app.name]);
  const m = metrics.data;
  const now = m?.samples.at(-1)?.t ?? Date.now();
  const samples = m?.samples ?? [];
  const peak = Math.max(0, ...samples.map((s) => s.requestsPerSecond));
  return (
    <section aria-labelledby="activity-heading">
      <h2 id="activity-heading">Activity</h2>
      <ErrorNotice error={metrics.error} action="Loading metrics" />
      {m ? (
        <>
          <div className="charts">
            <LineChart
              title="Requests per second"
              series={[
                {
                  name: 'requests/s',
                  tone: 'blue',
                  points: samples.map((s) => ({ t: s.t, v: s.requestsPerSecond })),
                },
              ]}
              windowMs={CHART_WINDOW_MS}
              now={now}
              format={formatRate}
              summary={`Requests per second over the last ${CHART_WINDOW_MS / 60_000} minutes: now ${formatRate(m.requestsPerSecond)}, peak ${formatRate(peak)}.`}
            />
            <LineChart
              title="Instances"
              series={[
                { name: 'up', tone: 'green', step: true, points: samples.map((s) => ({ t: s.t, v: s.up })) },
                {
                  name: 'wanted',
                  tone: 'gray',
                  step: true,
                  dashed: true,
                  points: samples.map((s) => ({ t: s.t, v: s.instances })),
                },
              ]}
              windowMs={CHART_WINDOW_MS}
              now={now}
              integer
              format={(v) => String(Math.round(v))}
              summary={`Instances over the last ${CHART_WINDOW_MS / 60_000} minutes: now ${m.instances.up} up of ${m.instances.total}.`}
            />
          </div>
          <p className="muted small">
            {m.routers === 0
              ? 'No router has reported traffic for this app in the last seconds.'
              : `${formatRate(m.requestsPerSecond)} requests/s now, ${m.requests} requests answered (${m.status['5xx']} errors) across ${plural(m.routers, 'router')}.`}
          </p>
        </>
      ) : null}
    </section>
  );
}
