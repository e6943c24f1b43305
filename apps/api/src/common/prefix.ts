import { type INestApplication, RequestMethod } from '@nestjs/common';

/**
 * Every route is under `/api` but Prometheus' `GET /metrics`, where scrapers look by default.
 * One place, for the server and for the document the wire types are made from.
 */
export function setApiPrefix(app: INestApplication): void {
  app.setGlobalPrefix('api', { exclude: [{ path: 'metrics', method: RequestMethod.GET }] });
}
