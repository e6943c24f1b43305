import { Inject, Injectable } from '@nestjs/common';
import { ApiToken, issueToken, transaction } from '@paas/platform';
import type { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { DATA_SOURCE } from '../core/tokens';
import type { CreateTokenDto, IssuedTokenView, TokenView } from './tokens.dto';

@Injectable()
export class TokensService {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async list(): Promise<TokenView[]> {
    return (await this.dataSource.manager.find(ApiToken, { order: { createdAt: 'ASC', name: 'ASC' } })).map(view);
  }

  async create(input: CreateTokenDto): Promise<IssuedTokenView> {
    if (input.admin && input.apps)
      throw ApiError.invalidField('apps', 'adminScope', 'an admin token is for every app: leave apps out');
    const { token, record } = await issueToken(this.dataSource.manager, {
      name: input.name,
      apps: input.apps ?? null,
      admin: input.admin ?? false,
    });
    const saved = await this.dataSource.manager.findOneByOrFail(ApiToken, { id: record.id });
    return { token, ...view(saved) };
  }

  /** Revokes a token; the last admin token stays, or nobody could manage tokens again. */
  async remove(id: string): Promise<TokenView> {
    return transaction(this.dataSource, async (manager) => {
      const token = /^[0-9a-f-]{36}$/.test(id) ? await manager.findOne(ApiToken, { where: { id } }) : null;
      if (!token) throw ApiError.notFound(`token '${id}' not found`);
      if (token.admin && (await manager.count(ApiToken, { where: { admin: true } })) === 1) {
        throw ApiError.unprocessable('this is the last admin token; make another one before revoking it');
      }
      await manager.delete(ApiToken, { id });
      return view(token);
    });
  }
}

function view(token: ApiToken): TokenView {
  return {
    id: token.id,
    name: token.name,
    prefix: token.prefix,
    apps: token.apps,
    admin: token.admin,
    createdAt: token.createdAt,
    lastUsedAt: token.lastUsedAt,
  };
}
