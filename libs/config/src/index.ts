export * from './env';
export * from './version';
