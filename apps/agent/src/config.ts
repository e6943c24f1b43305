import { type Env, type ListenAddress, type Paths, listenAddress, paths } from '@paas/config';
import { join } from 'node:path';

export interface AgentConfig {
  readonly paths: Paths;
  /** The local control socket, `$PAAS_RUN/agent.sock`. */
  readonly socket: string;
  /** TCP address the control plane reaches this node on. */
  readonly listen: ListenAddress;
}

/** The agent's settings; the only place the agent reads its environment. */
export function loadAgentConfig(env: Env): AgentConfig {
  const p = paths(env);
  return { paths: p, socket: join(p.run, 'agent.sock'), listen: listenAddress(env, 'PAAS_AGENT_ADDR') };
}
