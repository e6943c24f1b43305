import cluster from 'node:cluster';
import { ConfigError } from '@paas/config';
import { loadProxyConfig } from './config';
import { runPrimary, runWorker } from './serve';

async function main(): Promise<void> {
  const config = loadProxyConfig(process.env);
  if (!cluster.isPrimary) {
    await runWorker(config);
    return;
  }
  const { url, tls, admin } = await runPrimary(config);
  // Under `paas up` the supervisor waits for this message before it reports the platform up.
  process.send?.({ ready: true, url, tls, admin });
}

main().catch((err: unknown) => {
  // Errors of ours say what and where; anything else is a bug, shown with its stack.
  const ours = err instanceof ConfigError || (err instanceof Error && /^(Error|RedisUrlError)$/.test(err.name));
  console.error(ours ? `proxy: ${(err as Error).message}` : err);
  process.exit(1);
});
