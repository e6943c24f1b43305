/**
 * Joining machines as nodes (docs/operations.md "Adding a machine"), kubeadm's way: an admin
 * makes a short-lived join token (`paas nodes:join-token`) and runs the printed command on the
 * new machine, which pins the platform CA by its hash (`GET /api/ca`, public) and trades the
 * token for a node credential of its own (`POST /api/nodes/join`).
 *
 * A join is one transaction: the token is checked (unknown, expired, used: 401), the name
 * (a node of that name, or a live credential bound to it: 409), the token spent (a
 * conditional update, so two joins racing on one token cannot both win) and a node token
 * bound to the name issued (joins of one name are taken one at a time). Nothing else: the node row appears when its agent registers.
 * Every refusal is logged with the caller's address; unknown tokens count as failed
 * authentications (rate-limiter.ts), as unknown API tokens do.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ApiToken,
  JoinToken,
  Node,
  caHash,
  databaseKind,
  findJoinToken,
  issueJoinToken,
  issueToken,
  joinCommand,
  parseDuration,
  transaction,
} from '@paas/platform';
import { platformTlsDirectory } from '@paas/config';
import { platformCredentialsPath } from '@paas/registry';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DataSource, IsNull, MoreThan } from 'typeorm';
import { AuthRateLimiter } from '../auth/rate-limiter';
import { ApiError } from '../common/api-error';
import { API_CONFIG, type ApiConfig } from '../config';
import { DATA_SOURCE } from '../core/tokens';
import { type IssuedJoinTokenView, type JoinAnswerView, type JoinNodeDto, type JoinTokenView, TTL } from './join.dto';

export const DEFAULT_JOIN_TTL = '1h';
export const JOIN_TTL_MIN_MS = 60_000;
export const JOIN_TTL_MAX_MS = 24 * 3_600_000;

/** Milliseconds of a TTL such as `1h`, or a 400 naming the rule. */
export function joinTtlMs(ttl: string): number {
  const ms = TTL.test(ttl) ? (parseDuration(ttl) ?? NaN) : NaN;
  if (!(ms >= JOIN_TTL_MIN_MS && ms <= JOIN_TTL_MAX_MS))
    throw ApiError.invalidField('ttl', 'ttlRange', `ttl must be from 1m to 24h, not ${JSON.stringify(ttl)}`);
  return ms;
}

/** Who is joining: a join token's secret, or an admin token the guard authenticated. */
export type Joiner = { readonly secret: string } | { readonly admin: ApiToken };

function view(token: JoinToken): JoinTokenView {
  const { id, prefix, expiresAt, usedAt, nodeName, createdAt } = token;
  return { id, prefix, expiresAt, usedAt, nodeName, createdAt };
}

@Injectable()
export class JoinService {
  private readonly logger = new Logger('join');

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(AuthRateLimiter) private readonly limiter: AuthRateLimiter,
  ) {}

  /** The platform CA's certificate (made by every api start: api-tls.ts). */
  async caCertificate(): Promise<string> {
    return readFile(join(platformTlsDirectory(this.config.paths.root), 'ca.crt'), 'utf8');
  }

  async createToken(ttl: string | undefined, apiUrl: string): Promise<IssuedJoinTokenView> {
    const ms = joinTtlMs(ttl ?? DEFAULT_JOIN_TTL);
    const hash = caHash(await this.caCertificate());
    const { token, record } = await issueJoinToken(this.dataSource.manager, new Date(Date.now() + ms));
    const saved = await this.dataSource.manager.findOneByOrFail(JoinToken, { id: record.id });
    this.logger.log(`join token ${record.prefix}… made, valid until ${record.expiresAt}`);
    return { ...view(saved), token, caHash: hash, command: joinCommand(apiUrl, token, hash) };
  }

  /** The tokens not yet expired, used or not. */
  async list(): Promise<JoinTokenView[]> {
    const live = await this.dataSource.manager.find(JoinToken, {
      where: { expiresAt: MoreThan(new Date().toISOString()) },
      order: { createdAt: 'ASC' },
    });
    return live.map(view);
  }

  async revoke(id: string): Promise<JoinTokenView> {
    return transaction(this.dataSource, async (em) => {
      const token = /^[0-9a-f-]{36}$/.test(id) ? await em.findOne(JoinToken, { where: { id } }) : null;
      if (!token) throw ApiError.notFound(`join token '${id}' not found`);
      await em.delete(JoinToken, { id });
      return view(token);
    });
  }

  async join(joiner: Joiner, input: JoinNodeDto, from: string, apiUrl: string): Promise<JoinAnswerView> {
    const refuse = (error: ApiError): ApiError => {
      this.logger.warn(`refused node ${input.name} joining from ${from}: ${error.message}`);
      return error;
    };
    const nodeToken = await transaction(this.dataSource, async (em) => {
      let joinToken: JoinToken | null = null;
      if ('secret' in joiner) {
        joinToken = await findJoinToken(em, joiner.secret);
        if (!joinToken) {
          const wait = this.limiter.retryAfter(from);
          if (wait > 0) throw refuse(ApiError.rateLimited(wait));
          this.limiter.fail(from);
          throw refuse(ApiError.unauthorized('unknown join token'));
        }
        if (Date.parse(joinToken.expiresAt) <= Date.now())
          throw refuse(ApiError.unauthorized(`join token expired at ${joinToken.expiresAt}`));
        if (joinToken.usedAt !== null) throw refuse(ApiError.unauthorized('join token already used'));
      }
      // two joins of one name with two tokens: on PostgreSQL the second waits for the first
      // (SQLite runs one write transaction at a time already) and then sees its credential
      if (databaseKind(this.dataSource) === 'postgres')
        await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`paas node join ${input.name}`]);
      const taken =
        (await em.count(Node, { where: { name: input.name } })) > 0 ||
        (await em.count(ApiToken, { where: { node: true, nodeName: input.name, revokedAt: IsNull() } })) > 0;
      if (taken) {
        throw refuse(
          ApiError.conflict(
            `node ${input.name} already exists: pick another --name or \`paas nodes:remove ${input.name}\` first`,
          ),
        );
      }
      if (joinToken) {
        const spent = await em.update(
          JoinToken,
          { id: joinToken.id, usedAt: IsNull() },
          { usedAt: new Date().toISOString(), nodeName: input.name },
        );
        if (spent.affected !== 1) throw refuse(ApiError.unauthorized('join token already used'));
      }
      const issued = await issueToken(em, { name: `node ${input.name}`, node: true, nodeName: input.name });
      return issued.token;
    });
    const by = 'secret' in joiner ? 'a join token' : `admin token ${joiner.admin.prefix}…`;
    this.logger.log(
      `node ${input.name} joined from ${from}${input.address ? ` (address ${input.address})` : ''} with ${by}`,
    );
    return { name: input.name, nodeToken, apiUrl, registry: await this.registry() };
  }

  /**
   * Where nodes pull release images from, and their pull-only login: the one `paas up` (or the
   * operator, through ensurePlatformRegistryUsers) keeps under this root.
   */
  private async registry(): Promise<JoinAnswerView['registry']> {
    const address = this.config.nodeRegistry ?? this.config.registry;
    let login: { username?: unknown; password?: unknown } = {};
    try {
      const file = platformCredentialsPath(join(this.config.paths.root, 'platform'), 'node');
      login = JSON.parse(await readFile(file, 'utf8')) as typeof login;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return typeof login.username === 'string' && typeof login.password === 'string'
      ? { address, username: login.username, password: login.password }
      : { address, username: null, password: null };
  }
}
