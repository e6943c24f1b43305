import { type ErrorCode, PaasError } from '@paas/errors';

/** An error the CLI reports as `Error: <message>` and exits with `exitCode`. */
export class CliError extends PaasError {
  constructor(
    message: string,
    readonly exitCode = 1,
    code: ErrorCode = 'unprocessable',
  ) {
    super(code, message);
  }
}

/**
 * The exit code of a failed command, as Docker's CLI: 1 for any failure, unless the error
 * carries its own (`CliError`, `run`'s 125/126/127 from the engine, a build interrupted 130).
 * What is not a PaasError is a bug: 1 too, and main prints its stack.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof PaasError && 'exitCode' in err && typeof err.exitCode === 'number') return err.exitCode;
  return 1;
}

/** Exit code for a command line that cannot be understood (unknown command, bad flag). */
export const EXIT_USAGE = 2;
