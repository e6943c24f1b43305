export * from './errors';
export * from './gc';
export * from './lease';
export * from './store';
export * from './atomic';
export * from './dir-mode';
