import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { VERSION } from '@paas/config';

/**
 * The OpenAPI document of the api, served as Swagger UI at /api/docs and as JSON at
 * /api/docs-json. Both are public: they describe the api, they do not open it.
 */
export function serveOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('paas platform api')
    .setDescription(
      'The control plane of paas: apps, config vars, builds, releases, formation, domains, logs. See docs/api.md.',
    )
    .setVersion(VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'an API token: paas_…' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}
