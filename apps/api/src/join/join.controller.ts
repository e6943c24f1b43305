import { Controller, Delete, Get, Header, Inject, Param, Post, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiParam,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { AdminOnly, ForJoining, Public } from '../auth/decorators';
import { type ApiRequest, baseUrl } from '../common/request';
import { ValidBody } from '../common/validation';
import { CreateJoinTokenDto, IssuedJoinTokenView, JoinAnswerView, JoinNodeDto, JoinTokenView } from './join.dto';
import { type Joiner, JoinService } from './join.service';

/** Join tokens and joining (join.service.ts). */
@ApiTags('nodes')
@ApiBearerAuth()
@Controller('nodes')
export class JoinController {
  constructor(@Inject(JoinService) private readonly joins: JoinService) {}

  @Post('join-tokens')
  @AdminOnly()
  @ApiBody({ type: CreateJoinTokenDto })
  @ApiCreatedResponse({ type: IssuedJoinTokenView, description: 'a single-use join token, shown once' })
  create(
    @ValidBody(CreateJoinTokenDto) body: CreateJoinTokenDto,
    @Req() req: ApiRequest,
  ): Promise<IssuedJoinTokenView> {
    return this.joins.createToken(body.ttl, baseUrl(req));
  }

  @Get('join-tokens')
  @AdminOnly()
  @ApiOkResponse({ type: JoinTokenView, isArray: true, description: 'the join tokens not yet expired' })
  list(): Promise<JoinTokenView[]> {
    return this.joins.list();
  }

  @Delete('join-tokens/:id')
  @AdminOnly()
  @ApiParam({ name: 'id', type: String, format: 'uuid' })
  @ApiOkResponse({ type: JoinTokenView, description: 'the revoked join token' })
  revoke(@Param('id') id: string): Promise<JoinTokenView> {
    return this.joins.revoke(id);
  }

  @Post('join')
  @ForJoining()
  @ApiBody({ type: JoinNodeDto })
  @ApiCreatedResponse({ type: JoinAnswerView, description: "the node's credential and where it finds the platform" })
  join(@ValidBody(JoinNodeDto) body: JoinNodeDto, @Req() req: ApiRequest): Promise<JoinAnswerView> {
    // the guard let a join token through unchecked (this route spends it), or authenticated an admin
    const joiner: Joiner = req.token
      ? { admin: req.token }
      : { secret: /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? '' };
    return this.joins.join(joiner, body, req.socket.remoteAddress ?? 'unknown', baseUrl(req));
  }
}

/** The platform CA's certificate: public, what `paas node join` fetches before it trusts anything. */
@ApiTags('nodes')
@Controller('ca')
export class CaController {
  constructor(@Inject(JoinService) private readonly joins: JoinService) {}

  @Get()
  @Public()
  @Header('content-type', 'application/x-pem-file')
  @ApiProduces('application/x-pem-file')
  @ApiOkResponse({ type: String, description: 'the platform CA certificate, PEM' })
  ca(): Promise<string> {
    return this.joins.caCertificate();
  }
}
