/**
 * The api's side of the certificate table (libs/platform certs/publish.ts says what is
 * published, and writes it over Redis): the one call every change of an app's certificates,
 * domains or name makes once its transaction has committed.
 *
 * The change is committed before the table is written: a Redis that fails then does not undo
 * it, and is only reported (the request succeeds); the leader's keeper (CertTableKeeper, in
 * the scheduler's passes) writes the whole table again when Redis comes back without it, and
 * puts right an entry that differs from the database within a minute.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { type CertTableWriter, RedisCertTable, publishApp } from '@paas/platform';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE, REDIS } from '../core/tokens';

@Injectable()
export class CertPublisher {
  private readonly logger = new Logger('certs');
  readonly table: CertTableWriter;

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) redis: Redis,
  ) {
    this.table = new RedisCertTable(redis);
  }

  /** Writes the app's entry as the database holds it now. */
  async publish(appId: string): Promise<void> {
    await publishApp(this.dataSource.manager, this.table, appId).catch((err: unknown) =>
      this.logger.warn(`certificate table, app ${appId}: ${(err as Error).message}`),
    );
  }

  /** The entry of an app that is gone (deleted, or renamed: then `publish` its id too). */
  async removed(name: string): Promise<void> {
    await this.table
      .remove(name)
      .catch((err: unknown) => this.logger.warn(`certificate table, app ${name}: ${(err as Error).message}`));
  }
}
