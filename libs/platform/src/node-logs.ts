/**
 * Instance output, node -> api: nodes hold no Redis credentials (docs/security.md), so an
 * agent sends its instances' lines to `POST /api/nodes/:name/logs` in batches and the api
 * writes them to the apps' log streams (logs.ts). A line names only its instance: the api
 * finds the app and the source (`web.1`) itself, and refuses a batch naming an instance
 * placed on another node, so a node cannot write into the log of an app it does not run.
 *
 * The limits bound one batch: the agent sends at most NODE_LOG_MAX_LINES lines of together at
 * most NODE_LOG_MAX_BYTES (UTF-8), each cut to NODE_LOG_MAX_LINE characters; the api answers
 * 413 above the first two and 400 above the third.
 */

export const NODE_LOG_MAX_LINES = 1000;
export const NODE_LOG_MAX_BYTES = 256 * 1024;
export const NODE_LOG_MAX_LINE = 8192;

/** One line of an instance's output. */
export interface NodeLogLine {
  /** The instance's id (its row's, as in the desired set). */
  readonly instance: string;
  readonly line: string;
}

/** The body of `POST /api/nodes/:name/logs`: lines in the order they were written, per instance. */
export interface NodeLogBatch {
  readonly lines: readonly NodeLogLine[];
}

/** The answer: lines written, and lines of instances the api no longer knows (left out). */
export interface NodeLogAnswer {
  readonly written: number;
  readonly unknown: number;
}

/** `line` cut to NODE_LOG_MAX_LINE characters, marked as cut. */
export function fitLogLine(line: string): string {
  return line.length <= NODE_LOG_MAX_LINE ? line : `${line.slice(0, NODE_LOG_MAX_LINE - 1)}…`;
}
