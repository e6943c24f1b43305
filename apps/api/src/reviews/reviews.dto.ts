import { ApiProperty } from '@nestjs/swagger';

export class ReviewView {
  @ApiProperty({ type: String, example: 'my-app--feature-x' })
  name!: string;

  @ApiProperty({ type: String, example: 'feature/x', description: "the parent's branch it serves" })
  branch!: string;

  @ApiProperty({ type: String, example: 'http://my-app--feature-x.localhost:8080' })
  url!: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'its last push (its creation before any build)' })
  lastPushAt!: Date;

  @ApiProperty({
    type: String,
    example: 'v2 live',
    description: "`building` while a push builds; else its newest release and that release's state; `no release`",
  })
  state!: string;
}
