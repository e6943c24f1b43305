/**
 * What the api tells Prometheus (docs/operations.md "Metrics"): this process (prom-client's
 * defaults: CPU, memory, event loop, GC), its HTTP requests by the route's pattern (never the
 * raw URL: a label per app name or id would grow without bound), and the platform's counts
 * from the database: instances and nodes by state, apps, builds waiting. Those are the same
 * whichever api replica answers them.
 *
 * Served at `GET /metrics` on the api's address to admin tokens (prometheus.controller.ts),
 * and without a token on PAAS_API_METRICS_ADDR when the operator sets one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { ListenAddress } from '@paas/config';
import { Build, type BuildStatus, Instance, type InstanceState, Node, type NodeState, App } from '@paas/platform';
import { type MetricsListener, listenMetrics } from '@paas/platform/metrics';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { DATA_SOURCE } from '../core/tokens';

// Every state, so that a state with nothing in it reads 0 rather than vanishing.
const INSTANCE_STATES = Object.keys({
  pending: 0,
  starting: 0,
  up: 0,
  crashed: 0,
  stopping: 0,
  down: 0,
} satisfies Record<InstanceState, 0>);
const NODE_STATES = Object.keys({ up: 0, down: 0, draining: 0 } satisfies Record<NodeState, 0>);
const QUEUED: BuildStatus = 'pending';

/** What Express puts on a request once a route matched. */
type Routed = IncomingMessage & { route?: { path?: unknown }; originalUrl?: string };

/** The route label: the pattern Nest registered, `/git/*` for the git receiver, `none` for the rest (404s, dashboard files). */
export function routeLabel(req: Routed): string {
  const pattern = req.route?.path;
  if (typeof pattern === 'string') return pattern;
  const url = req.originalUrl ?? req.url ?? '';
  return url.startsWith('/git/') ? '/git/*' : 'none';
}

let processMetrics: Registry | undefined;

/**
 * Node's process metrics, collected once per process: prom-client's collector starts an event
 * loop delay monitor and a GC observer that nothing stops, so an api started again in the same
 * process (specs) shares them instead of piling up another set.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

@Injectable()
export class ApiMetrics implements OnApplicationShutdown {
  /** What `/metrics` shows: the process's metrics, then this api's. */
  readonly registry: Registry;
  private readonly own = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private listener: MetricsListener | null = null;

  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {
    this.requests = new Counter({
      name: 'paas_api_http_requests_total',
      help: 'HTTP requests answered by this api, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [this.own],
    });
    const byState = (entity: EntityTarget<ObjectLiteral>, states: readonly string[]) =>
      async function collect(this: Gauge<'state'>): Promise<void> {
        const counts = await countBy(dataSource, entity, 'state');
        for (const state of new Set([...states, ...counts.keys()])) this.set({ state }, counts.get(state) ?? 0);
      };
    const collectInstances = byState(Instance, INSTANCE_STATES);
    const collectNodes = byState(Node, NODE_STATES);
    new Gauge({
      name: 'paas_instances',
      help: 'Instances of every app by state, as the control plane records them.',
      labelNames: ['state'],
      registers: [this.own],
      collect: collectInstances,
    });
    new Gauge({
      name: 'paas_nodes',
      help: 'Nodes by state.',
      labelNames: ['state'],
      registers: [this.own],
      collect: collectNodes,
    });
    new Gauge({
      name: 'paas_apps',
      help: 'Apps.',
      registers: [this.own],
      async collect() {
        this.set(await dataSource.getRepository(App).count());
      },
    });
    new Gauge({
      name: 'paas_builds_queued',
      help: 'Builds waiting for a build worker.',
      registers: [this.own],
      async collect() {
        this.set(await dataSource.getRepository(Build).count({ where: { status: QUEUED } }));
      },
    });
    // merged once all are registered: merge takes the metrics a registry has at that moment
    this.registry = Registry.merge([processRegistry(), this.own]);
  }

  /** Express middleware: counts each request once its answer is sent (or the client left). */
  countRequests(): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
    return (req, res, next) => {
      res.once('close', () => {
        this.requests.inc({ method: req.method ?? '', route: routeLabel(req), status: res.statusCode });
      });
      next();
    };
  }

  /** Serves `/metrics` without a token on `address` (PAAS_API_METRICS_ADDR); returns its URL. */
  async listen(address: ListenAddress): Promise<string> {
    try {
      this.listener = await listenMetrics(address, this.registry);
    } catch (err) {
      throw new Error(
        `PAAS_API_METRICS_ADDR: cannot listen on ${address.host}:${address.port}: ${(err as Error).message}`,
      );
    }
    const { address: host, port, family } = this.listener.address;
    return `http://${family === 'IPv6' ? `[${host}]` : host}:${port}`;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.listener?.close();
    this.listener = null;
  }
}

async function countBy(
  dataSource: DataSource,
  entity: EntityTarget<ObjectLiteral>,
  column: string,
): Promise<Map<string, number>> {
  const rows = await dataSource
    .getRepository(entity)
    .createQueryBuilder('t')
    .select(`t.${column}`, 'key')
    .addSelect('COUNT(*)', 'n')
    .groupBy(`t.${column}`)
    .getRawMany<{ key: string; n: string | number }>();
  return new Map(rows.map((r) => [r.key, Number(r.n)]));
}
