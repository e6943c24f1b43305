/**
 * @paas/layers — tar layers: overlay upper dir -> OCI layer (with whiteouts), plain
 * directory -> layer, and safe extraction of any layer into a directory.
 */
export { type Compression } from './compression';
export { diffUpperDir, type LayerInfo, type PackOptions, tarDirectory } from './diff';
export { LayerError, type LayerErrorCode } from './errors';
export { type ExtractOptions, type ExtractResult, extractLayer, type LayerWarning } from './extract';
export { type Fsx, fsx, MountFlags, type SpawnResult } from './fsx';
export { RootResolver } from './paths';
export type { EntryType, TarHeader } from './tar-format';
export { type TarEntry, TarReader } from './tar-read';
export { type TarSink, TarWriter } from './tar-write';
