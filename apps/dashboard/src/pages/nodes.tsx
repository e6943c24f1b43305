import { type App, type ControlPlane, type Formation, type Instance, type PaasNode, appPath, get } from '../api';
import { Badge, DataTable, Empty, ErrorNotice, MemoryBars } from '../components';
import { formatAgo, formatBytes, formatMiB, plural } from '../format';
import { useNow, usePoll, useTitle } from '../hooks';
import { Link } from '../nav';
import { appUrl } from '../route';

interface Placed extends Instance {
  readonly app: string;
  /** The instance's memory limit in MiB (its process type's). */
  readonly limit: number;
}

/** Instances of a process type no node has room for (the scheduler keeps them on the formation). */
interface Waiting {
  readonly app: string;
  readonly type: string;
  readonly count: number;
  readonly reason: string | null;
}

interface NodesData {
  readonly nodes: PaasNode[];
  readonly placed: Placed[];
  readonly waiting: Waiting[];
  /** Which api runs the scheduler (null: an older api without the route, or not an admin token). */
  readonly plane: ControlPlane | null;
}

/** Nodes and, from every app this token sees, the instances placed on each. */
async function loadNodes(signal: AbortSignal): Promise<NodesData> {
  const [nodes, apps, plane] = await Promise.all([
    get<PaasNode[]>('/api/nodes', signal),
    get<App[]>('/api/apps', signal),
    get<ControlPlane>('/api/control-plane', signal).catch(() => null),
  ]);
  const perApp = await Promise.all(
    apps.map(async (app) => {
      const [instances, formation] = await Promise.all([
        get<Instance[]>(appPath(app.name, '/instances'), signal),
        get<Formation[]>(appPath(app.name, '/formation'), signal),
      ]);
      const limits = new Map(formation.map((f) => [f.type, f.memory]));
      return {
        placed: instances.map((i) => ({ ...i, app: app.name, limit: limits.get(i.type) ?? 0 })),
        waiting: formation
          .filter((f) => f.waiting > 0)
          .map((f) => ({ app: app.name, type: f.type, count: f.waiting, reason: f.waitingReason })),
      };
    }),
  );
  return { nodes, placed: perApp.flatMap((a) => a.placed), waiting: perApp.flatMap((a) => a.waiting), plane };
}

/** What placement may promise on a node: its memory times its overcommit. */
const promisable = (n: PaasNode): number => Math.floor((n.memory * n.overcommit) / 100);

export function NodesPage() {
  useTitle('Nodes');
  const data = usePoll(loadNodes, 3000, []);
  const now = useNow(5000);
  const nodes = data.data?.nodes ?? [];
  const placed = data.data?.placed ?? [];
  const on = (node: string) => placed.filter((p) => p.node === node);
  const waiting = data.data?.waiting ?? [];

  return (
    <>
      <h1 tabIndex={-1}>Nodes</h1>
      <ErrorNotice error={data.error} action="Loading nodes" />
      {data.data?.plane ? <SchedulerLeader plane={data.data.plane} now={now} /> : null}
      {!data.loaded ? <p className="muted">Loading…</p> : null}
      {data.data && nodes.length === 0 ? (
        <Empty title="No nodes have registered">
          <p>
            Instances run on nodes: <code>npm run up</code> starts an agent on this host, and each agent registers its
            node here.
          </p>
        </Empty>
      ) : null}
      {nodes.length > 0 ? (
        <MemoryBars
          format={formatMiB}
          nodes={nodes.map((n) => {
            const here = on(n.name).filter((p) => p.state !== 'stopping');
            return {
              name: n.name,
              capacity: promisable(n),
              reserved: here.reduce((sum, p) => sum + p.limit, 0),
              usedBytes: here.reduce((sum, p) => sum + (p.memoryBytes ?? 0), 0),
            };
          })}
        />
      ) : null}
      {nodes.map((n) => {
        const here = on(n.name);
        const reserved = here.filter((p) => p.state !== 'stopping').reduce((sum, p) => sum + p.limit, 0);
        const used = here.reduce((sum, p) => sum + (p.memoryBytes ?? 0), 0);
        const headingId = `node-${n.name}`;
        return (
          <section key={n.id} className="card node" aria-labelledby={headingId} data-node={n.name}>
            <h2 id={headingId}>
              {n.name} <Badge state={n.state} />
            </h2>
            <dl className="facts">
              <div>
                <dt>Address</dt>
                <dd>
                  <code>{n.address}</code>
                </dd>
              </div>
              <div>
                <dt>Memory</dt>
                <dd>
                  {formatMiB(reserved)} promised, {formatBytes(used)} used, of {formatMiB(n.memory)}
                  {n.overcommit !== 100 ? ` x ${n.overcommit / 100} = ${formatMiB(promisable(n))}` : ''}
                </dd>
              </div>
              <div>
                <dt>CPUs</dt>
                <dd>{n.cpus / 1000}</dd>
              </div>
              <div>
                <dt>Heartbeat</dt>
                <dd>{formatAgo(n.lastHeartbeatAt, now)}</dd>
              </div>
            </dl>
            <PlacedTable placed={here} label={`Instances on ${n.name}`} />
          </section>
        );
      })}
      {waiting.length > 0 ? (
        <section className="card" aria-labelledby="waiting-heading">
          <h2 id="waiting-heading">Waiting for a node</h2>
          <ul>
            {waiting.map((w) => (
              <li key={`${w.app}/${w.type}`}>
                <Link to={appUrl(w.app)}>{w.app}</Link> {plural(w.count, `${w.type} instance`)}
                {w.reason ? `: ${w.reason}` : ''}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}

/** Which api of the control plane runs the scheduler (the others serve the API beside it). */
function SchedulerLeader({ plane: { leader }, now }: { plane: ControlPlane; now: number }) {
  if (!leader) return <p className="muted">Scheduler: no api has led yet.</p>;
  return (
    <p className="muted" data-testid="scheduler-leader">
      Scheduler: led by api <code>{leader.holder}</code>
      {leader.address ? (
        <>
          {' '}
          at <code>{leader.address}</code>
        </>
      ) : null}
      , term {leader.term}
      {leader.since ? `, took office ${formatAgo(leader.since, now)}` : ''}.
    </p>
  );
}

function PlacedTable({ placed, label }: { placed: readonly Placed[]; label: string }) {
  if (placed.length === 0) return <p className="muted">No instances.</p>;
  return (
    <DataTable
      label={label}
      rows={placed}
      rowKey={(p) => p.id}
      columns={[
        { header: 'App', cell: (p) => <Link to={appUrl(p.app)}>{p.app}</Link> },
        { header: 'Instance', names: true, cell: (p) => p.name },
        { header: 'State', cell: (p) => <Badge state={p.state} /> },
        { header: 'Release', cell: (p) => `v${p.release.version}` },
        {
          header: 'Memory',
          className: 'num',
          cell: (p) => (
            <>
              {formatBytes(p.memoryBytes)} <span className="muted">/ {formatMiB(p.limit)}</span>
            </>
          ),
        },
      ]}
    />
  );
}
