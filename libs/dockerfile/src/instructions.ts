/**
 * One node of the tree -> one typed instruction, with BuildKit's argument rules and messages
 * (frontend/dockerfile/instructions/parse.go). Substitution goes through the context's
 * `expand`, so the caller (stages.ts) decides which variables are in scope; ONBUILD triggers
 * are checked with expansion switched off, since Docker expands them only when they fire.
 */
import { isDigest } from '@paas/oci';
import { closest, DockerfileError } from './errors';
import { checkChmod, FlagError, type FlagKind, type FlagValues, parseFlags, parseGoDuration } from './flags';
import type {
  AddInstruction,
  CommandLine,
  CopyInstruction,
  HeredocFile,
  Instruction,
  KeyValue,
  SourceLocation,
} from './instruction-types';
import { parseMount } from './mounts';
import { type Heredoc, locate, type Node, parseHeredocWord } from './parser';
import { type Env, substitute } from './shell-lex';

const INSTRUCTION_NAMES = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
] as const;

const PORT = /^\d+(-\d+)?(\/[a-zA-Z]+)?$/;
const SIGNAL = /^(\d+|(SIG)?[A-Z][A-Z0-9+-]*)$/i;

/** What parsing one node needs: where it is, and how to substitute (or not, for ONBUILD). */
export class NodeContext {
  constructor(
    readonly node: Node,
    readonly file: string,
    readonly escapeToken: string,
    /** Variables in scope; undefined means "do not substitute" (ONBUILD triggers). */
    private readonly env: Env | undefined,
  ) {}

  get location(): SourceLocation {
    const { startLine, endLine, column } = this.node;
    return { file: this.file, startLine, endLine, column };
  }

  /** Throws at the column where `hint` appears in the instruction, else at the instruction. */
  fail(reason: string, hint?: string, extraOffset = 0): never {
    const at = hint ? this.node.original.indexOf(hint) : -1;
    const { line, column } =
      at >= 0 ? locate(this.node.spans, at + extraOffset) : { line: this.node.startLine, column: this.node.column };
    throw new DockerfileError(reason, { file: this.file, line, column, endLine: this.node.endLine });
  }

  /** Throws at another node's instruction word (ONBUILD's trigger). */
  failAt(node: Node, reason: string): never {
    throw new DockerfileError(reason, { file: this.file, line: node.startLine, column: node.column });
  }

  /** `keepQuotes`: heredoc bodies are text, not shell words, so their quotes stay. */
  expand(word: string, keepQuotes = false): string {
    if (!this.env) return word;
    try {
      return substitute(word, this.env, { escapeToken: this.escapeToken, skipProcessQuotes: keepQuotes });
    } catch (err) {
      if (!(err instanceof DockerfileError)) throw err;
      return this.fail(err.reason, word, err.offset ?? 0);
    }
  }

  flags(spec: Readonly<Record<string, FlagKind>>): FlagValues {
    try {
      return parseFlags(this.node.flags, spec);
    } catch (err) {
      if (!(err instanceof FlagError)) throw err;
      return this.fail(err.reason, err.flag.split('=')[0]);
    }
  }

  /** Runs a parser of a flag or word value, placing its error at that value. */
  check<T>(hint: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof DockerfileError)) throw err;
      return this.fail(err.reason, hint);
    }
  }
}

function exactlyOne(ctx: NodeContext, name: string): string {
  const [first] = ctx.node.args;
  if (ctx.node.args.length !== 1 || first === undefined) ctx.fail(`${name} requires exactly one argument`);
  return first;
}

function atLeastOne(ctx: NodeContext, name: string): readonly string[] {
  if (ctx.node.args.length === 0) ctx.fail(`${name} requires at least one argument`);
  return ctx.node.args;
}

function commandLine(node: Node): CommandLine {
  return node.json ? { exec: [...node.args] } : { shell: node.args[0] ?? '' };
}

