/**
 * What the agent tells Prometheus on PAAS_AGENT_METRICS_ADDR (default off; docs/operations.md
 * "Metrics"): its instances by the state it reports, the containers it started and the
 * instances that failed to start or failed their check, its heartbeats that failed, and how
 * long each pass (report, heartbeat, converge on the answer) took. The agent and its instances
 * count into one `AgentMetrics`; the listener reads it.
 */
import type { ListenAddress } from '@paas/config';
import type { InstanceReport, ReportedState } from '@paas/platform';
import { DURATION_BUCKETS, type MetricsListener, listenMetrics } from '@paas/platform/metrics';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The states an instance is reported in, each shown even when empty. */
const STATES = Object.keys({ starting: 0, up: 0, crashed: 0, stopping: 0 } satisfies Record<ReportedState, 0>);

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly starts = new Counter({
    name: 'paas_agent_container_starts_total',
    help: 'Instance containers this agent created and started.',
    registers: [this.registry],
  });
  private readonly startFailures = new Counter({
    name: 'paas_agent_container_start_failures_total',
    help: 'Instances that could not be pulled, created or started.',
    registers: [this.registry],
  });
  private readonly checkFailures = new Counter({
    name: 'paas_agent_health_check_failures_total',
    help: 'Instances that failed their deploy check (after a start or a restart by their shim).',
    registers: [this.registry],
  });
  private readonly heartbeatFailures = new Counter({
    name: 'paas_agent_heartbeat_failures_total',
    help: 'Heartbeats the control plane did not answer, or refused.',
    registers: [this.registry],
  });
  private readonly passes = new Histogram({
    name: 'paas_agent_convergence_pass_duration_seconds',
    help: 'One pass of the agent: report the instances, heartbeat, converge on the answer.',
    buckets: [...DURATION_BUCKETS],
    registers: [this.registry],
  });

  /** `reports`: the instances as the agent reports them now, read at each scrape. */
  constructor(reports: () => Promise<readonly InstanceReport[]> = async () => []) {
    new Gauge({
      name: 'paas_agent_instances',
      help: 'Instances on this node by the state the agent reports.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const counts = new Map<string, number>(STATES.map((s) => [s, 0]));
        for (const r of await reports()) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
  }

  started(): void {
    this.starts.inc();
  }

  startFailed(): void {
    this.startFailures.inc();
  }

  checkFailed(): void {
    this.checkFailures.inc();
  }

  heartbeatFailed(): void {
    this.heartbeatFailures.inc();
  }

  pass(seconds: number): void {
    this.passes.observe(seconds);
  }
}

/** Serves `GET /metrics` on `address` (null: off, the default); a busy address is said with the variable's name. */
export async function serveAgentMetrics(
  address: ListenAddress | null,
  metrics: AgentMetrics,
): Promise<MetricsListener | null> {
  if (!address) return null;
  try {
    return await listenMetrics(address, metrics.registry);
  } catch (err) {
    throw new Error(
      `PAAS_AGENT_METRICS_ADDR: cannot listen on ${address.host}:${address.port}: ${(err as Error).message}`,
    );
  }
}
