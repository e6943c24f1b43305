import { ApiProperty } from '@nestjs/swagger';
import { APP_NAME, APP_NAME_RULE } from '@paas/platform';
import { IsString, Matches } from 'class-validator';

export class AppNameDto {
  @ApiProperty({ type: String, pattern: APP_NAME.source, example: 'my-app', description: APP_NAME_RULE })
  @IsString()
  @Matches(APP_NAME, { message: `name must be ${APP_NAME_RULE}` })
  name!: string;
}

/** `{id, version}` of a release, where another resource points at one. */
export class ReleaseRef {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: Number, example: 3 })
  version!: number;
}

/** What makes an app a review app: its parent and the parent's branch it serves. */
export class ReviewOf {
  @ApiProperty({ type: String, example: 'my-app' })
  parent!: string;

  @ApiProperty({ type: String, example: 'feature/x' })
  branch!: string;
}

export class AppView {
  @ApiProperty({ type: String, format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, example: 'my-app' })
  name!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: Date;

  @ApiProperty({ type: String, example: 'http://127.0.0.1:7000/git/my-app.git', description: 'git remote to push to' })
  gitUrl!: string;

  @ApiProperty({ type: String, example: 'http://my-app.localhost:8080' })
  webUrl!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'https://my-app.localhost:8443',
    description:
      'the same over HTTPS (PAAS_ROUTER_TLS_ADDR); null when the routers serve no HTTPS or its port is not known',
  })
  httpsWebUrl!: string | null;

  @ApiProperty({ type: ReleaseRef, nullable: true, description: 'the release that serves' })
  release!: ReleaseRef | null;

  @ApiProperty({ type: Boolean, description: 'maintenance mode: the routers answer 503 with a maintenance page' })
  maintenance!: boolean;

  @ApiProperty({
    type: ReviewOf,
    nullable: true,
    description: "a review app's parent and branch (made by a push of that branch); null for other apps",
  })
  review!: ReviewOf | null;
}
