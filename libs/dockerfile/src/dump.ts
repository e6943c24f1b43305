/**
 * The node tree printed as BuildKit's parser tests print it (`Node.Dump()`), so that our parser
 * can be checked against their golden `result` files byte for byte:
 *
 *   (copy ["--from=build"] "/app" "/usr/local/bin/app")
 *   (onbuild (run "echo" "test"))
 *
 * Strings are quoted as Go's strconv.Quote does; that is why this file has its own quoting.
 */
import type { DockerfileAST, Node } from './parser';

const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u;
const SIMPLE_ESCAPES: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
  0x22: '\\"',
  0x5c: '\\\\',
};

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Go's strconv.Quote: printable runes as they are, the rest as \a..\v, \xNN, \uNNNN, \UNNNNNNNN. */
function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const simple = SIMPLE_ESCAPES[cp];
    if (simple) out += simple;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex(cp, 2);
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else if (PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x10000) out += '\\u' + hex(cp, 4);
    else out += '\\U' + hex(cp, 8);
  }
  return out + '"';
}

/** One instruction as an s-expression, without the surrounding parentheses' newline. */
function dumpNode(node: Node): string {
  let out = node.instruction;
  if (node.flags.length > 0) out += ' [' + node.flags.map(goQuote).join(' ') + ']';
  if (node.child) out += ' (' + dumpNode(node.child) + ')';
  for (const arg of node.args) out += ' ' + goQuote(arg);
  return out.trim();
}

/** The whole tree, one line per instruction, newline-terminated like a `result` file. */
export function dump(tree: DockerfileAST | Node): string {
  if ('children' in tree) return tree.children.map((n) => `(${dumpNode(n)})\n`).join('');
  return `(${dumpNode(tree)})\n`;
}
