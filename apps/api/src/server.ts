import 'reflect-metadata';
import type { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module';
import type { ApiConfig } from './config';

export interface RunningApi {
  readonly app: INestApplication;
  /** The base URL the api answers on, with the port the kernel chose when 0 was asked. */
  readonly url: string;
}

/** Creates and starts the api; callers own the returned app and close it. */
export async function startApi(config: ApiConfig, logLevels: LogLevel[] = ['error', 'warn']): Promise<RunningApi> {
  const app = await NestFactory.create(AppModule.register(config), { logger: logLevels });
  app.setGlobalPrefix('api');
  app.enableShutdownHooks();
  await app.listen(config.listen.port, config.listen.host);
  const address = app.getHttpServer().address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { app, url: `http://${host}:${address.port}` };
}
