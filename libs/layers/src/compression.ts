/**
 * Layer compression: gzip through node's zlib, zstd through the zstd binary (node 20's
 * zlib has no zstd), or none. Extraction detects the format from the magic bytes, as
 * containerd does, so a mislabelled media type still unpacks.
 */
import { spawn } from 'node:child_process';
import { Duplex, PassThrough, Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { LayerError } from './errors';

export type Compression = 'gzip' | 'zstd' | 'none';

export const LAYER_MEDIA_TYPES: Record<Compression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
};

/**
 * Level 1 by default. Measured on 126 MB of /usr content on our 2-core machines: level 6
 * (gzip's and Go's default, which Docker uses) takes 2.6x as long as level 1 for output
 * only 7% smaller (55.8 vs 60.1 MB); level 3 takes 1.7x for 3%. Layers are packed on every
 * build step and commit, on the critical path, while a registry push reuses the blob as is.
 */
export const DEFAULT_GZIP_LEVEL = 1;
const ZSTD_LEVEL = 3;
const CHUNK = 128 * 1024;

/** Which compression a stream starts with. */
function detectCompression(head: Buffer): Compression {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** A transform compressing the tar; errors come out as LayerError. */
export function compressor(kind: Compression, gzipLevel = DEFAULT_GZIP_LEVEL): Duplex {
  switch (kind) {
    case 'gzip':
      return createGzip({ level: gzipLevel, chunkSize: CHUNK });
    case 'zstd':
      return zstdProcess(['-q', '-c', `-${ZSTD_LEVEL}`, '-T0', '--no-progress']);
    case 'none':
      return new PassThrough();
  }
}

/**
 * The uncompressed stream of a layer, whatever its compression: the first bytes are read to
 * detect the format, then the whole input is fed to the matching decompressor. Errors of
 * the decompressor come out as LayerError (TRUNCATED or MALFORMED); errors of the input
 * itself come out unchanged.
 */
export async function decompressed(input: Readable): Promise<{ kind: Compression; stream: AsyncIterable<Buffer> }> {
  const source = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < 4) {
    const next = await source.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    headLength += next.value.length;
  }
  const kind = detectCompression(Buffer.concat(head));
  async function* all(): AsyncGenerator<Buffer> {
    try {
      yield* head;
      while (!done) {
        const next = await source.next();
        if (next.done) done = true;
        else yield next.value;
      }
    } finally {
      // Stopped early (an error downstream): let the input go too.
      if (!done) await source.return?.();
    }
  }
  if (kind === 'none') return { kind, stream: all() };
  let inputError: unknown;
  const raw = Readable.from(all(), { objectMode: false, highWaterMark: CHUNK });
  const decoder = kind === 'gzip' ? createGunzip({ chunkSize: CHUNK }) : zstdProcess(['-q', '-d', '-c']);
  raw.on('error', (err) => {
    inputError = err;
    decoder.destroy(err);
  });
  decoder.on('close', () => raw.destroy());
  raw.pipe(decoder);
  async function* checked(): AsyncGenerator<Buffer> {
    try {
      yield* decoder;
    } catch (err) {
      if (err === inputError || err instanceof LayerError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      const code = /unexpected end/i.test(message) ? 'TRUNCATED' : 'MALFORMED';
      throw new LayerError(code, `${kind} stream is corrupt: ${message}`, { cause: err });
    } finally {
      decoder.destroy();
    }
  }
  return { kind, stream: checked() };
}

/**
 * The zstd binary as a duplex stream (stdin in, stdout out). The readable side ends only
 * once zstd has exited 0, so a corrupt input is an error rather than a short stream.
 */
function zstdProcess(args: string[]): Duplex {
  const child = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, done) {
      if (child.stdin.write(chunk)) done();
      else child.stdin.once('drain', () => done());
    },
    final(done) {
      child.stdin.end();
      done();
    },
    read() {
      child.stdout.resume();
    },
    destroy(err, done) {
      if (child.exitCode === null) child.kill();
      done(err);
    },
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) child.stdout.pause();
  });
  child.on('close', (code, signal) => {
    if (code === 0) duplex.push(null);
    else if (!duplex.destroyed) {
      const why = stderr.trim() || (signal ? `killed by ${signal}` : `exit status ${code}`);
      duplex.destroy(new LayerError('MALFORMED', `zstd failed: ${why}`));
    }
  });
  child.on('error', (err: NodeJS.ErrnoException) => {
    duplex.destroy(
      err.code === 'ENOENT'
        ? new LayerError('UNSUPPORTED', 'zstd layers need the zstd binary (apt-get install zstd)', { cause: err })
        : err,
    );
  });
  child.stdin.on('error', () => undefined); // EPIPE when zstd fails; reported on 'close'
  return duplex;
}
