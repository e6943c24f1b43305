/**
 * How pull and push show progress: on a terminal, one line per layer redrawn in place with a
 * bar (as `docker pull` does); otherwise one plain line per finished layer, which is what
 * logs and tests read.
 */
import type { LayerEvent, ProgressSink } from '@paas/registry';
import { shortId } from '@paas/oci';
import { humanSize } from '../format';

export function plainProgress(write: (text: string) => void): ProgressSink {
  return {
    message: (text) => write(`${text}\n`),
    layer: (event) => {
      if (event.done) write(`${shortId(event.digest)}: ${event.status}\n`);
    },
  };
}

const BAR = 40;
const REDRAW_MS = 100;

export function ttyProgress(write: (text: string) => void): ProgressSink & { finish(): void } {
  const lines = new Map<string, string>();
  let drawn = 0;
  let last = 0;
  let pending: NodeJS.Timeout | undefined;

  const draw = (): void => {
    pending = undefined;
    last = Date.now();
    let out = drawn ? `\x1b[${drawn}A` : '';
    for (const line of lines.values()) out += `\x1b[2K${line}\n`;
    drawn = lines.size;
    write(out);
  };
  const schedule = (now: boolean): void => {
    if (now || Date.now() - last >= REDRAW_MS) {
      if (pending) clearTimeout(pending);
      draw();
    } else pending ??= setTimeout(draw, REDRAW_MS);
  };
  return {
    message: (text) => {
      if (pending) {
        clearTimeout(pending);
        draw();
      }
      write(`${text}\n`);
      lines.clear();
      drawn = 0;
    },
    layer: (event: LayerEvent) => {
      lines.set(event.digest, render(event));
      schedule(event.done === true);
    },
    finish: () => {
      if (pending) {
        clearTimeout(pending);
        draw();
      }
    },
  };
}

function render(event: LayerEvent): string {
  const id = shortId(event.digest);
  if (event.current === undefined || !event.total) return `${id}: ${event.status}`;
  const filled = Math.min(BAR, Math.floor((event.current / event.total) * BAR));
  const bar = `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(BAR - filled)}]`;
  return `${id}: ${event.status.padEnd(12)}${bar} ${humanSize(event.current)}/${humanSize(event.total)}`;
}
