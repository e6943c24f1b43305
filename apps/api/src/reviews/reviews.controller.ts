import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { App } from '@paas/platform';
import { CurrentApp } from '../common/request';
import { ReviewView } from './reviews.dto';
import { ReviewsService } from './reviews.service';

/** An app's review apps (`paas reviews`): made by pushes of its other branches (reviews.service.ts). */
@ApiTags('apps')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/reviews')
export class ReviewsController {
  constructor(@Inject(ReviewsService) private readonly reviews: ReviewsService) {}

  @Get()
  @ApiOkResponse({ type: ReviewView, isArray: true, description: "the app's review apps, by name" })
  list(@CurrentApp() app: App): Promise<ReviewView[]> {
    return this.reviews.list(app);
  }
}
