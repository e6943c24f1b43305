/**
 * Dockerfile text -> a plain node tree, one node per instruction, with line ranges. This is
 * BuildKit's parser.Node in spirit (lower-cased instruction, flags, argument words, original
 * text, heredocs, nested ONBUILD) but as plain data: no `Next` chains, arrays instead.
 *
 * Nothing here knows what an instruction means beyond how to split its arguments; unknown
 * instructions parse fine and are rejected by the typed layer (instructions.ts), as in BuildKit.
 */
import { DockerfileError } from './errors';
import { type Directive, type EscapeToken, LineReader, type Span } from './lexer';
import { extractFlags, parseArgs } from './line-parsers';
import { isSpaceCode, substituteWords } from './shell-lex';

export type { Directive, EscapeToken, Span } from './lexer';

/** A here-document attached to RUN, COPY or ADD (or to ONBUILD of those). */
export interface Heredoc {
  /** The delimiter word, quotes removed: `EOF` for `<<"EOF"`. */
  readonly name: string;
  /** `3<<EOF` feeds file descriptor 3; 0 (stdin) when not given. */
  readonly fileDescriptor: number;
  /** False when any part of the delimiter was quoted: the body is then taken literally. */
  readonly expand: boolean;
  /** `<<-`: leading tabs are stripped from the body's lines. */
  readonly chomp: boolean;
  /** The body exactly as written, line endings included, tabs not yet stripped. */
  readonly content: string;
}

export interface Node {
  /** Lower-cased instruction: `run`, `copy`, ... (an unknown word is kept, lower-cased). */
  readonly instruction: string;
  /** The instruction word as written (`Run`, `CPOY`), for messages. */
  readonly keyword: string;
  /** Leading `--name[=value]` words, quotes resolved, as BuildKit's Node.Flags. */
  readonly flags: readonly string[];
  /** Argument words; ENV and LABEL give (key, value, separator) triples; see dump.ts. */
  readonly args: readonly string[];
  /** True when the arguments were given as a JSON array (exec form). */
  readonly json: boolean;
  /** ONBUILD's trigger instruction. */
  readonly child?: Node;
  readonly heredocs: readonly Heredoc[];
  /** The logical line: continuations joined, comments dropped. */
  readonly original: string;
  readonly startLine: number;
  /** The last line, heredoc bodies included. */
  readonly endLine: number;
  /** 1-based column of the instruction word. */
  readonly column: number;
  /** Where each piece of `original` came from, to point errors at a column. */
  readonly spans: readonly Span[];
  /** Comment lines right above the instruction. */
  readonly comments: readonly string[];
}

export interface DockerfileAST {
  readonly file: string;
  readonly escapeToken: EscapeToken;
  readonly directives: readonly Directive[];
  readonly warnings: readonly string[];
  readonly startLine: number;
  readonly endLine: number;
  readonly children: readonly Node[];
}

export interface ParseOptions {
  /** The name used in messages, `Dockerfile` by default. */
  file?: string;
}

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);
const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;
const SPLIT_COMMAND = /[\t\v\f\r ]+/;

/** Maps an offset in a node's `original` back to a line and 1-based column. */
export function locate(spans: readonly Span[], offset: number): { line: number; column: number } {
  let span = spans[0] ?? { offset: 0, line: 1, column: 1 };
  for (const s of spans) {
    if (s.offset > offset) break;
    span = s;
  }
  return { line: span.line, column: span.column + Math.max(0, offset - span.offset) };
}

function shiftSpans(spans: readonly Span[], by: number): Span[] {
  const out: Span[] = [];
  for (const s of spans) {
    if (s.offset <= by) out[0] = { offset: 0, line: s.line, column: s.column + (by - s.offset) };
    else out.push({ offset: s.offset - by, line: s.line, column: s.column });
  }
  return out;
}

function trimSpace(text: string): { text: string; start: number } {
  let start = 0;
  let end = text.length;
  while (start < end && isSpaceCode(text.charCodeAt(start))) start++;
  while (end > start && isSpaceCode(text.charCodeAt(end - 1))) end--;
  return { text: text.slice(start, end), start };
}

interface LineContext {
  file: string;
  escape: EscapeToken;
  startLine: number;
  endLine: number;
  spans: readonly Span[];
  comments: readonly string[];
}

