/**
 * One error type for everything a layer can do wrong, so that callers (snapshots, images,
 * the registry client) can tell a hostile or broken layer from a failing disk without
 * parsing messages, and so that every message says where: the entry and its byte offset
 * in the uncompressed tar.
 */
import { type ErrorCode, PaasError } from '@paas/errors';

export type LayerErrorCode =
  /** The stream ended inside a header or a body. */
  | 'TRUNCATED'
  /** Not a tar (bad checksum, garbage in a numeric field, corrupt compression). */
  | 'MALFORMED'
  /** An entry that would reach outside the target, or replace the target itself. */
  | 'UNSAFE'
  /** A valid tar feature layers do not support (sparse files, unknown entry types). */
  | 'UNSUPPORTED'
  /** The file system refused (ENOSPC, EACCES, ENOTDIR under a parent that is a file, ...). */
  | 'IO';

/** A broken or hostile layer is bad input; a refused feature unsupported; a failing disk internal. */
const KINDS: Readonly<Record<LayerErrorCode, ErrorCode>> = {
  TRUNCATED: 'invalid_params',
  MALFORMED: 'invalid_params',
  UNSAFE: 'invalid_params',
  UNSUPPORTED: 'unsupported',
  IO: 'internal',
};

export interface LayerErrorWhere {
  /** The entry's name as written in the archive. */
  readonly entry?: string;
  /** Byte offset of the entry's first header block in the uncompressed tar. */
  readonly offset?: number;
  readonly cause?: unknown;
}

export class LayerError extends PaasError {
  readonly entry: string | undefined;
  readonly offset: number | undefined;

  constructor(
    /** What is wrong with the layer (the error's `code` is its kind: see KINDS). */
    readonly problem: LayerErrorCode,
    readonly reason: string,
    where: LayerErrorWhere = {},
  ) {
    super(KINDS[problem], formatMessage(problem, reason, where), { cause: where.cause });
    this.entry = where.entry;
    this.offset = where.offset;
  }

  /** The same error placed at an entry, unless it already names one. */
  at(entry: string, offset: number): LayerError {
    if (this.entry !== undefined) return this;
    return new LayerError(this.problem, this.reason, { entry, offset, cause: this.cause });
  }
}

function formatMessage(code: LayerErrorCode, reason: string, where: LayerErrorWhere): string {
  const at = where.entry !== undefined ? ` at entry ${JSON.stringify(where.entry)}` : '';
  const offset = where.offset !== undefined ? ` (offset ${where.offset})` : '';
  if (code === 'TRUNCATED') return `layer is truncated${at}${offset}: ${reason}`;
  return `${reason}${at}${offset}`;
}

/** Wraps anything thrown while handling an entry into a LayerError that names the entry. */
export function entryError(err: unknown, entry: string, offset: number): LayerError {
  if (err instanceof LayerError) return err.at(entry, offset);
  const message = err instanceof Error ? err.message : String(err);
  return new LayerError('IO', message, { entry, offset, cause: err });
}

/** The errno code of a Node or fsx error, if it has one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
