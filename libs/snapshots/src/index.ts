export * from './chain';
export * from './idmap-cache';
export * from './mount';
export * from './store';
