export * from './platform-ca';
