export * from './chain';
export * from './mount';
export * from './store';
