export * from './platform-ca';
export * from './serving';
