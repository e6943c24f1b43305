/**
 * The api's side of the certificate table (libs/platform certs/publish.ts says what is
 * published): the Redis writer, and the one call every change of an app's certificates,
 * domains or name makes once its transaction has committed.
 *
 * The change is committed before the table is written: a Redis that fails then does not undo
 * it, and is only reported (the request succeeds); the leader's keeper writes the whole table
 * again when Redis comes back without it.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { type CertTableWriter, publishApp } from '@paas/platform';
import { type TableCert, certTableVersion, rebuildCertTable, removeAppCerts, setAppCerts } from '@paas/platform/certs';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE, REDIS } from '../core/tokens';

/** table.ts over one Redis connection. */
export class RedisCertTable implements CertTableWriter {
  constructor(private readonly redis: Redis) {}

  set(app: string, certs: readonly TableCert[]): Promise<number> {
    return setAppCerts(this.redis, app, certs);
  }

  remove(app: string): Promise<number | null> {
    return removeAppCerts(this.redis, app);
  }

  rebuild(all: ReadonlyMap<string, readonly TableCert[]>): Promise<number> {
    return rebuildCertTable(this.redis, all);
  }

  version(): Promise<number> {
    return certTableVersion(this.redis);
  }
}

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
