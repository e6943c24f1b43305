import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { VERSION } from '@paas/config';
import { ErrorView } from '../common/error.dto';
import { LogLineView } from '../logs/logs.dto';

/**
 * The OpenAPI document of the api, served as Swagger UI at /api/docs and as JSON at
 * /api/docs-json. Both are public: they describe the api, they do not open it. The same
 * document is the source of the wire types the CLI and the dashboard use (libs/api-types).
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('paas platform api')
    .setDescription(
      'The control plane of paas: apps, config vars, builds, releases, formation, domains, logs. See docs/api.md.',
    )
    .setVersion(VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'an API token: paas_…' })
    .build();
  // shapes no route names as its body: every error answer, and a log event's data
  return SwaggerModule.createDocument(app, config, { extraModels: [ErrorView, LogLineView] });
}

export function serveOpenApi(app: INestApplication): void {
  SwaggerModule.setup('api/docs', app, createOpenApiDocument(app), { jsonDocumentUrl: 'api/docs-json' });
}
