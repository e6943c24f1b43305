/** Test helpers for platform specs: throw-away PostgreSQL clusters and databases, Redis. */
export * from './postgres';
export * from './pebble';
export * from './databases';
export { startLocalRedis, type LocalRedis } from '../redis-server';
export * from './redis';
export { freePort } from './free-port';
export * from './test-pki';
export { waitFor } from './wait';
export { type ParsedFamily, type ParsedSample, parsePrometheus, sampleValue } from './prometheus';
