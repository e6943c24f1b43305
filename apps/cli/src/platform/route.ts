/**
 * `ps`, `run`, `logs`, `login` and `logout` are engine verbs (docker's) and platform verbs
 * (heroku's). A command line goes to the platform only when it says so, so that every engine
 * command line keeps its meaning:
 *
 * - `ps`, `logs`: with `--app APP`, `-r/--remote R`, or `-a APP` (for `ps`, whose `-a` is
 *   docker's `--all`, only when a value follows it);
 * - `logs` also with a flag only Heroku's has (`-p/--ps`, `-d/--dyno`, `-s/--source`), with
 *   `--tail` not followed by a count (docker's `--tail N`), or without a container where an app
 *   is known (`$PAAS_APP`, or a `paas` git remote: `paas logs` in an app's repository is
 *   Heroku's; elsewhere the engine says a container is missing);
 * - `run`: with `--app APP`, `-r/--remote R`, or `-a APP` before the image where APP is not one
 *   of docker's `--attach` streams (stdin, stdout, stderr);
 * - `login`: with `--api` or `--token`, or with no arguments (`login SERVER` is the registry's);
 * - `logout`: with no arguments (`logout SERVER` is the registry's).
 *
 * Kept free of imports: it runs on every invocation.
 */

export type SharedVerb = 'ps' | 'run' | 'logs' | 'login' | 'logout';
export const SHARED_VERBS: readonly SharedVerb[] = ['ps', 'run', 'logs', 'login', 'logout'];

/** What the router needs to know of the engine command's flags: which take a value. */
export interface FlagShape {
  readonly short?: string | undefined;
  readonly long?: string | undefined;
  readonly required: boolean;
  readonly optional: boolean;
}

const ATTACH_STREAMS = new Set(['stdin', 'stdout', 'stderr']);
/** Flags of the platform's `logs` that docker's `logs` lacks. */
const PLATFORM_LOGS_FLAG = /^(-[pds]|--(ps|dyno|source)(=.*)?)$/;

/** The shared verb `argv` runs on the platform, or undefined when it is the engine's. */
export function platformRoute(
  argv: readonly string[],
  engineFlags: (verb: SharedVerb) => readonly FlagShape[],
  appKnown: () => boolean = () => false,
): SharedVerb | undefined {
  const verb = argv[0] as SharedVerb | undefined;
  if (verb === undefined || !SHARED_VERBS.includes(verb)) return undefined;
  const args = argv.slice(1);
  switch (verb) {
    case 'login':
      return args.length === 0 || args.some((a) => /^--(api|token)(=|$)/.test(a)) ? verb : undefined;
    case 'logout':
      return args.length === 0 ? verb : undefined;
    default:
      return hasAppFlag(verb, args, engineFlags(verb), appKnown) ? verb : undefined;
  }
}

function hasAppFlag(
  verb: 'ps' | 'run' | 'logs',
  args: readonly string[],
  flags: readonly FlagShape[],
  appKnown: () => boolean,
): boolean {
  const takesValue = (flag: string): boolean =>
    flags.some((f) => (f.short === flag || f.long === flag) && (f.required || f.optional));
  /** `-a VALUE` (or `-aVALUE`) names an app for this verb. */
  const appValue = (value: string | undefined): boolean => {
    if (verb === 'ps') return value !== undefined && value !== '' && !value.startsWith('-');
    if (verb === 'run') return value !== undefined && !ATTACH_STREAMS.has(value);
    return true; // the engine's `logs` has no -a at all
  };
  let positionals = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') return false;
    if (/^--(app|remote)(=|$)/.test(arg)) return true;
    if (verb === 'logs' && PLATFORM_LOGS_FLAG.test(arg)) return true;
    // docker's `--tail N` takes a count (or `all`); Heroku's `--tail` is a switch (follow)
    if (verb === 'logs' && arg === '--tail' && !/^(\d+|all)$/.test(args[i + 1] ?? '')) return true;
    if (arg === '-r' && !flags.some((f) => f.short === '-r')) return true;
    if (arg === '-a') {
      if (appValue(args[i + 1])) return true;
      if (verb === 'run') i++; // docker's `-a stdout`
      continue;
    }
    if (arg.startsWith('--')) {
      if (!arg.includes('=') && takesValue(arg)) i++;
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      if (verb !== 'ps' && arg.startsWith('-a')) {
        if (appValue(arg.slice(2))) return true;
        continue;
      }
      // Short flags, maybe combined (`-di`); the first that takes a value takes the rest or the next word.
      for (let j = 1; j < arg.length; j++) {
        if (takesValue(`-${arg[j]}`)) {
          if (j === arg.length - 1) i++;
          break;
        }
      }
      continue;
    }
    // A positional: for `run` the image, after which everything is the container's command.
    if (verb === 'run') return false;
    positionals++;
  }
  return verb === 'logs' && positionals === 0 && appKnown();
}
