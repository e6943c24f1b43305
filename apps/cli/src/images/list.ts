import { type Image, type ImageSummary, isIntermediate } from '@paas/images';
import { familiarName, parseNormalizedReference, parseReference } from '@paas/oci';
import { humanAgo, humanSize, shortHex, table } from '../format';

export interface ListOptions {
  all?: boolean;
  quiet?: boolean;
  noTrunc?: boolean;
  digests?: boolean;
}

/** REPOSITORY and TAG of each name of an image, or `<none>` twice for a dangling one. */
function repoTags(image: Pick<Image, 'names'>): Array<{ repository: string; tag: string }> {
  if (image.names.length === 0) return [{ repository: '<none>', tag: '<none>' }];
  return image.names.map((name) => {
    const ref = parseReference(name);
    return { repository: familiarName(ref), tag: ref.tag ?? '<none>' };
  });
}

/** `paas images`: one row per name, newest first, with Docker's columns plus SHARED SIZE. */
export function renderImages(images: readonly ImageSummary[], options: ListOptions, filter?: string): string {
  const match = filter ? parseFilter(filter) : undefined;
  const rows: string[][] = [];
  const shown = options.all ? images : images.filter((i) => !isIntermediate(i, images));
  const sorted = [...shown].sort((a, b) => Date.parse(b.created ?? '0') - Date.parse(a.created ?? '0'));
  for (const image of sorted) {
    for (const { repository, tag } of repoTags(image)) {
      if (match && (repository !== match.repository || (match.tag !== undefined && tag !== match.tag))) continue;
      const id = options.noTrunc ? image.id : shortHex(image.id);
      if (options.quiet) {
        rows.push([id]);
        continue;
      }
      const row = [repository, tag];
      if (options.digests) row.push(image.names.length ? image.manifestDigest : '<none>');
      row.push(id, humanAgo(image.created), humanSize(image.size), humanSize(image.sharedSize));
      rows.push(row);
    }
  }
  if (options.quiet) return rows.map((r) => `${r[0]}\n`).join('');
  const header = [
    'REPOSITORY',
    'TAG',
    ...(options.digests ? ['DIGEST'] : []),
    'IMAGE ID',
    'CREATED',
    'SIZE',
    'SHARED SIZE',
  ];
  return table(header, rows);
}

function parseFilter(filter: string): { repository: string; tag?: string } {
  const ref = parseReference(filter);
  const repository = familiarName(ref);
  const explicitTag = filter.lastIndexOf(':') > filter.lastIndexOf('/');
  return explicitTag ? { repository, tag: parseNormalizedReference(filter).tag ?? 'latest' } : { repository };
}
