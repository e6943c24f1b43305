import { Inject, Injectable } from '@nestjs/common';
import { ApiToken, App, issueToken, transaction } from '@paas/platform';
import { type DataSource, In, IsNull } from 'typeorm';
import { ApiError } from '../common/api-error';
import { DATA_SOURCE } from '../core/tokens';
import type { CreateTokenDto, IssuedTokenView, TokenView } from './tokens.dto';

@Injectable()
export class TokensService {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async list(): Promise<TokenView[]> {
    // a revoked node credential is kept only to tell its node why (nodes:remove): no longer a token
    const live = await this.dataSource.manager.find(ApiToken, {
      where: { revokedAt: IsNull() },
      order: { createdAt: 'ASC', name: 'ASC' },
    });
    return live.map(view);
  }

  async create(input: CreateTokenDto): Promise<IssuedTokenView> {
    if (input.admin && input.apps)
      throw ApiError.invalidField('apps', 'adminScope', 'an admin token is for every app: leave apps out');
    if (input.node && (input.admin || (input.apps ?? null) !== null))
      throw ApiError.invalidField(
        'node',
        'nodeScope',
        'a node token reaches no app and is no admin: leave apps and admin out',
      );
    // Scopes name apps that exist: a name for a later app would hand that app to the token
    // (the app's creation also takes its name from every token, for tokens made before this).
    const { token, record } = await transaction(this.dataSource, async (manager) => {
      const wanted = input.apps ?? [];
      const found = new Set(
        wanted.length ? (await manager.find(App, { where: { name: In(wanted) } })).map((a) => a.name) : [],
      );
      const unknown = wanted.filter((name) => !found.has(name));
      if (unknown.length > 0) {
        const message = `a token is scoped to apps that exist: no app named ${unknown.map((n) => `'${n}'`).join(', ')}`;
        throw new ApiError('unprocessable', message, [{ field: 'apps', rule: 'knownApp', message }]);
      }
      return issueToken(manager, {
        name: input.name,
        apps: input.apps ?? null,
        admin: input.admin ?? false,
        node: input.node ?? false,
      });
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
    node: token.node,
    createdAt: token.createdAt,
    lastUsedAt: token.lastUsedAt,
  };
}
