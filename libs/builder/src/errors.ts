/**
 * The builder's errors. Each message is what `docker build` prints for the same failure, so
 * that scripts and people who know Docker recognise it.
 */

export class BuildError extends Error {
  constructor(
    message: string,
    /** Exit code for the CLI; Docker's builder exits 1 for every build failure. */
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'BuildError';
  }
}

/** A RUN step's command failed: Docker's classic message. */
export class RunFailedError extends BuildError {
  constructor(
    readonly command: string,
    readonly code: number,
  ) {
    super(`The command '${command}' returned a non-zero code: ${code}`);
    this.name = 'RunFailedError';
  }
}

/** The build was interrupted (SIGINT); everything the running step held is released first. */
export class BuildAbortedError extends BuildError {
  constructor() {
    super('build interrupted', 130);
    this.name = 'BuildAbortedError';
  }
}
