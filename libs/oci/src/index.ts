export * from './digest';
export * from './media-types';
export * from './reference';
export * from './types';
