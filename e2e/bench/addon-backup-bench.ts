/**
 * The timing side of e2e/bench/addon-backup.sh: in one process, RUNS rounds of
 *   capture  captureBackup (pg_dump -Fc streamed into a content store)  vs  `pg_dump -Fc -f FILE`
 *   restore  restoreBackup (blob checked, streamed into pg_restore)     vs  `pg_restore ... FILE`
 * ours and plain alternating, each restore into a database created afresh (not timed). Both
 * sides spawn the same binaries from the same process, so what differs is only what ours adds
 * (the store's hashing, fsync and rename; the digest check and the pipe into pg_restore).
 *
 *   node --import tsx e2e/bench/addon-backup-bench.ts PORT DATABASE WORK_DIR [RUNS]
 *
 * Prints a markdown table of medians and the ratios ours / plain.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContentStore } from '@paas/content';
import { postgresInstallations } from '@paas/images';
import type { Digest } from '@paas/oci';
import { type PgTarget, captureBackup, restoreBackup } from '@paas/platform/pg-backup';

const run = promisify(execFile);

async function main(argv: string[]): Promise<void> {
  const [port, database, work, runsArg = '3'] = argv;
  if (!port || !database || !work) {
    console.error('usage: addon-backup-bench.ts PORT DATABASE WORK_DIR [RUNS]');
    process.exitCode = 2;
    return;
  }
  const runs = Number(runsArg);
  const home = (await postgresInstallations('pg_dump'))[0]?.home;
  if (!home) throw new Error('pg_dump not found in /usr/lib/postgresql');
  const tool = (name: string): string => join(home, 'bin', name);
  const env = { ...process.env, PGHOST: '127.0.0.1', PGPORT: port, PGUSER: 'postgres' };
  const psql = (sql: string): Promise<unknown> =>
    run(tool('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', sql], { env });
  const fresh = async (): Promise<void> => {
    await psql('DROP DATABASE IF EXISTS restored');
    await psql('CREATE DATABASE restored');
  };
  const target = (db: string): PgTarget => ({
    host: '127.0.0.1',
    port: Number(port),
    password: 'unused',
    user: 'postgres',
    database: db,
  });
  const store = await ContentStore.open(join(work, 'store'));
  const file = join(work, 'plain.dump');
  const times: Record<string, number[]> = { captureOurs: [], capturePlain: [], restoreOurs: [], restorePlain: [] };
  const timed = async (key: string, work: () => Promise<unknown>): Promise<void> => {
    const started = performance.now();
    await work();
    times[key]?.push((performance.now() - started) / 1000);
  };
  let digest: Digest | undefined;
  let size = 0;
  for (let i = 0; i < runs; i++) {
    await timed('captureOurs', async () => {
      const blob = await captureBackup(target(database), store);
      digest = blob.digest;
      size = blob.size;
    });
    await timed('capturePlain', () => run(tool('pg_dump'), ['-Fc', '-d', database, '-f', file], { env }));
    await fresh();
    await timed('restoreOurs', () => restoreBackup(digest as Digest, target('restored'), store));
    // ours must have restored it all, not only fast
    const count = async (db: string): Promise<string> =>
      (await run(tool('psql'), ['-X', '-At', '-d', db, '-c', 'SELECT count(*) FROM items'], { env })).stdout.trim();
    if ((await count('restored')) !== (await count(database))) throw new Error('restoreBackup restored other rows');
    await fresh();
    await timed('restorePlain', () =>
      run(
        tool('pg_restore'),
        ['--clean', '--if-exists', '--no-owner', '--single-transaction', '-d', 'restored', file],
        { env },
      ),
    );
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  };
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<string, number>;
  const row = (what: string, ours: number, plain: number): string =>
    `| ${what} | ${ours.toFixed(2)} | ${plain.toFixed(2)} | ${(ours / plain).toFixed(2)}x |`;
  console.log(`| ${runs} runs, median seconds | ours | plain | ours / plain |`);
  console.log('| --- | ---: | ---: | ---: |');
  console.log(row('capture (pg_dump -Fc)', m['captureOurs'] ?? 0, m['capturePlain'] ?? 0));
  console.log(row('restore (pg_restore)', m['restoreOurs'] ?? 0, m['restorePlain'] ?? 0));
  console.log(`\ndump: ${(size / 1e6).toFixed(1)} MB ours, ${((await stat(file)).size / 1e6).toFixed(1)} MB plain`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
