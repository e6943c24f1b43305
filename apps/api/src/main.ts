import { PaasError } from '@paas/errors';
import { loadApiConfig } from './config';

/**
 * `main.js` runs the control plane (REST api, git receiver, its in-process build workers);
 * `main.js worker` runs build workers only, in a process of their own (PAAS_BUILD_WORKERS
 * of them, at least one), sharing the database and Redis with the api.
 */
async function main(): Promise<void> {
  const config = loadApiConfig(process.env);
  if (process.argv[2] === 'worker') {
    const { startBuildWorker } = await import('./builds-queue/build-worker');
    const handle = await startBuildWorker(config);
    console.log(`build worker ready (pid ${process.pid})`);
    process.send?.({ ready: true, url: `pid:${process.pid}` });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        void handle.close().finally(() => process.exit(0));
      });
    }
    return;
  }
  const { startApi } = await import('./server');
  const { url, metricsUrl } = await startApi(config);
  console.log(`api listening on ${url}${metricsUrl ? `, metrics at ${metricsUrl}` : ''}`);
  // Under `paas up` the supervisor waits for this message before it reports the platform up.
  process.send?.({ ready: true, url });
}

main().catch((err: unknown) => {
  // a setting or a certificate file that cannot be used: its message says which and why
  console.error(err instanceof PaasError ? `api: ${err.message}` : err);
  process.exit(1);
});
