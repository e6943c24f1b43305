/**
 * The typed layer's entry point: the node tree -> stages of typed instructions, with variables
 * substituted where Docker substitutes them and with Docker's scoping:
 * - ARGs before the first FROM are global: FROM lines see them, stages only when redeclared
 *   (`ARG NAME` inside a stage takes the global value);
 * - inside a stage, ARG then ENV are in scope from the line after they appear, ENV winning over
 *   an ARG of the same name; each instruction sees the scope as it was before it (so
 *   `ENV a=1 b=$a` gives b the old a), while ARG's pairs are taken one after the other;
 * - a build arg (`--build-arg`) overrides a declared default, and only declared ARGs exist.
 */
import type { ArgDeclaration, ArgInstruction, FromInstruction, Instruction, Stage, Stages } from './instruction-types';
import { NodeContext, parseInstruction, unknownInstruction } from './instructions';
import type { DockerfileAST, Node } from './parser';

export interface InstructionsOptions {
  /** `--build-arg` values; they only take effect for ARGs the Dockerfile declares. */
  buildArgs?: Readonly<Record<string, string>>;
  /**
   * Arguments in the global scope without a declaration, as BuildKit's automatic platform
   * args (TARGETPLATFORM, BUILDARCH, ...); a stage sees them when it declares `ARG NAME`.
   */
  builtinArgs?: Readonly<Record<string, string>>;
  /** The base image's ENV, for a stage that starts from an image (the builder knows it). */
  imageEnv?: (from: FromInstruction) => Readonly<Record<string, string>> | undefined;
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function has(record: Readonly<Record<string, string>> | undefined, key: string): record is Record<string, string> {
  return record !== undefined && Object.prototype.hasOwnProperty.call(record, key);
}

class Scope {
  readonly args = new Map<string, string>();
  readonly env = new Map<string, string>();
  private cached: Map<string, string> | undefined;

