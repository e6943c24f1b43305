export * from './defaults';
export * from './rootfs-files';
export * from './runtime-spec';
export * from './spec';
export * from './user';
