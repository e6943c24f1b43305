import { Controller, Delete, Get, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/decorators';
import { ValidBody } from '../common/validation';
import { CreateTokenDto, IssuedTokenView, TokenView } from './tokens.dto';
import { TokensService } from './tokens.service';

@ApiTags('tokens')
@ApiBearerAuth()
@AdminOnly()
@Controller('tokens')
export class TokensController {
  constructor(@Inject(TokensService) private readonly tokens: TokensService) {}

  @Get()
  @ApiOkResponse({ type: TokenView, isArray: true })
  list(): Promise<TokenView[]> {
    return this.tokens.list();
  }

  @Post()
  @ApiBody({ type: CreateTokenDto })
  @ApiCreatedResponse({ type: IssuedTokenView })
  create(@ValidBody(CreateTokenDto) body: CreateTokenDto): Promise<IssuedTokenView> {
    return this.tokens.create(body);
  }

  @Delete(':id')
  @ApiParam({ name: 'id', type: String, format: 'uuid' })
  @ApiOkResponse({ type: TokenView, description: 'the revoked token' })
  remove(@Param('id') id: string): Promise<TokenView> {
    return this.tokens.remove(id);
  }
}
