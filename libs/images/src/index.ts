export * from './bootstrap';
export * from './errors';
export * from './refs';
export * from './service';
export * from './archive';
export * from './lineage';
