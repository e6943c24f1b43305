import { Module } from '@nestjs/common';
import { AddonsModule } from '../addons/addons.module';
import { AppsModule } from '../apps/apps.module';
import { ReviewsController } from './reviews.controller';
import { ReviewsService } from './reviews.service';

@Module({
  imports: [AppsModule, AddonsModule],
  controllers: [ReviewsController],
  providers: [ReviewsService],
  exports: [ReviewsService],
})
export class ReviewsModule {}
