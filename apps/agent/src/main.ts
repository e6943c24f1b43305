/**
 * `paas-agent`: one per node (see agent.ts). Settings from the environment (config.ts); the
 * real implementations of the agent's roles (roles.ts) are wired here.
 *
 *   main.js            run the agent until SIGTERM/SIGINT; the node's containers keep running
 *   main.js cleanup    remove every container of this PAAS_ROOT and the bridge (test clusters)
 *
 * Reports readiness to a parent (`paas up`, infra/cluster) with `{ready, url}` over IPC.
 */
import { ConfigError, formatAddress } from '@paas/config';
import { openEngine } from '@paas/engine';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Agent } from './agent';
import { serveAgentMetrics } from './agent-metrics';
import { ApiClient } from './api-client';
import { BatchingAppLog, StreamNudges } from './app-log';
import { FileCheckedMarks } from './checked-marks';
import { runCheck } from './checks';
import { type AgentConfig, loadAgentConfig } from './config';
import { NodeImages } from './images';
import { systemClock } from './roles';
import { EngineRuntime } from './runtime';

const log = (line: string): void => console.log(`agent: ${line}`);

function tokenOf(config: AgentConfig): () => string {
  return () => {
    if (config.token) return config.token;
    try {
      return readFileSync(config.tokenFile, 'utf8').trim();
    } catch {
      return '';
    }
  };
}

/** Removes every container of this root at once, and the network they used. */
async function cleanup(config: AgentConfig): Promise<void> {
  const engine = await openEngine(config.paths, config.engine);
  const { failed } = await engine.takeDown(await engine.containers.list(), { graceful: false });
  for (const { record, error } of failed) log(`removing ${record.name}: ${error.message}`);
}

async function main(): Promise<void> {
  const config = loadAgentConfig(process.env);
  if (process.argv[2] === 'cleanup') {
    await cleanup(config);
    return;
  }
  const engine = await openEngine(config.paths, config.engine);
  // the api is the node's only way into the control plane: no Redis here (docs/security.md)
  const api = new ApiClient(config.apiUrl, tokenOf(config), undefined, config.ca);
  const appLog = new BatchingAppLog(api, config.nodeName, systemClock, log);
  const agent = new Agent({
    config,
    // a single host's add-ons are published on the bridge's own address, which its containers reach
    serviceAddress: config.nodeAddress ?? engine.network?.gateway ?? null,
    runtime: new EngineRuntime(engine),
    images: new NodeImages(engine.images, config.paths.root, config.registryLogin),
    api,
    checker: { run: runCheck },
    marks: new FileCheckedMarks(join(config.paths.run, 'agent', 'checked')),
    appLog,
    nudges: new StreamNudges(api, config.nodeName, systemClock, log),
    clock: systemClock,
    log,
  });
  // before start, which waits for the control plane: a node waiting to register is worth watching too
  const metrics = await serveAgentMetrics(config.metricsListen, agent.metrics);
  await agent.start();

  // a local status socket: GET / -> the node and its instances as reported
  await mkdir(config.paths.run, { recursive: true, mode: 0o711 });
  await rm(config.socket, { force: true });
  const server = createServer((req, res) => {
    void agent.status().then(
      (status) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(status));
      },
      (err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(config.socket, resolve));
  const url = `unix:${config.socket}`;
  const metricsAt = metrics
    ? `, metrics http://${formatAddress({ host: metrics.address.address, port: metrics.address.port })}/metrics`
    : '';
  log(`node ${config.nodeName} up: api ${config.apiUrl}, status ${url}${metricsAt}`);
  process.send?.({ ready: true, url });

  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  log('stopping (the containers keep running)');
  server.close();
  await metrics?.close();
  await agent.stop();
  await appLog.close();
  await rm(config.socket, { force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof ConfigError ? `agent: ${err.message}` : err);
    process.exit(1);
  },
);
