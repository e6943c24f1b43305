/**
 * The floor under the router in the proxy benchmark: http-proxy alone, with the router's
 * backend agent settings and worker count, and nothing of ours (no routing, no headers, no
 * counters, no timeouts, no retries). What the router costs above this row is ours; what
 * this row costs above nginx is Node's HTTP server and client plus http-proxy.
 *   node --import tsx e2e/bench/proxy/bare-http-proxy.ts PORT BACKEND_HOST:PORT WORKERS
 */
import cluster from 'node:cluster';
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const [portArg, backendArg, workersArg] = process.argv.slice(2);
const port = Number(portArg);
const [host, backendPort] = (backendArg ?? '').split(':');
const workers = Number(workersArg ?? 1);
if (!Number.isInteger(port) || !host || !Number.isInteger(Number(backendPort)) || !(workers >= 1)) {
  console.error('usage: bare-http-proxy.ts PORT BACKEND_HOST:PORT WORKERS');
  process.exit(2);
}

if (cluster.isPrimary) {
  // As the router: the kernel spreads connections over the workers' shared socket.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = (): void => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const agent = new Agent({
    keepAlive: true,
    maxFreeSockets: 1024,
    timeout: 30_000,
    scheduling: 'lifo',
    noDelay: true,
  });
  const proxy = httpProxy.createProxyServer({ agent, xfwd: false, changeOrigin: false });
  const target = { host, port: Number(backendPort) };
  proxy.on('error', (_err: Error, _req: unknown, res: unknown) => {
    const response = res as import('node:http').ServerResponse;
    if (!response.headersSent) response.writeHead(502);
    response.end();
  });
  const server = createServer((req, res) => proxy.web(req, res, { target }));
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
