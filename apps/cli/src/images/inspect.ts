import type { Image } from '@paas/images';
import { familiarName, familiarString, parseReference } from '@paas/oci';

/** The image as `docker image inspect` shows it. */
export function inspectImage(image: Image, size: number): Record<string, unknown> {
  const repoDigests = [
    ...new Set(image.names.map((n) => `${familiarName(parseReference(n))}@${image.manifestDigest}`)),
  ];
  return {
    Id: image.id,
    RepoTags: image.names.map((n) => familiarString(parseReference(n))),
    RepoDigests: repoDigests,
    Parent: '',
    Comment: image.config.history?.at(-1)?.comment ?? '',
    Created: image.config.created ?? '',
    Author: image.config.author ?? '',
    Config: image.config.config ?? {},
    Architecture: image.config.architecture,
    Os: image.config.os,
    ...(image.config.variant ? { Variant: image.config.variant } : {}),
    Size: size,
    RootFS: { Type: 'layers', Layers: image.config.rootfs.diff_ids },
    Descriptor: { mediaType: image.manifest.mediaType, digest: image.manifestDigest },
  };
}

/**
 * The common subset of Go templates people pass to `--format`: `{{.A.B}}` and
 * `{{json .A.B}}`, with Go's way of printing lists (`[a b]`) and maps.
 */
export function formatTemplate(template: string, value: unknown): string {
  return template.replace(/\{\{\s*(json\s+)?(\.[\w.]*)\s*\}\}/g, (_, json: string | undefined, path: string) => {
    const found = path === '.' ? value : lookup(value, path.slice(1).split('.'));
    return json ? JSON.stringify(found ?? null) : goString(found);
  });
}

function lookup(value: unknown, keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function goString(value: unknown): string {
  if (value === undefined || value === null) return '<no value>';
  if (Array.isArray(value)) return `[${value.map(goString).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `map[${entries.map(([k, v]) => `${k}:${goString(v)}`).join(' ')}]`;
  }
  return String(value);
}
