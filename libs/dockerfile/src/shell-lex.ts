/**
 * Variable substitution and word splitting as BuildKit's shell lexer does them
 * (frontend/dockerfile/shell/lex.go): `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`,
 * `${VAR+x}`, `${VAR:?x}`, `${VAR?x}`, `${VAR#p}`, `${VAR%p}`, `${VAR/p/r}`, quotes and escapes.
 *
 * It is not a shell: no command substitution, no arithmetic, no globbing. It runs where Docker
 * runs it (ENV, ARG, COPY, FROM, ...) and never on RUN/CMD/ENTRYPOINT, which the shell expands.
 */
import { DockerfileError } from './errors';

/** Variables in scope: a map or a plain object. A key that is present but empty is "set". */
export type Env = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

export interface LexOptions {
  /** `\` (default) or a backtick, from the `# escape=` directive. */
  escapeToken?: string;
  /** Keep quote characters in the output (used to tell quoted heredoc delimiters apart). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters (heredoc bodies keep their quotes). */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to "". */
  skipUnsetEnv?: boolean;
}

const EOF = -1;

/** Go's unicode.IsSpace: ASCII white space, NEL, NBSP and the Z categories. */
export function isSpaceCode(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;
function isLetter(c: number): boolean {
  if (c < 0x80) return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  return LETTER.test(String.fromCharCode(c));
}
function isDigit(c: number): boolean {
  if (c < 0x80) return c >= 0x30 && c <= 0x39;
  return DIGIT.test(String.fromCharCode(c));
}

function lookup(env: Env, name: string): string | undefined {
  if (env instanceof Map) return env.get(name);
  const record = env as Readonly<Record<string, string>>;
  return Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined;
}

/** Splits expanded text into words the way the lexer does: unquoted white space separates. */
class Words {
  word = '';
  words: string[] = [];
  inWord = false;
  addChar(ch: string): void {
    if (isSpaceCode(ch.charCodeAt(0))) {
      if (this.inWord && this.word.length > 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else this.addRaw(ch);
  }
  addRaw(text: string): void {
    this.word += text;
    this.inWord = true;
  }
  addString(text: string): void {
    for (const ch of text) this.addChar(ch);
  }
  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private pos = 0;
  private readonly escape: number;
  private rawEscapes: boolean;

  constructor(
    private readonly src: string,
    private readonly env: Env,
    private readonly opts: LexOptions,
  ) {
    this.escape = (opts.escapeToken ?? '\\').charCodeAt(0);
    this.rawEscapes = opts.rawEscapes ?? false;
  }

  private peek(): number {
    return this.pos < this.src.length ? this.src.charCodeAt(this.pos) : EOF;
  }
  private next(): number {
    return this.pos < this.src.length ? this.src.charCodeAt(this.pos++) : EOF;
  }
  private fail(message: string): never {
    throw new DockerfileError(message, { offset: this.pos });
  }

  process(): { result: string; words: string[] } {
    return this.processStopOn(EOF, this.rawEscapes);
  }

  private processStopOn(stop: number, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      const quotes = !this.opts.skipProcessQuotes;
      for (let ch = this.peek(); ch !== EOF; ch = this.peek()) {
        if (stop !== EOF && ch === stop) {
          this.next();
          return { result, words: words.finish() };
        }
        if (ch === 0x24 /* $ */) {
          const value = this.processDollar();
          result += value;
          words.addString(value);
        } else if (quotes && ch === 0x27 /* ' */) {
          const value = this.processSingleQuote();
          result += value;
          words.addRaw(value);
        } else if (quotes && ch === 0x22 /* " */) {
          const value = this.processDoubleQuote();
          result += value;
          words.addRaw(value);
        } else {
          this.next();
          if (ch === this.escape) {
            if (this.rawEscapes) {
              words.addRaw(String.fromCharCode(ch));
              result += String.fromCharCode(ch);
            }
            const escaped = this.next();
            if (escaped === EOF) break;
            const text = String.fromCharCode(escaped);
            words.addRaw(text);
            result += text;
          } else {
            const text = String.fromCharCode(ch);
            words.addChar(text);
            result += text;
          }
        }
      }
      if (stop !== EOF)
        this.fail(`unexpected end of statement while looking for matching ${String.fromCharCode(stop)}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    const start = this.pos;
    this.next();
    const close = this.src.indexOf("'", this.pos);
    if (close < 0) {
      this.pos = this.src.length;
      this.fail('unexpected end of statement while looking for matching single-quote');
    }
    const inner = this.src.slice(this.pos, close);
    this.pos = close + 1;
    return this.opts.rawQuotes ? this.src.slice(start, close + 1) : inner;
  }

  private processDoubleQuote(): string {
    let result = this.opts.rawQuotes ? '"' : '';
    this.next();
    for (;;) {
      const ch = this.peek();
      if (ch === EOF) this.fail('unexpected end of statement while looking for matching double-quote');
      if (ch === 0x22) {
        this.next();
        return this.opts.rawQuotes ? result + '"' : result;
      }
      if (ch === 0x24) {
        result += this.processDollar();
        continue;
      }
      let c = this.next();
      if (c === this.escape) {
        if (this.rawEscapes) result += String.fromCharCode(c);
        const after = this.peek();
        if (after === EOF) continue;
        if (after === 0x22 || after === 0x24 || after === this.escape) c = this.next();
      }
      result += String.fromCharCode(c);
    }
  }

  private processDollar(): string {
    const dollarAt = this.pos;
    this.next();
    if (this.peek() !== 0x7b /* { */) {
      const name = this.processName();
      if (name === '') return '$';
      const value = lookup(this.env, name);
      if (value === undefined && this.opts.skipUnsetEnv) return '$' + name;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) this.fail("syntax error: missing '}'");
    if (first === 0x7b || first === 0x7d || first === 0x3a) this.fail('syntax error: bad substitution');
    const name = this.processName();
    const ch = this.next();
    if (ch === 0x7d /* } */) {
      const value = lookup(this.env, name);
      if (value === undefined && this.opts.skipUnsetEnv) return this.src.slice(dollarAt, this.pos);
      return value ?? '';
    }
    if (ch === EOF) this.fail("syntax error: missing '}'");
    let modifier = ch;
    let nullIsUnset = false;
    if (ch === 0x3a /* : */) {
      nullIsUnset = true;
      modifier = this.next();
      if (modifier === EOF) this.fail("syntax error: missing '}'");
    }
    const mod = String.fromCharCode(modifier);
    if (ch === 0x2f /* / */) return this.processReplace(name, dollarAt);
    if (!'+-?#%'.includes(mod)) {
      if (!nullIsUnset) this.fail("missing ':' in substitution");
      this.fail(`unsupported modifier (:${mod}) in substitution`);
    }
    const rawWord = mod === '#' || mod === '%';
    const wordAt = this.pos;
    let word: string;
    try {
      word = this.processStopOn(0x7d, rawWord).result;
    } catch (err) {
      if (this.peek() === EOF) this.fail("syntax error: missing '}'");
      throw err;
    }
    const value = lookup(this.env, name);
    if (this.opts.skipUnsetEnv && value === undefined) return this.src.slice(dollarAt, this.pos);
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (mod) {
      case '-':
        return unset ? word : (value ?? '');
      case '+':
        return unset ? '' : word;
      case '?':
        if (value === undefined) this.failAt(wordAt, `${name}: ${word || 'is not allowed to be unset'}`);
        if (unset) this.failAt(wordAt, `${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      default: {
        const greedy = word.startsWith(mod);
        const pattern = greedy ? word.slice(1) : word;
        return mod === '#' ? trimPrefix(pattern, value ?? '', greedy) : trimSuffix(pattern, value ?? '', greedy);
      }
    }
  }

  private failAt(offset: number, message: string): never {
    throw new DockerfileError(message, { offset });
  }

  private processReplace(name: string, dollarAt: number): string {
    const all = this.peek() === 0x2f;
    if (all) this.next();
    let pattern: string;
    let replacement: string;
    try {
      pattern = this.processStopOn(0x2f, true).result;
    } catch (err) {
      if (this.peek() === EOF) this.fail("syntax error: missing '/' in ${}");
      throw err;
    }
    try {
      replacement = this.processStopOn(0x7d, true).result;
    } catch (err) {
      if (this.peek() === EOF) this.fail("syntax error: missing '}'");
      throw err;
    }
    const value = lookup(this.env, name);
    if (this.opts.skipUnsetEnv && value === undefined) return this.src.slice(dollarAt, this.pos);
    const re = shellPatternToRegExp(pattern, true, false, all ? 'g' : '');
    return (value ?? '').replace(re, () => replacement);
  }

  private processName(): string {
    const start = this.pos;
    const first = this.peek();
    if (first !== EOF && isDigit(first)) {
      while (this.peek() !== EOF && isDigit(this.peek())) this.next();
      return this.src.slice(start, this.pos);
    }
    if (first !== EOF && '@*#?-$!0'.includes(String.fromCharCode(first))) {
      this.next();
      return String.fromCharCode(first);
    }
    for (let c = this.peek(); c !== EOF && (isLetter(c) || isDigit(c) || c === 0x5f); c = this.peek()) this.next();
    return this.src.slice(start, this.pos);
  }
}

/** A shell wildcard pattern (`*`, `?`, `\` escapes; no brackets) as a regular expression. */
function shellPatternToRegExp(pattern: string, greedy: boolean, anchored: boolean, flags = ''): RegExp {
  let out = anchored ? '^' : '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? '';
    if (ch === '*') out += greedy ? '[^]*' : '[^]*?';
    else if (ch === '?') out += '.';
    else if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === '}' || next === '/') continue;
      if (next !== '*' && next !== '?' && next !== '\\') {
        throw new DockerfileError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${next ?? ''}'`);
      }
      out += '\\' + next;
      i++;
    } else out += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(out, flags);
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Shortest/longest suffix match: reverse both so that a leftmost match does the work. */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const chars = [...pattern];
  const reversed: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\' && i + 1 < chars.length) {
      reversed.unshift('\\' + (chars[i + 1] ?? ''));
      i++;
    } else reversed.unshift(chars[i] ?? '');
  }
  const reverse = (s: string): string => [...s].reverse().join('');
  return reverse(trimPrefix(reversed.join(''), reverse(value), greedy));
}

/**
 * Expands one word: variables substituted, quotes removed, escapes resolved, white space kept.
 * This is what the builder calls with the build args and ENV in effect. Throws DockerfileError
 * (without a location; `offset` says where in the word) on a malformed reference.
 */
export function substitute(word: string, env: Env, options: LexOptions = {}): string {
  if (!needsLexing(word, options)) return word;
  return new ShellWord(word, env, options).process().result;
}

/** Expands and splits into words (unquoted white space separates, as in a shell). */
export function substituteWords(text: string, env: Env, options: LexOptions = {}): string[] {
  return new ShellWord(text, env, options).process().words;
}

/** Fast path: a word with nothing special in it is its own expansion. */
function needsLexing(word: string, options: LexOptions): boolean {
  const escape = options.escapeToken ?? '\\';
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    if (c === '$' || c === escape || c === '"' || c === "'") return true;
  }
  return false;
}
