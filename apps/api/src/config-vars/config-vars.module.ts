import { Module } from '@nestjs/common';
import { ConfigVarsController } from './config-vars.controller';
import { ConfigVarsService } from './config-vars.service';

@Module({ controllers: [ConfigVarsController], providers: [ConfigVarsService] })
export class ConfigVarsModule {}
