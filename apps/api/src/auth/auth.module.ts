import { Global, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE } from '../core/tokens';
import { adminTokenPath, ensureAdminToken } from './admin-token';
import { AuthGuard } from './auth.guard';
import { AuthRateLimiter } from './rate-limiter';

/** Token authentication for every route, and the first admin token of a new platform. */
@Global()
@Module({
  providers: [
    { provide: AuthRateLimiter, useFactory: () => new AuthRateLimiter() },
    { provide: APP_GUARD, useClass: AuthGuard },
    AuthGuard,
  ],
  // the git receiver counts its failed logins against the same per-address limit; one-off
  // runs' terminals (an HTTP Upgrade, no Nest route) pass the same door
  exports: [AuthRateLimiter, AuthGuard],
})
export class AuthModule implements OnModuleInit {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const token = await ensureAdminToken(this.dataSource, this.config.paths.root);
    // Where the platform's first credential is, never the credential: logs are kept and
    // shipped (paas up's own log, a journal) where a 0600 file is not.
    if (token !== null) console.log(`admin token made: ${adminTokenPath(this.config.paths.root)} (0600)`);
  }
}
