/**
 * Reading the shim's json-file log: `{"t":time,"s":"stdout"|"stderr","l":line,"p"?:true}`
 * per line, rotated as container.log.N ... container.log.1, container.log. Partial records
 * (`p`) are joined back into whole lines; --tail, --since and --follow as `docker logs`.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DirectoryWaiter } from './watch';

export interface LogLine {
  readonly time: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  /** False for the last line of a stream that ended without a newline. */
  readonly newline: boolean;
}

interface RawRecord {
  t: string;
  s: 'stdout' | 'stderr';
  l: string;
  p?: boolean;
}

export interface LogOptions {
  readonly tail?: number;
  /** RFC 3339 time or a Unix timestamp in seconds. */
  readonly since?: string;
  readonly follow?: boolean;
  /** Ends a follow: settles when the writer has stopped for good (then the rest is read). */
  readonly until?: Promise<unknown>;
  readonly pollMs?: number;
}

/** Joins partial records; returns complete lines and keeps unfinished ones per stream. */
class Assembler {
  private readonly pending = new Map<string, { time: string; text: string }>();

  push(record: RawRecord): LogLine | undefined {
    const open = this.pending.get(record.s);
    const text = (open?.text ?? '') + record.l;
    const time = open?.time ?? record.t;
    if (record.p) {
      this.pending.set(record.s, { time, text });
      return undefined;
    }
    this.pending.delete(record.s);
    return { time, stream: record.s, text, newline: true };
  }

  flush(): LogLine[] {
    const lines = [...this.pending].map(([s, p]) => ({
      time: p.time,
      stream: s as 'stdout' | 'stderr',
      text: p.text,
      newline: false,
    }));
    this.pending.clear();
    return lines;
  }
}

function parse(line: string): RawRecord | undefined {
  if (!line) return undefined;
  try {
    const r = JSON.parse(line) as RawRecord;
    return typeof r.l === 'string' && (r.s === 'stdout' || r.s === 'stderr') ? r : undefined;
  } catch {
    return undefined; // a torn last line of a crashed writer
  }
}

function sinceMs(since: string | undefined): number {
  if (!since) return -Infinity;
  if (/^\d+(\.\d+)?$/.test(since)) return Number(since) * 1000;
  const t = Date.parse(since);
  if (Number.isNaN(t)) throw new Error(`invalid value for "since": ${since}`);
  return t;
}

async function rotated(path: string): Promise<string[]> {
  const files: string[] = [];
  for (let n = 1; ; n++) {
    if (!(await stat(`${path}.${n}`).catch(() => undefined))) break;
    files.unshift(`${path}.${n}`);
  }
  return [...files, path];
}

/** Yields log lines; with `follow`, keeps reading as the shim appends until `until` settles. */
export async function* readLogs(path: string, options: LogOptions = {}): AsyncGenerator<LogLine> {
  const from = sinceMs(options.since);
  const assembler = new Assembler();
  const lines: LogLine[] = [];
  // Bytes of the current file consumed so far: following starts exactly there, so a record
  // appended between this read and the follow is neither lost nor read twice.
  let consumed = 0;
  for (const file of await rotated(path)) {
    const data = await readFile(file).catch(() => Buffer.alloc(0));
    const end = file === path ? data.lastIndexOf(0x0a) + 1 : data.length;
    if (file === path) consumed = end;
    for (const raw of data.subarray(0, end).toString('utf8').split('\n')) {
      const record = parse(raw);
      const line = record && assembler.push(record);
      if (line && Date.parse(line.time) >= from) lines.push(line);
    }
  }
  if (options.tail === undefined || options.tail < 0) yield* lines;
  else if (options.tail > 0) yield* lines.slice(-options.tail);
  if (!options.follow) {
    yield* assembler.flush();
    return;
  }

  const changes = new DirectoryWaiter(dirname(path), options.pollMs ?? 250);
  try {
    yield* follow(path, consumed, assembler, from, changes, options);
  } finally {
    changes.close();
  }
}

async function* follow(
  path: string,
  start: number,
  assembler: Assembler,
  from: number,
  changes: DirectoryWaiter,
  options: LogOptions,
): AsyncGenerator<LogLine> {
  let offset = start;
  let carry = '';
  let final = false;
  let stopped = false;
  const until = (options.until ?? new Promise<never>(() => undefined)).then(
    () => (stopped = true),
    () => (stopped = true),
  );
  for (;;) {
    const st = await stat(path).catch(() => undefined);
    if (st && st.size < offset) offset = 0; // rotated: the new file starts over
    if (st && st.size > offset) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(st.size - offset);
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        offset += bytesRead;
        const chunk = carry + buf.subarray(0, bytesRead).toString('utf8');
        const parts = chunk.split('\n');
        carry = parts.pop() ?? '';
        for (const raw of parts) {
          const record = parse(raw);
          const line = record && assembler.push(record);
          if (line && Date.parse(line.time) >= from) yield line;
        }
      } finally {
        await fh.close();
      }
      continue;
    }
    if (final) {
      yield* assembler.flush();
      return;
    }
    if (stopped) {
      final = true; // the writer is gone: one more pass picks up its last bytes
      continue;
    }
    await Promise.race([changes.next(), until]);
  }
}