  /** ENV over ARG, as Docker documents. */
  view(): Map<string, string> {
    this.cached ??= new Map([...this.args, ...this.env]);
    return this.cached;
  }
  setArg(key: string, value: string): void {
    this.args.set(key, value);
    this.cached = undefined;
  }
  setEnv(key: string, value: string): void {
    this.env.set(key, value);
    this.cached = undefined;
  }
}

export function instructions(tree: DockerfileAST, options: InstructionsOptions = {}): Stages {
  const { buildArgs, builtinArgs } = options;
  const file = tree.file;
  const metaArgs: ArgInstruction[] = [];
  const global = new Scope();
  for (const [k, v] of Object.entries(builtinArgs ?? {})) global.setArg(k, v);
  const declaredGlobal = new Set<string>();
  const stages: { stage: Stage; scope: Scope; instructions: Instruction[] }[] = [];

  const argInstruction = (ctx: NodeContext, scope: Scope, inStage: boolean): ArgInstruction => {
    ctx.flags({});
    if (ctx.node.args.length === 0) ctx.fail('ARG requires at least one argument');
    const args: ArgDeclaration[] = [];
    for (const word of ctx.node.args) {
      const eq = word.indexOf('=');
      const rawKey = eq < 0 ? word : word.slice(0, eq);
      if (rawKey === '') ctx.fail('ARG names can not be blank', word);
      const key = ctx.expand(rawKey);
      const decl: { -readonly [K in keyof ArgDeclaration]: ArgDeclaration[K] } = { key };
      if (eq >= 0) decl.default = ctx.expand(word.slice(eq + 1));
      // Each pair sees the ones before it, as BuildKit evaluates meta args one by one.
      ctx = new NodeContext(ctx.node, file, tree.escapeToken, scope.view());
      let value: string | undefined;
      if (has(buildArgs, key)) value = buildArgs[key];
      else if (decl.default !== undefined) value = decl.default;
      else if (inStage && declaredGlobal.has(key)) value = global.args.get(key);
      else if (inStage && has(builtinArgs, key)) value = builtinArgs[key];
      if (value !== undefined) {
        decl.value = value;
        scope.setArg(key, value);
        ctx = new NodeContext(ctx.node, file, tree.escapeToken, scope.view());
      }
      if (!inStage) declaredGlobal.add(key);
      args.push(decl);
    }
    return { kind: 'arg', location: ctx.location, original: ctx.node.original, args };
  };

  const fromInstruction = (node: Node): FromInstruction => {
    const ctx = new NodeContext(node, file, tree.escapeToken, global.view());
    const flags = ctx.flags({ platform: 'string' });
    const args = node.args;
    let alias: string | undefined;
    if (args.length === 3 && (args[1] ?? '').toLowerCase() === 'as') {
      alias = (args[2] ?? '').toLowerCase();
      if (!STAGE_NAME.test(alias)) {
        ctx.fail(
          `invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`,
          args[2],
        );
      }
      const previous = stages.find((s) => s.stage.name === alias);
      if (previous) {
        ctx.fail(
          `duplicate stage name ${JSON.stringify(alias)}, first defined on line ${previous.stage.from.location.startLine}`,
          args[2],
        );
      }
    } else if (args.length !== 1) ctx.fail('FROM requires either one or three arguments');
    const rawImage = args[0] ?? '';
    const image = ctx.expand(rawImage);
    if (image === '') ctx.fail(`base name (${rawImage}) should not be blank`, rawImage);
    const rawPlatform = flags.string('platform');
    const platform = rawPlatform === undefined ? undefined : ctx.expand(rawPlatform);
    const parent = stages.findIndex((s) => s.stage.name !== undefined && s.stage.name === image.toLowerCase());
    return {
      kind: 'from',
      location: ctx.location,
      original: node.original,
      image,
      ...(platform ? { platform } : {}),
      ...(alias ? { alias } : {}),
      ...(parent >= 0 ? { stage: parent } : {}),
    };
  };

  for (const node of tree.children) {
    const current = stages[stages.length - 1];
    if (node.instruction === 'from') {
      const from = fromInstruction(node);
      const scope = new Scope();
      const parent = from.stage === undefined ? undefined : stages[from.stage];
      const inherited = parent ? Object.fromEntries(parent.scope.env) : options.imageEnv?.(from);
      for (const [k, v] of Object.entries(inherited ?? {})) scope.setEnv(k, v);
      const stage: Stage = {
        index: stages.length,
        ...(from.alias ? { name: from.alias } : {}),
        from,
        instructions: [],
        env: {},
      };
      stages.push({ stage, scope, instructions: [] });
      continue;
    }
    if (!current) {
      const ctx: NodeContext = new NodeContext(node, file, tree.escapeToken, global.view());
      if (node.instruction === 'arg') {
        metaArgs.push(argInstruction(ctx, global, false));
        continue;
      }
      if (!KNOWN.has(node.instruction)) unknownInstruction(ctx);
      ctx.fail('no build stage in current context');
    }
    const ctx = new NodeContext(node, file, tree.escapeToken, current.scope.view());
    if (node.instruction === 'arg') {
      current.instructions.push(argInstruction(ctx, current.scope, true));
      continue;
    }
    const instruction = parseInstruction(ctx);
    if (instruction.kind === 'env') for (const { key, value } of instruction.pairs) current.scope.setEnv(key, value);
    current.instructions.push(instruction);
  }

  return {
    metaArgs,
    stages: stages.map(({ stage, scope, instructions: list }) => ({
      ...stage,
      instructions: list,
      env: Object.fromEntries(scope.env),
    })),
  };
}

const KNOWN = new Set([
  'add',
  'arg',
  'cmd',
  'copy',
  'entrypoint',
  'env',
  'expose',
  'from',
  'healthcheck',
  'label',
  'maintainer',
  'onbuild',
  'run',
  'shell',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);
