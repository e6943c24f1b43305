import 'reflect-metadata';
import type { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { keepRenewed } from '@paas/platform';
import { apiTlsCredentials } from './api-tls';
import { AppModule } from './app.module';
import { ErrorFilter } from './common/error.filter';
import { setApiPrefix } from './common/prefix';
import { verifyJsonDepth } from './common/json-depth';
import { ApiMetrics } from './prometheus/api-metrics';
import type { ApiConfig } from './config';
import { serveOpenApi } from './docs/openapi';

/** Request bodies are small JSON documents; config vars are the largest (values ≤ 32 KiB). */
const JSON_LIMIT = '1mb';

export interface RunningApi {
  readonly app: INestApplication;
  /** The base URL the api answers on, with the port the kernel chose when 0 was asked. */
  readonly url: string;
  /** PAAS_API_METRICS_ADDR's `/metrics` URL; null when it is off. */
  readonly metricsUrl: string | null;
}

/** Creates and starts the api; callers own the returned app and close it. */
export async function startApi(config: ApiConfig, logLevels: LogLevel[] = ['error', 'warn']): Promise<RunningApi> {
  // off loopback: HTTPS, the git receiver included (same server)
  const tls = await apiTlsCredentials(config);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), {
    logger: logLevels,
    bodyParser: false,
    // Log followers stay connected for as long as they like; stopping must not wait for them.
    forceCloseConnections: true,
    ...(tls.serving ? { httpsOptions: { cert: tls.serving.cert, key: tls.serving.key } } : {}),
  });
  let metricsUrl: string | null = null;
  try {
    // counted first: a body refused by the parser (too big, too deep, not JSON) is a request too
    app.use(app.get(ApiMetrics).countRequests());
    // JSON only, with our size and depth limits; other bodies (the git receiver's packs) are left as streams.
    app.useBodyParser('json', { limit: JSON_LIMIT, verify: verifyJsonDepth });
    setApiPrefix(app);
    app.useGlobalFilters(new ErrorFilter());
    app.enableShutdownHooks();
    serveOpenApi(app);
    await app.listen(config.listen.port, config.listen.host);
    if (config.metricsListen) metricsUrl = `${await app.get(ApiMetrics).listen(config.metricsListen)}/metrics`;
  } catch (err) {
    await app.close();
    throw err;
  }
  const server = app.getHttpServer();
  keepRenewed(server as unknown as TlsServer, tls, (message) => console.error(`api: ${message}`));
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { app, url: `${tls.serving ? 'https' : 'http'}://${host}:${address.port}`, metricsUrl };
}
