import { Global, Module } from '@nestjs/common';
import { CertPublisher } from './cert-publisher';
import { CertsAutoController } from './certs-auto.controller';
import { CertsAutoService } from './certs-auto.service';
import { CertsController } from './certs.controller';
import { CertsService } from './certs.service';
import { HttpsController } from './https.controller';

/** Certificates; global for its publisher, which domains and apps call after their changes. */
@Global()
@Module({
  // certs/auto before certs/:id
  controllers: [CertsAutoController, CertsController, HttpsController],
  providers: [CertsService, CertsAutoService, CertPublisher],
  exports: [CertPublisher],
})
export class CertsModule {}
