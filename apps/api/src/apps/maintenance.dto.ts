import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';

export class MaintenanceDto {
  @ApiProperty({
    type: Boolean,
    description: 'on: the routers answer every request of the app 503 with a maintenance page',
  })
  @IsBoolean()
  maintenance!: boolean;
}

export class MaintenanceView {
  @ApiProperty({ type: Boolean })
  maintenance!: boolean;

  @ApiProperty({ type: Boolean, description: 'false when the app was in that mode already (nothing was done)' })
  changed!: boolean;
}
