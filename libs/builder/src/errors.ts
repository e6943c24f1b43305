/**
 * The builder's errors. Each message is what `docker build` prints for the same failure, so
 * that scripts and people who know Docker recognise it.
 */
import { type ErrorCode, PaasError } from '@paas/errors';

/**
 * A build that cannot go on: a step failed, a source or base image is missing, a Dockerfile
 * asks for what cannot be done. Its message is the build's last line.
 */
export class BuildError extends PaasError {
  constructor(
    message: string,
    /** Exit code for the CLI; Docker's builder exits 1 for every build failure. */
    readonly exitCode = 1,
    code: ErrorCode = 'unprocessable',
  ) {
    super(code, message);
  }
}

/** A RUN step's command failed: Docker's classic message. */
export class RunFailedError extends BuildError {
  constructor(
    readonly command: string,
    /** The command's exit status. */
    readonly status: number,
  ) {
    super(`The command '${command}' returned a non-zero code: ${status}`);
  }
}

/** The build was interrupted (SIGINT); everything the running step held is released first. */
export class BuildAbortedError extends BuildError {
  constructor() {
    super('build interrupted', 130, 'aborted');
  }
}
