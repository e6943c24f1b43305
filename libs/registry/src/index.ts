/**
 * @paas/registry — OCI distribution server (routes + storage) and client (pull/push).
 */
export * from './errors';
export * from './names';
export * from './auth/scopes';
export * from './auth/tokens';
export * from './auth/users';
export * from './auth/platform-users';
export * from './server/start';
export * from './client/challenge';
export * from './client/client';
export * from './client/credentials';
export * from './client/delete';
export * from './client/mirrors';
export * from './client/progress';
export * from './client/pull';
export * from './client/puller';
export * from './client/push';
export * from './client/sources';
export * from './client/transport';