function nodeFromLine(line: string, ctx: LineContext): Node {
  const trimmed = trimSpace(line);
  const split = SPLIT_COMMAND.exec(trimmed.text);
  const keyword = split ? trimmed.text.slice(0, split.index) : trimmed.text;
  const afterKeyword = split ? split.index + split[0].length : trimmed.text.length;
  const { rest: rawRest, restOffset, flags } = extractFlags(trimmed.text.slice(afterKeyword));
  const rest = trimSpace(rawRest);
  const argsOffset = trimmed.start + afterKeyword + restOffset + rest.start;
  const instruction = keyword.toLowerCase();
  const where = locate(ctx.spans, trimmed.start);
  let parsed;
  try {
    parsed = parseArgs(instruction, rest.text, ctx.escape);
  } catch (err) {
    if (!(err instanceof DockerfileError)) throw err;
    const at = locate(ctx.spans, argsOffset);
    throw err.at(ctx.file, { line: ctx.startLine, column: at.line === ctx.startLine ? at.column : where.column });
  }
  let child: Node | undefined;
  if (parsed.subcommand !== undefined) {
    child = nodeFromLine(parsed.subcommand, { ...ctx, spans: shiftSpans(ctx.spans, argsOffset), comments: [] });
  }
  return {
    instruction,
    keyword,
    flags,
    args: parsed.args,
    json: parsed.json,
    ...(child ? { child } : {}),
    heredocs: [],
    original: line,
    startLine: ctx.startLine,
    endLine: ctx.endLine,
    column: where.column,
    spans: ctx.spans,
    comments: ctx.comments,
  };
}

function canContainHeredoc(node: Node): boolean {
  const target = node.instruction === 'onbuild' && node.child ? node.child : node;
  return HEREDOC_INSTRUCTIONS.has(target.instruction) && !target.json;
}

/**
 * A `<<[-]WORD` shell word as a heredoc (without its body), or undefined when the word is not
 * one. The delimiter is lexed twice, with and without quotes: if they differ, part of it was
 * quoted and the body is not expanded — the shell's rule.
 */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = HEREDOC_WORD.exec(word);
  if (!m || !m[3]) return undefined;
  const opts = { skipUnsetEnv: true } as const;
  let words: string[];
  let raw: string[];
  try {
    words = substituteWords(m[3], {}, opts);
    raw = substituteWords(m[3], {}, { ...opts, rawQuotes: true });
  } catch {
    return undefined;
  }
  if (words.length !== 1) return undefined;
  const name = words[0] ?? '';
  const quotes = (s: string): number => s.split(/['"]/).length - 1;
  return {
    name,
    fileDescriptor: m[1] ? Number.parseInt(m[1], 10) : 0,
    expand: quotes(name) === quotes(raw[0] ?? ''),
    chomp: m[2] === '-',
  };
}

function heredocsFromLine(line: string): Omit<Heredoc, 'content'>[] {
  if (!line.includes('<<')) return [];
  let words: string[];
  try {
    words = substituteWords(line, {}, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    return [];
  }
  const docs: Omit<Heredoc, 'content'>[] = [];
  for (const word of words) {
    const doc = parseHeredocWord(word);
    if (doc) docs.push(doc);
  }
  return docs;
}

/**
 * Parses a Dockerfile into a node tree. Throws DockerfileError with file:line:column for what
 * BuildKit's parser rejects: bad or repeated directives, non-string JSON arrays, ENV/LABEL
 * without a value, unterminated heredocs, an empty file or one with no instructions.
 */
export function parse(text: string, options: ParseOptions = {}): DockerfileAST {
  const file = options.file ?? 'Dockerfile';
  if (typeof text !== 'string' || text.trim() === '') {
    throw new DockerfileError(`the Dockerfile (${file}) cannot be empty`);
  }
  const reader = new LineReader(text, file);
  const children: Node[] = [];
  for (let logical = reader.next(); logical; logical = reader.next()) {
    const ctx: LineContext = {
      file,
      escape: reader.escapeToken,
      startLine: logical.startLine,
      endLine: logical.endLine,
      spans: logical.spans,
      comments: logical.comments,
    };
    let node = nodeFromLine(logical.text, ctx);
    if (canContainHeredoc(node)) {
      const heredocs: Heredoc[] = [];
      for (const doc of heredocsFromLine(logical.text)) {
        const content = reader.readHeredoc(doc.name, doc.chomp);
        if (content === undefined) {
          const at = locate(logical.spans, Math.max(0, logical.text.indexOf('<<')));
          throw new DockerfileError(`unterminated heredoc ${doc.name}`, { file, ...at, endLine: reader.line });
        }
        heredocs.push({ ...doc, content });
      }
      node = { ...node, heredocs, endLine: reader.line };
    }
    children.push(node);
  }
  const first = children[0];
  const last = children[children.length - 1];
  if (!first || !last) {
    throw new DockerfileError('file with no instructions', { file, line: Math.max(1, reader.line), column: 1 });
  }
  return {
    file,
    escapeToken: reader.escapeToken,
    directives: reader.directives,
    warnings: reader.warnings,
    startLine: first.startLine,
    endLine: last.endLine,
    children,
  };
}
