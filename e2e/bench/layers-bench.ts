/**
 * Our side of e2e/bench/layers.sh, one operation per process so that hyperfine times it
 * like the tar and umoci commands beside it:
 *
 *   node --import tsx e2e/bench/layers-bench.ts pack DIR OUT [gzip|zstd|none]
 *   node --import tsx e2e/bench/layers-bench.ts unpack LAYER DIR
 *
 * Prints one JSON line with the uncompressed tar size and the in-process seconds.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { type Compression, extractLayer, tarDirectory } from '@paas/layers';

async function main(argv: string[]): Promise<void> {
  const [verb, from, to, compression = 'gzip'] = argv;
  const started = performance.now();
  if (verb === 'pack' && from && to) {
    const info = await tarDirectory(from, createWriteStream(to), { compression: compression as Compression });
    report(info.tarSize, started, { size: info.size, diffId: info.diffId });
  } else if (verb === 'unpack' && from && to) {
    const result = await extractLayer(createReadStream(from, { highWaterMark: 256 * 1024 }), to);
    report(result.bytes, started, { entries: result.entries, diffId: result.diffId });
  } else {
    console.error('usage: layers-bench.ts pack DIR OUT [gzip|zstd|none] | unpack LAYER DIR');
    process.exitCode = 2;
  }
}

function report(tarBytes: number, started: number, extra: Record<string, unknown>): void {
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ tarBytes, seconds, mbPerSecond: tarBytes / 1e6 / seconds, ...extra }));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
