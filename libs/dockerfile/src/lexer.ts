/**
 * Line splitting for Dockerfiles: parser directives at the top, comments, line continuations
 * with the escape character, and the bodies of here-documents. It yields logical lines (one
 * instruction each) with the physical line range they came from and a map back to columns.
 *
 * The rules follow BuildKit's parser.Parse, including its quirks, because a Dockerfile must
 * mean the same thing here as under `docker build`:
 * - the first physical line of an instruction loses its leading white space, continuation lines
 *   keep theirs ("RUN a \\\n    b" is "a     b");
 * - comment lines and blank lines inside a continuation are dropped (blank ones with a warning);
 * - an escape character is a continuation only when not itself escaped (`foo\\\\` is not one).
 */
import { DockerfileError } from './errors';
import { isSpaceCode } from './shell-lex';

/** A parser directive (`# escape=`, `# syntax=`, `# check=`) found at the top of the file. */
export interface Directive {
  readonly name: 'escape' | 'syntax' | 'check';
  readonly value: string;
  readonly line: number;
}

/** Maps an offset of a logical line back to its physical line and 1-based column. */
export interface Span {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

export interface LogicalLine {
  readonly text: string;
  readonly startLine: number;
  readonly endLine: number;
  readonly spans: readonly Span[];
  /** Comment lines right above the instruction, without their `#`. */
  readonly comments: readonly string[];
}

export type EscapeToken = '\\' | '`';

const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const VALID_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
const CONTINUATION: Record<EscapeToken, RegExp> = {
  '\\': /([^\\])\\[ \t]*$|^\\[ \t]*$/,
  '`': /([^`])`[ \t]*$|^`[ \t]*$/,
};

function trimNewline(line: string): string {
  let end = line.length;
  while (end > 0) {
    const c = line.charCodeAt(end - 1);
    if (c !== 0x0a && c !== 0x0d) break;
    end--;
  }
  return end === line.length ? line : line.slice(0, end);
}

function leadingSpace(line: string): number {
  let i = 0;
  while (i < line.length && isSpaceCode(line.charCodeAt(i))) i++;
  return i;
}

function isComment(raw: string): boolean {
  const line = trimNewline(raw);
  return line.charCodeAt(leadingSpace(line)) === 0x23; /* # */
}

export class LineReader {
  escapeToken: EscapeToken = '\\';
  readonly directives: Directive[] = [];
  readonly warnings: string[] = [];
  /** The number of physical lines consumed so far (= the 1-based number of the last one). */
  line = 0;
  private readonly lines: string[];
  private directivesDone = false;
  private comments: string[] = [];

  constructor(
    text: string,
    private readonly file: string,
  ) {
    this.lines = splitLines(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  }

  /** The next instruction's text, or undefined at the end of the file. */
  next(): LogicalLine | undefined {
    while (this.line < this.lines.length) {
      const raw = this.lines[this.line] ?? '';
      if (isComment(raw)) {
        const body = trimNewline(raw);
        this.comments.push(body.slice(leadingSpace(body) + 1).trim());
      } else if (trimNewline(raw).trim() === '') this.comments = [];
      const indent = leadingSpace(trimNewline(raw));
      const first = this.processLine(raw, true);
      this.line++;
      const startLine = this.line;
      let [text, ended] = this.trimContinuation(first);
      if (ended && text === '') continue;
      const spans: Span[] = [{ offset: 0, line: startLine, column: indent + 1 }];
      let emptyContinuation = false;
      while (!ended && this.line < this.lines.length) {
        const next = this.lines[this.line] ?? '';
        const processed = this.processLine(next, false);
        this.line++;
        if (isComment(next)) continue;
        if (processed.length === leadingSpace(processed)) {
          emptyContinuation = true;
          continue;
        }
        spans.push({ offset: text.length, line: this.line, column: 1 });
        let piece: string;
        [piece, ended] = this.trimContinuation(processed);
        text += piece;
      }
      if (emptyContinuation) this.warnings.push(`${this.file}:${startLine}: empty continuation line found in: ${text}`);
      const comments = this.comments;
      this.comments = [];
      return { text, startLine, endLine: this.line, spans, comments };
    }
    return undefined;
  }

  /**
   * Reads a here-document body up to its terminator line (after the instruction's last line).
   * `<<-` strips leading tabs from the terminator here; from the body, later (as BuildKit does).
   */
  readHeredoc(name: string, chomp: boolean): string | undefined {
    let content = '';
    while (this.line < this.lines.length) {
      const raw = this.lines[this.line] ?? '';
      this.line++;
      let candidate = trimNewline(raw);
      if (chomp) candidate = candidate.replace(/^\t+/, '');
      if (candidate === name) return content;
      content += raw;
    }
    return undefined;
  }

  private processLine(raw: string, stripLeft: boolean): string {
    let token = trimNewline(raw);
    if (stripLeft) token = token.slice(leadingSpace(token));
    this.possibleDirective(token);
    return token.charCodeAt(0) === 0x23 ? '' : token;
  }

  private possibleDirective(token: string): void {
    if (this.directivesDone) return;
    const match = token.startsWith('#') ? DIRECTIVE.exec(token.slice(1 + leadingSpace(token.slice(1)))) : null;
    const name = match?.[1]?.toLowerCase();
    if (!match || !name || !VALID_DIRECTIVES.has(name)) {
      this.directivesDone = true;
      return;
    }
    const line = this.line + 1;
    if (this.directives.some((d) => d.name === name)) {
      throw new DockerfileError(`only one ${name} parser directive can be used`, { file: this.file, line, column: 1 });
    }
    const value = match[2] ?? '';
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw new DockerfileError(`invalid escape token '${value}' does not match \` or \\`, {
          file: this.file,
          line,
          column: 1,
        });
      }
      this.escapeToken = value;
    }
    this.directives.push({ name: name as Directive['name'], value, line });
  }

  private trimContinuation(line: string): [string, boolean] {
    const re = CONTINUATION[this.escapeToken];
    if (!line.includes(this.escapeToken)) return [line, true];
    const m = re.exec(line);
    if (!m) return [line, true];
    return [line.slice(0, m.index) + (m[1] ?? ''), false];
  }
}

/** Splits after each `\n`, keeping line endings (heredoc bodies need them). */
function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
    lines.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}
