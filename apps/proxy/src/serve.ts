/**
 * Process layout: the primary (`runPrimary`) owns Redis, the health checks, the metrics and
 * the admin address, and forks PAAS_ROUTER_WORKERS workers with node:cluster; each worker
 * (`runWorker`) serves the router's address (and its HTTPS address) with its own `Router`.
 * With 0 workers the primary serves by itself.
 *
 * A worker asks for the tables (`hello`) before it listens, so it never answers 404, or fails
 * a handshake, for want of a table; it says `listening` once it listens on every address. A
 * worker that dies is replaced (with a back-off when it keeps dying). SIGTERM or SIGINT: stop
 * accepting, let in-flight requests finish (up to PAAS_ROUTER_DRAIN_MS), exit 0.
 */
import cluster, { type Worker } from 'node:cluster';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { type ListenAddress, formatAddress } from '@paas/config';
import { hostname } from 'node:os';
import { AccessLog } from './access-log';
import type { ProxyConfig } from './config';
import { Controller } from './control';
import { type ToPrimary, type ToWorker, isMessage } from './messages';
import { Router } from './router';

const log = (message: string): void => console.error(`proxy: ${message}`);

export interface Ready {
  readonly url: string;
  /** The HTTPS listener's URL; null when HTTPS is off. */
  readonly tls: string | null;
  readonly admin: string | null;
}

function routerOptions(
  config: ProxyConfig,
  onRefused: (address: string) => void,
  acmeChallenge: (token: string) => Promise<string | null>,
  askWake: (app: string) => void,
  onWokeFirstByte: (app: string, ms: number) => void,
) {
  return {
    askWake,
    onWokeFirstByte,
    wake: { maxHeld: config.wakeQueue, maxHeldTotal: config.wakeQueueTotal, maxWaitMs: config.wakeWaitMs },
    queue: { maxQueued: config.queue, maxQueuedTotal: config.queueTotal, maxWaitMs: config.queueWaitMs },
    domain: config.domain,
    backendTimeoutMs: config.backendTimeoutMs,
    cooldownMs: config.cooldownMs,
    refusedWaitMs: config.refusedWaitMs,
    accessLog: config.accessLog ? new AccessLog() : null,
    onRefused,
    acmeChallenge,
    ...(config.tls ? { tls: { defaultPair: config.tls.defaultPair } } : {}),
  };
}

function urlOf(host: string, port: number, scheme = 'http'): string {
  return `${scheme}://${formatAddress({ host, port })}`;
}

/**
 * Workers asking node:cluster for port 0 twice on one host are handed the same shared socket
 * (its key is address and port), so HTTP and HTTPS would land on one port: the primary picks
 * a free port for HTTPS first. Only ever port 0, i.e. tests and side-by-side runs.
 */
async function concretePort(address: ListenAddress): Promise<ListenAddress> {
  if (address.port !== 0) return address;
  const probe = createTcpServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, address.host, resolve);
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return { host: address.host, port };
}

export async function runPrimary(config: ProxyConfig): Promise<Ready> {
  let router: Router | undefined;
  const broadcast = (message: ToWorker): void => {
    if (router) {
      router.handle(message);
      return;
    }
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker?.isConnected()) worker.send(message);
    }
  };
  const controller = new Controller(config, broadcast);
  await controller.start();

  let port: number;
  let tlsPort: number | null = null;
  let shuttingDown = false;
  if (config.workers === 0) {
    router = new Router(
      routerOptions(
        config,
        (address) => controller.health.checkNow(address),
        (token) => controller.acmeChallenge(token),
        (app) => controller.wakes.request(app),
        (app, ms) => controller.wokeFirstByte(app, ms),
      ),
    );
    router.handle(controller.routesMessage());
    if (config.tls) router.handle(controller.certsMessage());
    port = await listenOrSay(config.listen, router.listen(config.listen));
    if (config.tls) tlsPort = await listenOrSay(config.tls.listen, router.listenTls(config.tls.listen));
    const local = router;
    setInterval(() => controller.report('self', local.counters.snapshot()), 1000).unref();
    controller.workers = 0;
  } else {
    const tlsListen = config.tls ? await concretePort(config.tls.listen) : null;
    ({ port, tlsPort } = await forkWorkers(config, tlsListen, controller, () => shuttingDown));
  }
  controller.routerId = config.routerId ?? `${hostname()}:${port}`;

  let adminUrl: string | null = null;
  if (config.admin) {
    const admin = await controller.listenAdmin(config.admin);
    adminUrl = urlOf(config.admin.host, admin.port);
  }
  const url = urlOf(config.listen.host, port);
  const tlsUrl = config.tls && tlsPort !== null ? urlOf(config.tls.listen.host, tlsPort, 'https') : null;

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    shuttingDown = true;
    log(`${signal}: finishing in-flight requests (up to ${config.drainMs} ms), then exiting`);
    stopping = (async () => {
      if (router) await router.close(config.drainMs);
      else await stopWorkers(config.drainMs + 5000);
      await controller.stop();
      log('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const workers = config.workers === 0 ? 'in one process' : `${config.workers} workers`;
  console.error(
    `proxy listening on ${url} (${workers}) for *.${config.domain}` +
      `${tlsUrl ? `, https ${tlsUrl}` : ''}${adminUrl ? `, admin ${adminUrl}` : ''}`,
  );
  return { url, tls: tlsUrl, admin: adminUrl };
}

function listenOrSay(address: ListenAddress, listening: Promise<AddressInfo>): Promise<number> {
  return listening.then(
    (info) => info.port,
    (err: Error) => {
      throw new Error(`cannot listen on ${formatAddress(address)}: ${err.message}`);
    },
  );
}

/**
 * Forks the workers; resolves with the ports once all listen, rejects if one cannot. `tls`:
 * the HTTPS address with its port chosen (see `concretePort`).
 */
function forkWorkers(
  config: ProxyConfig,
  tls: ListenAddress | null,
  controller: Controller,
  shuttingDown: () => boolean,
): Promise<{ port: number; tlsPort: number | null }> {
  return new Promise((resolve, reject) => {
    let ready = false;
    let listening = 0;
    let fatal: string | undefined;
    const started = new Map<number, number>();
    let delay = 100;
    // Workers accept from the shared socket themselves (as nginx's workers do), not through the
    // primary's round-robin: a connection the primary hands to a worker that dies before taking
    // it is never closed nor handed to another (node's RoundRobinHandle), so its client hangs
    // until it gives up. Now a dead worker loses only the connections it had accepted.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    const env = tls ? { PAAS_ROUTER_TLS_ADDR: formatAddress(tls) } : {};
    const fork = (): Worker => {
      const worker = cluster.fork(env);
      started.set(worker.id, Date.now());
      return worker;
    };
    cluster.on('message', (worker: Worker, message: unknown) => {
      if (!isMessage<ToPrimary>(message)) return;
      if (message.type === 'fatal') {
        fatal = message.message;
        return;
      }
      if (message.type === 'listening') {
        if (ready) return;
        listening++;
        if (listening === config.workers) {
          ready = true;
          controller.workers = config.workers;
          resolve({ port: message.port, tlsPort: message.tlsPort });
        }
        return;
      }
      controller.onWorkerMessage(String(worker.id), message, (reply) => {
        if (worker.isConnected()) worker.send(reply);
      });
    });
    cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
      controller.retire(String(worker.id));
      const lived = Date.now() - (started.get(worker.id) ?? 0);
      started.delete(worker.id);
      if (!ready) {
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
        reject(new Error(fatal ?? `a worker exited before listening (${signal ?? `status ${code}`})`));
        return;
      }
      if (shuttingDown()) return;
      delay = lived > 30_000 ? 100 : Math.min(delay * 2, 30_000);
      log(`worker ${worker.process.pid} exited (${signal ?? `status ${code}`}); starting another in ${delay} ms`);
      setTimeout(() => {
        if (!shuttingDown()) fork();
      }, delay).unref();
    });
    for (let i = 0; i < config.workers; i++) fork();
  });
}

