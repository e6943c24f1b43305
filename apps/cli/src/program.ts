import { execFileSync } from 'node:child_process';
import { Command, CommanderError } from 'commander';
import { VERSION } from '@paas/config';
import { PaasError } from '@paas/errors';
import { buildCommand, builderCommand } from './commands/build';
import { containerCommands } from './commands/containers';
import { imageCommands } from './commands/images';
import { registryCommands } from './commands/registry';
import { downCommand, upCommand } from './commands/up';
import { volumeCommand } from './commands/volumes';
import { EXIT_USAGE, exitCodeOf } from './errors';
import { nodeCommand } from './node/commands';
import type { CliIo } from './io';
import { SHARED_HELP, platformCommands, sharedCommand } from './platform/commands';
import { DEFAULT_REMOTE } from './platform/app';
import { SHARED_VERBS, type SharedVerb, platformRoute } from './platform/route';

function versionLine(): string {
  return `paas version ${VERSION}, node ${process.versions.node}, ${process.platform}/${process.arch}`;
}

/**
 * The command tree. Each verb lives in its own module under commands/ (engine) or platform/.
 * `argv` decides whether a verb both halves have (`ps`, `run`, `logs`, `login`, `logout`) is
 * the engine's or the platform's: see platform/route.ts.
 */
export function createProgram(io: CliIo, argv: readonly string[] = []): Command {
  const program = new Command('paas')
    .description('A container engine and a Heroku-like platform built on it')
    .usage('[OPTIONS] COMMAND')
    .version(`${versionLine()}`, '-v, --version', 'Print version information and quit')
    .helpOption('-h, --help', 'Print usage')
    .helpCommand('help [COMMAND]', 'Show help for a command')
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: () => undefined, // main() prints errors in one format
    })
    .showSuggestionAfterError(true)
    .exitOverride();

  program
    .command('version')
    .description('Show the paas version information')
    .action(() => io.out(`${versionLine()}\n`));

  program.enablePositionalOptions();
  const engine = [
    ...containerCommands(io),
    ...imageCommands(io),
    ...registryCommands(io),
    volumeCommand(io),
    buildCommand(io),
    builderCommand(io),
    upCommand(io),
    downCommand(io),
    nodeCommand(io),
  ];
  const shared = (verb: SharedVerb): Command | undefined => engine.find((c) => c.name() === verb);
  const routed = platformRoute(
    argv,
    (verb) => shared(verb)?.options ?? [],
    () => appKnownHere(io),
  );
  for (const command of engine) {
    const verb = SHARED_VERBS.find((v) => v === command.name());
    if (verb && verb === routed) program.addCommand(sharedCommand(io, verb));
    else {
      if (verb) command.addHelpText('after', SHARED_HELP[verb]);
      program.addCommand(command);
    }
  }
  for (const command of platformCommands(io)) program.addCommand(command);
  for (const command of program.commands) inheritErrorHandling(command, io);
  return program;
}

/**
 * Commands made with `new Command()` and `addCommand` do not inherit the program's output and
 * exit settings: without this a usage error in a subcommand (a missing argument, an unknown
 * flag) would print commander's own message and exit 1 instead of going through reportError.
 */
function inheritErrorHandling(command: Command, io: CliIo): void {
  command.exitOverride().configureOutput({
    writeOut: (s) => io.out(s),
    writeErr: (s) => io.err(s),
    outputError: () => undefined,
  });
  for (const sub of command.commands) inheritErrorHandling(sub, io);
}

/** Runs one command line; resolves to the process exit code instead of exiting. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = createProgram(io, argv);
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err, argv, io);
  }
}

function reportError(err: unknown, argv: readonly string[], io: CliIo): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') {
      return 0;
    }
    if (err.code === 'commander.unknownCommand') {
      const name = argv.find((a) => !a.startsWith('-')) ?? '';
      const hint = /\(Did you mean (\S+)\?\)/.exec(err.message)?.[1];
      io.err(`paas: '${name}' is not a paas command.\n`);
      if (hint) io.err(`Did you mean '${hint}'?\n`);
      io.err(`See 'paas help'.\n`);
      return EXIT_USAGE;
    }
    io.err(`paas: ${err.message.replace(/^error: /, '')}\nSee 'paas help'.\n`);
    return EXIT_USAGE;
  }
  // an error thrown on purpose says what went wrong; anything else is a bug, shown with its stack
  if (err instanceof PaasError) {
    if (err.message) io.err(`Error: ${err.message}\n`);
    return exitCodeOf(err);
  }
  io.err(`Error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

/**
 * Whether a command without `-a` would find an app here (platform/app.ts resolveApp): asked only
 * for a shared verb's command line that means nothing to the engine (`paas logs` alone).
 */
function appKnownHere(io: CliIo): boolean {
  if (io.env['PAAS_APP']) return true;
  try {
    const url = execFileSync('git', ['config', '--get', `remote.${DEFAULT_REMOTE}.url`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    return url.trim() !== '';
  } catch {
    return false; // not a repository, no such remote, or no git
  }
}
