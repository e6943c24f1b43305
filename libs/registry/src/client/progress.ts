/**
 * What pull and push report as they go, in Docker's words. A renderer (the CLI's progress
 * bars or plain lines) decides how to show it; transfers in progress report bytes.
 */
import { Transform } from 'node:stream';
import type { Digest } from '@paas/oci';

export interface LayerEvent {
  readonly digest: Digest;
  /** `Waiting`, `Downloading`, `Pushing`, `Pull complete`, `Pushed`, `Already exists`, ... */
  readonly status: string;
  /** Bytes done and total while `Downloading`/`Pushing`. */
  readonly current?: number;
  readonly total?: number;
  /** A final status (printed as a line by plain renderers). */
  readonly done?: boolean;
}

export interface ProgressSink {
  message(text: string): void;
  layer(event: LayerEvent): void;
}

export const silentProgress: ProgressSink = { message: () => undefined, layer: () => undefined };

/** A pass-through stream that reports bytes as they flow. */
export function countingStream(onBytes: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      onBytes(total);
      callback(null, chunk);
    },
  });
}

/** Runs `fn` over `items` with at most `limit` at a time; rejects with the first failure. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
