/**
 * Manifest documents as the server accepts them: OCI and Docker schema2 image manifests and
 * indexes, with what they point at (blobs that must be linked in the repository, child
 * manifests that must exist in it) and what the referrers API needs (subject, artifactType).
 */
import { type Digest, MediaType, isDigest } from '@paas/oci';
import { RegistryError } from '../errors';

const MANIFEST_TYPES: readonly string[] = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
];

export interface ParsedManifest {
  readonly mediaType: string;
  readonly blobs: Digest[];
  readonly children: Digest[];
  readonly subject?: Digest;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

interface RawDescriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  urls?: unknown;
}

interface RawManifest {
  schemaVersion?: unknown;
  mediaType?: unknown;
  artifactType?: unknown;
  config?: RawDescriptor;
  layers?: RawDescriptor[];
  manifests?: RawDescriptor[];
  subject?: RawDescriptor;
  annotations?: Record<string, string>;
}

const invalid = (message: string, detail?: unknown): RegistryError =>
  new RegistryError('MANIFEST_INVALID', `manifest invalid: ${message}`, detail);

export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: RawManifest;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as RawManifest;
  } catch {
    throw invalid('not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not a JSON object');
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = contentType?.split(';')[0]?.trim();
  const mediaType =
    declared ??
    (header && MANIFEST_TYPES.includes(header) ? header : undefined) ??
    (Array.isArray(doc.manifests) ? MediaType.ociIndex : MediaType.ociManifest);
  if (!MANIFEST_TYPES.includes(mediaType)) throw invalid(`unsupported media type ${mediaType}`);
  if (declared && header && MANIFEST_TYPES.includes(header) && header !== declared) {
    throw invalid(`Content-Type ${header} does not match mediaType ${declared}`);
  }
  const descriptor = (d: RawDescriptor | undefined, where: string): Digest => {
    if (!d || typeof d !== 'object' || typeof d.mediaType !== 'string' || typeof d.size !== 'number') {
      throw invalid(`${where} is not a descriptor`);
    }
    if (!isDigest(d.digest)) throw invalid(`${where} has an invalid digest`, { digest: d.digest ?? null });
    return d.digest;
  };
  const subject = doc.subject !== undefined ? descriptor(doc.subject, 'subject') : undefined;
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;
  const extra = {
    ...(subject ? { subject } : {}),
    ...(doc.annotations && typeof doc.annotations === 'object' ? { annotations: doc.annotations } : {}),
  };
  if (mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList) {
    if (!Array.isArray(doc.manifests)) throw invalid('an index needs manifests');
    const children = doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
    return { mediaType, blobs: [], children, ...extra, ...(artifactType ? { artifactType } : {}) };
  }
  if (!Array.isArray(doc.layers)) throw invalid('a manifest needs layers');
  const config = descriptor(doc.config, 'config');
  const blobs = [config];
  doc.layers.forEach((layer, i) => {
    const digest = descriptor(layer, `layers[${i}]`);
    // foreign layers (with urls) live elsewhere, as registry:2 allows
    if (!(Array.isArray(layer.urls) && layer.urls.length > 0)) blobs.push(digest);
  });
  const configType = typeof doc.config?.mediaType === 'string' ? doc.config.mediaType : undefined;
  const effectiveArtifactType = artifactType ?? configType;
  return {
    mediaType,
    blobs,
    children: [],
    ...extra,
    ...(effectiveArtifactType ? { artifactType: effectiveArtifactType } : {}),
  };
}
