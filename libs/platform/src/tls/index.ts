export * from './platform-ca';
export * from './serving';
export * from './sealed';
