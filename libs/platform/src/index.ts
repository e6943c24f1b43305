/**
 * @paas/platform — the platform's domain shared by api, agent and proxy: the database model,
 * names, releases, queues and live logs.
 */
export * from './names';
export * from './formation';
export * from './model/entities';
export * from './model/database';
export { DESIRED_SET_COLUMNS } from './model/migrations';
export * from './releases';
export * from './release-lifecycle';
export * from './queue';
export * from './logs';
export * from './node-logs';
export * from './limits';
export * from './sizes';
export * from './image-command';
export * from './git';
export * from './certs/acme';
export * from './certs/acme-policy';
export * from './backoff';
export * from './redis';
export * from './redis-server';
export * from './tokens';
export * from './join';
export * from './scheduling';
export * from './wake';
export * from './addons';
export * from './tls';
export * from './certs/validate';
export * from './certs/publish';
