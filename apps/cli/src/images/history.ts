import type { Image } from '@paas/images';
import { humanAgo, humanSize, shortHex, table } from '../format';

export interface HistoryOptions {
  noTrunc?: boolean;
  quiet?: boolean;
  human?: boolean;
}

/** `paas history`: newest step first; the top row carries the image id, the rest `<missing>`. */
export function renderHistory(image: Image, options: HistoryOptions): string {
  const layers = [...image.manifest.layers];
  const steps = image.config.history?.length
    ? image.config.history.map((h) => ({ ...h, size: h.empty_layer ? 0 : (layers.shift()?.size ?? 0) }))
    : image.manifest.layers.map((l) => ({ created: image.config.created, created_by: '', comment: '', size: l.size }));
  const rows = steps.reverse().map((step, i) => {
    const id = i === 0 ? (options.noTrunc ? image.id : shortHex(image.id)) : '<missing>';
    const createdBy = (step.created_by ?? '').replace(/\s+/g, ' ');
    return [
      id,
      options.human === false ? (step.created ?? '') : humanAgo(step.created),
      options.noTrunc || createdBy.length <= 45 ? createdBy : `${createdBy.slice(0, 44)}…`,
      options.human === false ? String(step.size) : humanSize(step.size),
      step.comment ?? '',
    ];
  });
  if (options.quiet) return rows.map((r) => `${r[0]}\n`).join('');
  return table(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows);
}
