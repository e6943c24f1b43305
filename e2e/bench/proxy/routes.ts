/**
 * Writes one app's route for the proxy benchmark, with the control plane's writer:
 *   node --import tsx e2e/bench/proxy/routes.ts REDIS_URL APP ADDRESS...
 */
import { connectRedis, setAppRoutes } from '@paas/platform/routes';

async function main(): Promise<void> {
  const [url, app, ...addresses] = process.argv.slice(2);
  if (!url || !app || addresses.length === 0) {
    console.error('usage: routes.ts REDIS_URL APP ADDRESS...');
    process.exit(2);
  }
  const redis = connectRedis(url);
  const deadline = setTimeout(() => {
    console.error(`routes.ts: no answer from redis at ${url} within 10 s`);
    process.exit(1);
  }, 10_000);
  try {
    const backends = addresses.map((address, i) => ({ id: `bench.${i + 1}`, address }));
    const version = await setAppRoutes(redis, app, [], backends);
    console.log(`route table version ${version}: ${app} -> ${addresses.join(' ')}`);
  } finally {
    clearTimeout(deadline);
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(`routes.ts: ${(err as Error).message}`);
  process.exit(1);
});
