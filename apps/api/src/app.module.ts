import { type DynamicModule, Module } from '@nestjs/common';
import { AddonsModule } from './addons/addons.module';
import { AddonBackupsModule } from './addon-backups/addon-backups.module';
import { AppsModule } from './apps/apps.module';
import { AuthModule } from './auth/auth.module';
import { BuildsModule } from './builds/builds.module';
import { CertsModule } from './certs/certs.module';
import type { ApiConfig } from './config';
import { ConfigVarsModule } from './config-vars/config-vars.module';
import { CoreModule } from './core/core.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { DomainsModule } from './domains/domains.module';
import { DrainsModule } from './drains/drains.module';
import { FormationModule } from './formation/formation.module';
import { GitModule } from './git/git.module';
import { HealthModule } from './health/health.module';
import { InstancesModule } from './instances/instances.module';
import { JoinModule } from './join/join.module';
import { LogsModule } from './logs/logs.module';
import { NodeRelayModule } from './node-relay/node-relay.module';
import { NodesModule } from './nodes/nodes.module';
import { PrometheusModule } from './prometheus/prometheus.module';
import { ReleasesModule } from './releases/releases.module';
import { ReviewsModule } from './reviews/reviews.module';
import { RunsModule } from './runs/runs.module';
import { SchedulerModule } from './scheduler/scheduler.module';
import { TokensModule } from './tokens/tokens.module';

@Module({})
export class AppModule {
  static register(config: ApiConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.register(config),
        SchedulerModule,
        AuthModule,
        HealthModule,
        PrometheusModule,
        AppsModule,
        ConfigVarsModule,
        BuildsModule,
        ReleasesModule,
        FormationModule,
        InstancesModule,
        RunsModule,
        DomainsModule,
        DrainsModule,
        AddonsModule,
        AddonBackupsModule,
        CertsModule,
        LogsModule,
        NodesModule,
        NodeRelayModule,
        JoinModule,
        TokensModule,
        GitModule,
        ReviewsModule,
        DashboardModule,
      ],
    };
  }
}
