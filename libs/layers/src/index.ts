/**
 * @paas/layers — tar layers: overlay upper dir -> OCI layer (with whiteouts), plain
 * directory -> layer, and safe extraction of any layer into a directory.
 */
export { type Compression, DEFAULT_GZIP_LEVEL, detectCompression, LAYER_MEDIA_TYPES } from './compression';
export { diffUpperDir, type LayerInfo, type PackOptions, tarDirectory } from './diff';
export { LayerError, type LayerErrorCode } from './errors';
export { type ExtractOptions, type ExtractResult, extractLayer, type LayerWarning } from './extract';
export { type Fsx, fsx, MountFlags } from './fsx';
export { cleanEntryPath, RootResolver } from './paths';
export type { EntryType, TarHeader } from './tar-format';
export { type TarEntry, TarReader } from './tar-read';
export { type TarSink, TarWriter } from './tar-write';
export { OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX } from './whiteouts';
