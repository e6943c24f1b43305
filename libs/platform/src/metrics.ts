/**
 * Prometheus metrics, the one home the router, the api and the agent share. prom-client writes
 * the text exposition format (HELP/TYPE lines, label escaping, `_bucket`/`_sum`/`_count`);
 * this file adds what prom-client lacks for us:
 *
 * - `registerComputed`: a metric whose samples are computed at each scrape from numbers
 *   counted elsewhere. The router's workers count in their own processes and the primary sums
 *   them; prom-client's Counter and Histogram can only be incremented, never set.
 * - `countDuration` / `histogramSamples`: a fixed array of bucket counts that costs no
 *   allocation per observation (the router counts every request), written out as a histogram.
 * - `listenMetrics`: an HTTP listener that serves only `GET /metrics` (the agent's
 *   PAAS_AGENT_METRICS_ADDR, the api's PAAS_API_METRICS_ADDR); `answerMetrics` for a server
 *   that has other routes too.
 *
 * Names are `paas_<component>_...`, with the unit in the name (`_seconds`, `_bytes`, `_total`).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '@paas/config';
import { type Metric, Registry } from 'prom-client';

/** `text/plain; version=0.0.4; charset=utf-8` */
export const METRICS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

/**
 * Upper bounds (seconds) of the request and pass duration histograms: Prometheus' own
 * defaults, which cover a fast backend's milliseconds up to a slow one's seconds.
 */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type Labels = Record<string, string | number>;

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
  /** For a histogram's lines: `NAME_bucket`, `NAME_sum`, `NAME_count`; the metric's name otherwise. */
  readonly metricName?: string;
}

export interface ComputedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** Called at each scrape. */
  readonly samples: () => Sample[] | Promise<Sample[]>;
}

/**
 * Registers a metric computed at each scrape. prom-client's registry writes any object with
 * a name and a `get()` answering its metric object, as its own AggregatorRegistry does.
 */
export function registerComputed(registry: Registry, metric: ComputedMetric): void {
  const computed = {
    name: metric.name,
    help: metric.help,
    async get() {
      return {
        name: metric.name,
        help: metric.help,
        type: metric.type,
        aggregator: 'sum' as const,
        values: await metric.samples(),
      };
    },
    reset(): void {},
  };
  registry.registerMetric(computed as unknown as Metric);
}

/** Bucket counts for `bounds`: one per bound, and one more for what lies above the last. */
export function durationCounts(bounds: readonly number[] = DURATION_BUCKETS): number[] {
  return new Array<number>(bounds.length + 1).fill(0);
}

/** Counts one observation into `counts` (made by `durationCounts` for the same bounds); allocates nothing. */
export function countDuration(counts: number[], seconds: number, bounds: readonly number[] = DURATION_BUCKETS): void {
  let i = 0;
  while (i < bounds.length && seconds > (bounds[i] as number)) i++;
  counts[i] = (counts[i] ?? 0) + 1;
}

/**
 * One histogram series from per-bucket counts (as `countDuration` keeps them, not
 * cumulative): the cumulative `_bucket` lines up to `le="+Inf"`, `_sum` and `_count`.
 */
export function histogramSamples(
  name: string,
  labels: Labels,
  counts: readonly number[],
  sum: number,
  bounds: readonly number[] = DURATION_BUCKETS,
): Sample[] {
  const out: Sample[] = [];
  let total = 0;
  for (let i = 0; i < bounds.length; i++) {
    total += counts[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bounds[i] as number }, value: total });
  }
  total += counts[bounds.length] ?? 0;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: total });
  out.push({ metricName: `${name}_sum`, labels, value: sum });
  out.push({ metricName: `${name}_count`, labels, value: total });
  return out;
}

/** Answers a request with the registry's text (GET or HEAD; 405 otherwise). */
export async function answerMetrics(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('only GET\n');
    return;
  }
  let text: string;
  try {
    text = await registry.metrics();
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`collecting metrics failed: ${(err as Error).message}\n`);
    return;
  }
  res.writeHead(200, {
    'content-type': METRICS_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

export interface MetricsListener {
  readonly server: Server;
  /** Where it listens, with the port the kernel chose when 0 was asked. */
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** Listens on `address` and serves `GET /metrics` from `registry`; every other path is 404. */
export async function listenMetrics(address: ListenAddress, registry: Registry): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') {
      void answerMetrics(registry, req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`no ${path}; try /metrics\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
