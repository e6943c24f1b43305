import { ConfigError } from '@paas/config';
import { loadApiConfig } from './config';
import { startApi } from './server';

async function main(): Promise<void> {
  const config = loadApiConfig(process.env);
  const { url } = await startApi(config);
  console.log(`api listening on ${url}`);
  // Under `paas up` the supervisor waits for this message before it reports the platform up.
  process.send?.({ ready: true, url });
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? `api: ${err.message}` : err);
  process.exit(1);
});
