export * from './env';
export * from './version';
export * from './tls';
