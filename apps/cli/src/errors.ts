/** An error the CLI reports as `Error: <message>` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Exit code for a command line that cannot be understood (unknown command, bad flag). */
export const EXIT_USAGE = 2;