/** Asks every worker to drain and waits for them; kills those still there after `deadlineMs`. */
async function stopWorkers(deadlineMs: number): Promise<void> {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          const timer = setTimeout(() => {
            log(`worker ${worker.process.pid} did not finish in time; killing it`);
            worker.process.kill('SIGKILL');
          }, deadlineMs);
          worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (worker.isConnected()) worker.send({ type: 'shutdown' } satisfies ToWorker);
          else worker.process.kill('SIGTERM');
        }),
    ),
  );
}

export async function runWorker(config: ProxyConfig): Promise<void> {
  const send = (message: ToPrimary, then?: () => void): void => {
    if (process.connected && process.send) process.send(message, undefined, {}, () => then?.());
    else then?.();
  };
  // ACME challenges are read by the primary, which holds the Redis connection.
  let asked = 0;
  const questions = new Map<number, { resolve: (answer: string | null) => void; reject: (err: Error) => void }>();
  const acmeChallenge = (token: string): Promise<string | null> =>
    new Promise((resolve, reject) => {
      const id = ++asked;
      const timer = setTimeout(() => {
        questions.delete(id);
        reject(new Error('the primary did not answer'));
      }, 10_000);
      questions.set(id, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      send({ type: 'acme', id, token });
    });
  const router = new Router(
    routerOptions(
      config,
      (address) => send({ type: 'refused', address }),
      acmeChallenge,
      (app) => send({ type: 'wake', app }),
      (app, ms) => send({ type: 'woke', app, ms }),
    ),
  );
  let haveTable: () => void = () => undefined;
  const table = new Promise<void>((resolve) => (haveTable = resolve));
  let haveCerts: () => void = () => undefined;
  const certs = config.tls ? new Promise<void>((resolve) => (haveCerts = resolve)) : Promise.resolve();
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void router.close(config.drainMs).then(() => {
      clearInterval(reporter);
      send({ type: 'metrics', snapshot: router.counters.snapshot() }, () => process.exit(0));
    });
  };
  process.on('message', (message: unknown) => {
    if (!isMessage<ToWorker>(message)) return;
    if (message.type === 'shutdown') return shutdown();
    if (message.type === 'acme') {
      const question = questions.get(message.id);
      questions.delete(message.id);
      if (message.error !== undefined) question?.reject(new Error(message.error));
      else question?.resolve(message.answer);
      return;
    }
    router.handle(message);
    if (message.type === 'routes') {
      send({ type: 'applied', version: message.version });
      haveTable();
    } else if (message.type === 'certs') {
      send({ type: 'certs-applied', version: message.version });
      haveCerts();
    }
  });
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('disconnect', shutdown); // the primary is gone
  const reporter = setInterval(() => send({ type: 'metrics', snapshot: router.counters.snapshot() }), 1000);
  reporter.unref();
  send({ type: 'hello' });
  await Promise.all([table, certs]);
  let where = config.listen;
  try {
    const { port } = await router.listen(config.listen);
    let tlsPort: number | null = null;
    if (config.tls) {
      where = config.tls.listen;
      tlsPort = (await router.listenTls(config.tls.listen)).port;
    }
    send({ type: 'listening', port, tlsPort });
  } catch (err) {
    const message = `cannot listen on ${formatAddress(where)}: ${(err as Error).message}`;
    console.error(`proxy: ${message}`);
    send({ type: 'fatal', message }, () => process.exit(1));
  }
}
