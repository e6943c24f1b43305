import { Inject, Injectable } from '@nestjs/common';
import {
  type ApiToken,
  type App,
  CONFIG_KEY,
  CONFIG_KEY_RULE,
  CONFIG_VALUE_MAX,
  CONFIG_VALUE_RULE,
  appConfig,
  changeConfig,
  isConfigValue,
} from '@paas/platform';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { ApiError, type ErrorDetail } from '../common/api-error';
import { logAppEvent } from '../common/app-log';
import { DATA_SOURCE, REDIS } from '../core/tokens';

/** The key column's width. */
const KEY_MAX = 255;

@Injectable()
export class ConfigVarsService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  get(app: App): Promise<Record<string, string>> {
    return appConfig(this.dataSource.manager, app.id);
  }

  /** Heroku's PATCH: strings set, nulls unset; a change makes a release with the new config. */
  async patch(app: App, body: Record<string, unknown>, token: ApiToken): Promise<Record<string, string>> {
    const set: Record<string, string> = Object.create(null); // `__proto__` is a key like any other
    const unset: string[] = [];
    const details: ErrorDetail[] = [];
    for (const [key, value] of Object.entries(body)) {
      if (!CONFIG_KEY.test(key) || key.length > KEY_MAX) {
        details.push({
          field: key,
          rule: 'configKey',
          message: `${JSON.stringify(key.slice(0, 100))} is not ${CONFIG_KEY_RULE}, at most ${KEY_MAX} long`,
        });
      } else if (value === null) unset.push(key);
      else if (typeof value !== 'string') {
        details.push({ field: key, rule: 'isString', message: `${key} must be a string, or null to unset it` });
      } else if (Buffer.byteLength(value) > CONFIG_VALUE_MAX) {
        details.push({ field: key, rule: 'maxLength', message: `${key} must be at most ${CONFIG_VALUE_MAX} bytes` });
      } else if (!isConfigValue(value)) {
        details.push({ field: key, rule: 'configValue', message: `${key} must be ${CONFIG_VALUE_RULE}` });
      } else set[key] = value;
    }
    if (details.length > 0) throw ApiError.invalidParams(details.map((d) => d.message).join('; '), details);
    const release = await changeConfig(this.dataSource, app.id, { set, unset }, token.name);
    if (release) {
      await logAppEvent(this.redis, app.id, `${release.description} by ${token.name}`);
      await logAppEvent(this.redis, app.id, `Release v${release.version} created by ${token.name}`);
    }
    return this.get(app);
  }
}
