/**
 * The issuer's real roles (acme-issuer.ts): orders placed with the ACME directory the settings
 * name (certs/acme.ts obtainCertificate, key authorizations in Redis for every router to
 * answer), under the platform's one account for that directory, whose key is made once and kept
 * sealed in the database (AcmeAccount) so every api replica is the same account; and the
 * leader's issuer for one term, made by the scheduler next to its certificate keeper.
 */
import { createHash } from 'node:crypto';
import {
  AcmeAccount,
  type AccountKeyStore,
  ensureAccountKey,
  ensureSealingKey,
  obtainCertificate,
  publishApp,
  RedisCertTable,
  redisAcmeChallenges,
  sealingKeyFile,
} from '@paas/platform';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { logAppEvent } from '../common/app-log';
import type { ApiConfig } from '../config';
import { AcmeIssuer, type AcmeOrders, type Fence } from './acme-issuer';

/** The sealed account key of `directoryUrl`, one row per directory; the first saved wins a race. */
export function databaseAccountKeys(dataSource: DataSource, directoryUrl: string): AccountKeyStore {
  const id = createHash('sha256').update(directoryUrl).digest('hex');
  const load = async (): Promise<string | undefined> => (await dataSource.manager.findOneBy(AcmeAccount, { id }))?.key;
  return {
    load,
    saveIfAbsent: async (sealed) => {
      await dataSource.manager.insert(AcmeAccount, { id, directoryUrl, key: sealed }).catch(async (err: unknown) => {
        if ((await load()) === undefined) throw err;
      });
      return (await load()) as string;
    },
  };
}

/** Orders with the directory of the settings; null when PAAS_ACME_DIRECTORY is unset. */
export function directoryOrders(
  dataSource: DataSource,
  redis: Redis,
  config: ApiConfig,
  sealingKey: () => Buffer,
): AcmeOrders | null {
  const { directoryUrl, email, caPem } = config.acme;
  if (directoryUrl === null) return null;
  const challenges = redisAcmeChallenges(redis);
  let accountKey: Promise<string> | undefined;
  return {
    obtain: async (domains, signal) => {
      accountKey ??= ensureAccountKey(databaseAccountKeys(dataSource, directoryUrl), sealingKey(), directoryUrl);
      const accountKeyPem = await accountKey.catch((err: unknown) => {
        accountKey = undefined;
        throw err;
      });
      return obtainCertificate({
        directoryUrl,
        accountKeyPem,
        domains,
        challenges,
        signal,
        ...(caPem === null ? {} : { caPem }),
        ...(email === null ? {} : { contact: [`mailto:${email}`] }),
      });
    },
  };
}

/** The issuer of one term of the scheduler's leadership; null when no directory is set. */
export function termAcmeIssuer(
  dataSource: DataSource,
  redis: Redis,
  config: ApiConfig,
  fence: Fence,
  warn: (line: string) => void,
): AcmeIssuer | null {
  let key: Buffer | undefined;
  const sealingKey = (): Buffer => (key ??= ensureSealingKey(sealingKeyFile(config.paths.root)));
  const orders = directoryOrders(dataSource, redis, config, sealingKey);
  if (!orders) return null;
  const table = new RedisCertTable(redis);
  return new AcmeIssuer(dataSource, fence, sealingKey, orders, {
    // a failed publish is put right by the leader's keeper within a minute (cert-publisher.ts)
    published: (appId) =>
      publishApp(dataSource.manager, table, appId).catch((err: unknown) =>
        warn(`certificate table, app ${appId}: ${(err as Error).message}`),
      ),
    log: (appId, line) => logAppEvent(redis, appId, line).catch(() => undefined),
    warn,
  });
}
