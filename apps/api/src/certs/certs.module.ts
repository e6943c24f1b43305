import { Global, Module } from '@nestjs/common';
import { CertPublisher } from './cert-publisher';
import { CertsController } from './certs.controller';
import { CertsService } from './certs.service';
import { HttpsController } from './https.controller';

/** Certificates; global for its publisher, which domains and apps call after their changes. */
@Global()
@Module({
  controllers: [CertsController, HttpsController],
  providers: [CertsService, CertPublisher],
  exports: [CertPublisher],
})
export class CertsModule {}
