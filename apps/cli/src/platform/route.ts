/**
 * `ps`, `run`, `logs`, `login` and `logout` are engine verbs (docker's) and platform verbs
 * (heroku's). A command line goes to the platform only when it says so, so that every engine
 * command line keeps its meaning:
 *
 * - `ps`, `logs`: with `--app APP`, `-r/--remote R`, or `-a APP` (for `ps`, whose `-a` is
 *   docker's `--all`, only when a value follows it);
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

/** The shared verb `argv` runs on the platform, or undefined when it is the engine's. */
export function platformRoute(
  argv: readonly string[],
  engineFlags: (verb: SharedVerb) => readonly FlagShape[],
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
      return hasAppFlag(verb, args, engineFlags(verb)) ? verb : undefined;
  }
}

function hasAppFlag(verb: 'ps' | 'run' | 'logs', args: readonly string[], flags: readonly FlagShape[]): boolean {
  const takesValue = (flag: string): boolean =>
    flags.some((f) => (f.short === flag || f.long === flag) && (f.required || f.optional));
  /** `-a VALUE` (or `-aVALUE`) names an app for this verb. */
  const appValue = (value: string | undefined): boolean => {
    if (verb === 'ps') return value !== undefined && value !== '' && !value.startsWith('-');
    if (verb === 'run') return value !== undefined && !ATTACH_STREAMS.has(value);
    return true; // the engine's `logs` has no -a at all
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') return false;
    if (/^--(app|remote)(=|$)/.test(arg)) return true;
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
  }
  return false;
}
