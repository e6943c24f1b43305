import { Module } from '@nestjs/common';
import { CaController, JoinController } from './join.controller';
import { JoinService } from './join.service';

@Module({ controllers: [JoinController, CaController], providers: [JoinService] })
export class JoinModule {}
