/**
 * The build itself, without the CLI's process start-up: the same Builder `paas build` uses,
 * called in one process over a context prepared by build.sh. Prints one JSON line with the
 * median milliseconds of a fully cached rebuild and of a rebuild after changing the last RUN.
 *
 *   PAAS_ROOT=... PAAS_RUN=... tsx e2e/bench/build-bench.ts CONTEXT RUNS
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Builder } from '@paas/builder';
import { ImageService, imageRoots } from '@paas/images';

const [contextDir = '.', runsArg = '10'] = process.argv.slice(2);
const runs = Number(runsArg);
const root = process.env['PAAS_ROOT'] ?? '/var/lib/paas';
const run = process.env['PAAS_RUN'] ?? '/run/paas';
const runtime =
  process.env['PAAS_RUNTIME'] || join(__dirname, '..', '..', 'native', 'runtime', 'build', 'paas-runtime');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main(): Promise<void> {
  const dockerfile = join(contextDir, 'Dockerfile');
  const original = readFileSync(dockerfile, 'utf8');
  /** Opens everything each time, as a CLI process does. */
  const build = async (): Promise<void> => {
    const images = await ImageService.open(imageRoots(root));
    const builder = await Builder.open({ root, images, runtime: { runtime, runtimeRoot: join(run, 'runtime') } });
    await builder.build({ contextDir, tags: ['bench-inproc'] });
  };
  await build();
  const cached: number[] = [];
  for (let i = 0; i < runs; i++) cached.push(await timed(build));
  const last: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      writeFileSync(
        dockerfile,
        original.replace(/^RUN echo .* > last\.txt$/m, `RUN echo inproc-${Date.now()}-${i} > last.txt`),
      );
      last.push(await timed(build));
    }
  } finally {
    writeFileSync(dockerfile, original);
  }
  process.stdout.write(`${JSON.stringify({ cachedMs: median(cached), lastStepMs: median(last) })}\n`);
}

void main();
