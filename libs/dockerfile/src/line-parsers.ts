/**
 * Per-instruction argument parsers of the node tree, one rule per instruction as in BuildKit's
 * line_parsers.go: JSON or shell form, white space lists, `key=value` pairs with the legacy
 * `ENV key value` form, HEALTHCHECK's type word, ONBUILD's nested instruction.
 *
 * They keep quotes and escapes in the words (the typed layer resolves them with the shell
 * lexer), so the tree can be dumped exactly as BuildKit's golden files show it.
 */
import { DockerfileError } from './errors';
import { isSpaceCode } from './shell-lex';

export interface ParsedArgs {
  args: string[];
  json: boolean;
  /** ONBUILD: the nested instruction's text. */
  subcommand?: string;
}

const WHITESPACE = /[\t\v\f\r ]+/;
const NONE: ParsedArgs = { args: [], json: false };

/** Thrown for `["a", 1]`: JSON that is an array but not of strings is an error, not shell form. */
const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

type LineParser = (rest: string, escape: string) => ParsedArgs;

/** Words separated by white space, quotes and escapes kept but respected. */
function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOK = false;
  const chars = [...rest];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] ?? '';
    if (!inWord && !quote) {
      if (isSpaceCode(ch.charCodeAt(0))) continue;
      inWord = true;
    }
    if (quote) {
      if (ch === quote) quote = '';
      if (ch === escape && quote !== "'" && ch !== quote) {
        if (i + 1 === chars.length) {
          quote = '';
          continue;
        }
        word += ch;
        i++;
        word += chars[i] ?? '';
        continue;
      }
      word += ch;
      continue;
    }
    if (isSpaceCode(ch.charCodeAt(0))) {
      if (blankOK || word.length > 0) words.push(word);
      word = '';
      blankOK = false;
      inWord = false;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      blankOK = true;
    } else if (ch === escape) {
      if (i + 1 === chars.length) continue;
      word += ch;
      i++;
      word += chars[i] ?? '';
      continue;
    }
    word += ch;
  }
  if ((inWord || quote) && (blankOK || word.length > 0)) words.push(word);
  return words;
}

function nameVal(keyword: string): LineParser {
  return (rest, escape) => {
    const words = parseWords(rest, escape);
    if (words.length === 0) return NONE;
    if (!(words[0] ?? '').includes('=')) {
      const m = WHITESPACE.exec(rest);
      if (!m) throw new DockerfileError(`${keyword} must have two arguments`);
      return { args: [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''], json: false };
    }
    const args: string[] = [];
    for (const word of words) {
      const eq = word.indexOf('=');
      if (eq < 0) {
        throw new DockerfileError(
          `Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`,
        );
      }
      args.push(word.slice(0, eq), word.slice(eq + 1), '=');
    }
    return { args, json: false };
  };
}

const nameOrNameVal: LineParser = (rest, escape) => ({ args: parseWords(rest, escape), json: false });

const whitespaceList: LineParser = (rest) => (rest === '' ? NONE : { args: rest.split(WHITESPACE), json: false });

const wholeString: LineParser = (rest) => (rest === '' ? NONE : { args: [rest], json: false });

/** The JSON array form, or undefined when the text is not a JSON array (shell form then). */
function parseJSONArray(rest: string): string[] | undefined {
  let start = 0;
  while (start < rest.length && isSpaceCode(rest.charCodeAt(start))) start++;
  if (rest.charCodeAt(start) !== 0x5b /* [ */) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(rest.slice(start));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v): v is string => typeof v === 'string')) throw new DockerfileError(NOT_STRING_ARRAY);
  return value;
}

const maybeJSON: LineParser = (rest) => {
  if (rest === '') return NONE;
  const json = parseJSONArray(rest);
  return json ? { args: json, json: true } : { args: [rest], json: false };
};

const maybeJSONToList: LineParser = (rest, escape) => {
  const json = parseJSONArray(rest);
  return json ? { args: json, json: true } : whitespaceList(rest, escape);
};

const healthConfig: LineParser = (rest, escape) => {
  let sep = 0;
  while (sep < rest.length && !isSpaceCode(rest.charCodeAt(sep))) sep++;
  if (sep === 0) return NONE;
  let next = sep;
  while (next < rest.length && isSpaceCode(rest.charCodeAt(next))) next++;
  const command = maybeJSON(rest.slice(next), escape);
  return { args: [rest.slice(0, sep), ...command.args], json: command.json };
};

const subCommand: LineParser = (rest) => (rest === '' ? NONE : { args: [], json: false, subcommand: rest });

/** Unknown instructions parse (the typed layer rejects them) with one empty argument, as in BuildKit. */
const ignore: LineParser = () => ({ args: [''], json: false });

const DISPATCH: Record<string, LineParser> = {
  add: maybeJSONToList,
  arg: nameOrNameVal,
  cmd: maybeJSON,
  copy: maybeJSONToList,
  entrypoint: maybeJSON,
  env: nameVal('ENV'),
  expose: whitespaceList,
  from: whitespaceList,
  healthcheck: healthConfig,
  label: nameVal('LABEL'),
  maintainer: wholeString,
  onbuild: subCommand,
  run: maybeJSON,
  shell: maybeJSON,
  stopsignal: wholeString,
  user: wholeString,
  volume: maybeJSONToList,
  workdir: wholeString,
};

export function parseArgs(instruction: string, rest: string, escape: string): ParsedArgs {
  return (DISPATCH[instruction] ?? ignore)(rest, escape);
}

/**
 * Splits `--flag=value` words off the front of the arguments. Flags end at the first word that
 * does not start with `--`, or at a bare `--`. Quotes and backslashes in flags are resolved here.
 */
export function extractFlags(line: string): { rest: string; restOffset: number; flags: string[] } {
  const flags: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = pos < line.length ? (line[pos] ?? '') : '';
    if (!inWord && !quote) {
      if (pos === line.length) break;
      if (isSpaceCode(ch.charCodeAt(0))) continue;
      if (ch !== '-' || line[pos + 1] !== '-') return { rest: line.slice(pos), restOffset: pos, flags };
      inWord = true;
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) flags.push(word);
      break;
    }
    if (quote) {
      if (ch === quote) {
        quote = '';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) {
          quote = '';
          continue;
        }
        pos++;
      }
      word += line[pos] ?? '';
      continue;
    }
    if (isSpaceCode(ch.charCodeAt(0))) {
      if (word === '--') return { rest: line.slice(pos), restOffset: pos, flags };
      if (blankOK || word.length > 0) flags.push(word);
      word = '';
      blankOK = false;
      inWord = false;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      blankOK = true;
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) continue;
      pos++;
    }
    word += line[pos] ?? '';
  }
  return { rest: '', restOffset: line.length, flags };
}