function chomped(doc: Heredoc): string {
  return doc.chomp ? doc.content.replace(/^\t+/gm, '') : doc.content;
}

function pairs(ctx: NodeContext, name: string): KeyValue[] {
  const args = atLeastOne(ctx, name);
  const out: KeyValue[] = [];
  if (args.length % 3 !== 0) ctx.fail(`Bad input to ${name}, too many arguments`);
  for (let i = 0; i < args.length; i += 3) {
    const key = args[i] ?? '';
    if (key === '') ctx.fail(`${name} names can not be blank`, '=');
    out.push({ key: ctx.expand(key), value: ctx.expand(args[i + 1] ?? '') });
  }
  return out;
}

function copyLike(ctx: NodeContext, name: 'COPY' | 'ADD') {
  const { node } = ctx;
  if (node.args.length < 2) {
    ctx.fail(`${name} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  const rawDest = node.args[node.args.length - 1] ?? '';
  if (!node.json && parseHeredocWord(rawDest)) ctx.fail(`${name} cannot accept a heredoc as a destination`, rawDest);
  const sources: string[] = [];
  const contents: HeredocFile[] = [];
  for (const src of node.args.slice(0, -1)) {
    const doc = node.json ? undefined : parseHeredocWord(src);
    const body = doc && node.heredocs.find((h) => h.name === doc.name);
    if (doc && body) {
      const content = chomped(body);
      contents.push({
        name: doc.name,
        fileDescriptor: doc.fileDescriptor,
        expand: doc.expand,
        content: doc.expand ? ctx.expand(content, true) : content,
      });
    } else sources.push(ctx.expand(src));
  }
  return { sources, contents, dest: ctx.expand(rawDest), json: node.json };
}

function copyFlags(ctx: NodeContext, flags: FlagValues) {
  const chown = flags.string('chown');
  const chmod = flags.string('chmod');
  const out: { chown?: string; chmod?: string; link: boolean; exclude: string[] } = {
    link: flags.bool('link'),
    exclude: flags.strings('exclude').map((e) => ctx.expand(e)),
  };
  if (chown !== undefined) out.chown = ctx.expand(chown);
  if (chmod !== undefined) {
    const mode = ctx.expand(chmod);
    ctx.check('--chmod', () => checkChmod(mode));
    out.chmod = mode;
  }
  return out;
}

function healthDuration(ctx: NodeContext, flags: FlagValues, name: string): number | undefined {
  const value = flags.string(name);
  if (value === undefined || value === '') return undefined;
  const ns = parseGoDuration(value);
  if (ns === undefined) ctx.fail(`invalid duration for --${name}: ${JSON.stringify(value)}`, `--${name}`);
  if (ns !== 0 && ns < 1e6) ctx.fail(`Interval "${name}" cannot be less than 1ms`, `--${name}`);
  if (ns < 0) ctx.fail(`--${name} cannot be negative`, `--${name}`);
  return ns;
}

/** Parses a node that is not FROM or ARG's scope bookkeeping (stages.ts does those). */
export function parseInstruction(ctx: NodeContext): Instruction {
  const { node } = ctx;
  const base = { location: ctx.location, original: node.original };
  const noFlags = (): void => void ctx.flags({});
  switch (node.instruction) {
    case 'run': {
      const flags = ctx.flags({ mount: 'strings', network: 'string', security: 'string' });
      if (node.args.length === 0) ctx.fail('RUN requires at least one argument');
      const mounts = flags.strings('mount').map((m) => ctx.check(m, () => parseMount(ctx.expand(m))));
      const network = flags.string('network');
      if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
        ctx.fail(`unsupported network mode ${JSON.stringify(network)}`, '--network');
      }
      const security = flags.string('security');
      if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
        ctx.fail(`unsupported security mode ${JSON.stringify(security)}`, '--security');
      }
      const heredocs = node.heredocs.map((h) => ({
        name: h.name,
        fileDescriptor: h.fileDescriptor,
        expand: h.expand,
        content: chomped(h),
      }));
      return {
        kind: 'run',
        ...base,
        command: commandLine(node),
        mounts,
        ...(network ? { network: network as 'default' | 'none' | 'host' } : {}),
        ...(security ? { security: security as 'sandbox' | 'insecure' } : {}),
        heredocs,
      };
    }
    case 'cmd':
    case 'entrypoint':
      noFlags();
      return { kind: node.instruction, ...base, command: commandLine(node) };
    case 'env':
    case 'label':
      noFlags();
      return { kind: node.instruction, ...base, pairs: pairs(ctx, node.instruction.toUpperCase()) };
    case 'workdir': {
      noFlags();
      const path = ctx.expand(exactlyOne(ctx, 'WORKDIR'));
      if (path === '') ctx.fail('WORKDIR cannot be empty');
      return { kind: 'workdir', ...base, path };
    }
    case 'copy': {
      const flags = ctx.flags({
        from: 'string',
        chown: 'string',
        chmod: 'string',
        link: 'bool',
        parents: 'bool',
        exclude: 'strings',
      });
      const from = flags.string('from');
      const copy: CopyInstruction = {
        kind: 'copy',
        ...base,
        ...copyLike(ctx, 'COPY'),
        ...copyFlags(ctx, flags),
        parents: flags.bool('parents'),
        ...(from !== undefined ? { from: ctx.expand(from) } : {}),
      };
      if (copy.from === '') ctx.fail('--from requires a stage name, an index or an image', '--from');
      return copy;
    }
    case 'add': {
      const flags = ctx.flags({
        chown: 'string',
        chmod: 'string',
        link: 'bool',
        'keep-git-dir': 'bool',
        checksum: 'string',
        exclude: 'strings',
        unpack: 'bool',
      });
      const checksum = flags.string('checksum');
      const add: AddInstruction = {
        kind: 'add',
        ...base,
        ...copyLike(ctx, 'ADD'),
        ...copyFlags(ctx, flags),
        keepGitDir: flags.bool('keep-git-dir'),
        ...(checksum !== undefined ? { checksum: ctx.expand(checksum) } : {}),
        ...(node.flags.some((f) => f.startsWith('--unpack')) ? { unpack: flags.bool('unpack') } : {}),
      };
      if (
        add.checksum !== undefined &&
        !isDigest(add.checksum) &&
        !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(add.checksum)
      ) {
        ctx.fail(`invalid checksum ${JSON.stringify(add.checksum)}: expected a digest or a git commit`, '--checksum');
      }
      return add;
    }
    case 'expose': {
      noFlags();
      const ports = atLeastOne(ctx, 'EXPOSE').map((p) => ctx.expand(p));
      for (const port of ports) {
        if (!PORT.test(port)) ctx.fail(`invalid containerPort: ${port}`, port);
      }
      return { kind: 'expose', ...base, ports };
    }
    case 'user': {
      noFlags();
      const user = ctx.expand(exactlyOne(ctx, 'USER'));
      if (user === '') ctx.fail('USER cannot be empty');
      return { kind: 'user', ...base, user };
    }
    case 'volume': {
      noFlags();
      const paths = atLeastOne(ctx, 'VOLUME').map((v) => ctx.expand(v).trim());
      if (paths.some((p) => p === '')) ctx.fail('VOLUME specified can not be an empty string');
      return { kind: 'volume', ...base, paths };
    }
    case 'healthcheck':
      return healthcheck(ctx);
    case 'shell': {
      noFlags();
      if (node.args.length === 0) ctx.fail('SHELL requires at least one argument');
      if (!node.json) ctx.fail('SHELL requires the arguments to be in JSON form');
      return { kind: 'shell', ...base, shell: [...node.args] };
    }
    case 'stopsignal': {
      noFlags();
      const signal = ctx.expand(exactlyOne(ctx, 'STOPSIGNAL'));
      if (!SIGNAL.test(signal)) ctx.fail(`invalid signal: ${signal}`, signal);
      return { kind: 'stopsignal', ...base, signal };
    }
    case 'onbuild':
      return onbuild(ctx);
    case 'maintainer':
      noFlags();
      return { kind: 'maintainer', ...base, maintainer: exactlyOne(ctx, 'MAINTAINER') };
    case 'from':
    case 'arg':
      throw new Error(`internal: ${node.instruction} is handled by the stage builder`);
    default:
      return unknownInstruction(ctx);
  }
}

export function unknownInstruction(ctx: NodeContext): never {
  const keyword = ctx.node.keyword;
  if (keyword === '') ctx.fail('empty instruction: a line continuation with nothing to continue');
  const suggestion = closest(keyword, INSTRUCTION_NAMES);
  return ctx.fail(`unknown instruction: ${keyword}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
}

function healthcheck(ctx: NodeContext): Instruction {
  const { node } = ctx;
  const base = { location: ctx.location, original: node.original };
  const [first, ...rest] = atLeastOne(ctx, 'HEALTHCHECK');
  const type = (first ?? '').toUpperCase();
  const flags = ctx.flags({
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  });
  if (type === 'NONE') {
    if (rest.length > 0 || node.flags.length > 0) ctx.fail('HEALTHCHECK NONE takes no arguments');
    return { kind: 'healthcheck', ...base, test: ['NONE'] };
  }
  if (type !== 'CMD') ctx.fail(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`, first);
  if (rest.length === 0) ctx.fail('Missing command after HEALTHCHECK CMD');
  const test = node.json ? ['CMD', ...rest] : ['CMD-SHELL', rest[0] ?? ''];
  const out: { -readonly [K in 'interval' | 'timeout' | 'startPeriod' | 'startInterval' | 'retries']?: number } = {};
  const durations = [
    ['interval', 'interval'],
    ['timeout', 'timeout'],
    ['start-period', 'startPeriod'],
    ['start-interval', 'startInterval'],
  ] as const;
  for (const [flag, key] of durations) {
    const ns = healthDuration(ctx, flags, flag);
    if (ns !== undefined) out[key] = ns;
  }
  const retries = flags.string('retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[-+]?\d+$/.test(retries)) ctx.fail(`invalid --retries value: ${JSON.stringify(retries)}`, '--retries');
    const n = Number.parseInt(retries, 10);
    if (n < 0) ctx.fail(`--retries cannot be negative (${n})`, '--retries');
    if (n > 2 ** 31 - 1) ctx.fail(`--retries is out of range (${retries})`, '--retries');
    out.retries = n;
  }
  return { kind: 'healthcheck', ...base, test, ...out };
}

function onbuild(ctx: NodeContext): Instruction {
  const { node } = ctx;
  ctx.flags({});
  const child = node.child;
  if (!child) return ctx.fail('ONBUILD requires at least one argument');
  const trigger = child.keyword.toUpperCase();
  if (trigger === 'ONBUILD') ctx.failAt(child, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger === 'FROM' || trigger === 'MAINTAINER')
    ctx.failAt(child, `${trigger} isn't allowed as an ONBUILD trigger`);
  // Checked now (typos, flags, arity) but substituted only when the trigger fires.
  const triggerCtx = new NodeContext({ ...child, heredocs: node.heredocs }, ctx.file, ctx.escapeToken, undefined);
  if (child.instruction === 'arg') {
    if (child.args.length === 0) triggerCtx.fail('ARG requires at least one argument');
  } else parseInstruction(triggerCtx);
  let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
  for (const doc of node.heredocs) expression += '\n' + doc.content + doc.name;
  return { kind: 'onbuild', location: ctx.location, original: node.original, expression, trigger };
}
