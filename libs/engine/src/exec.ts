/**
 * How the engine runs the programs a container start needs (ip, ipset, iptables-restore,
 * paas-shim, the runtime's delete): through native/fsx's spawn rather than child_process,
 * whose fork(2) of the whole Node process grows with the process (an agent holding a
 * thousand instances spent most of its event loop forking) and blocks the loop meanwhile.
 * The result and the error look like `promisify(execFile)`'s, so callers read `stderr` and
 * `code` as they did.
 */
import { fsx } from '@paas/layers';

export interface ExecOptions {
  /** Written to the program's stdin (otherwise it reads /dev/null). */
  readonly input?: string;
  /** SIGTERM after this many ms (0 or absent: no limit), as execFile's `timeout`. */
  readonly timeoutMs?: number;
  /** Bytes of stdout or stderr kept; more fails the call, as execFile's `maxBuffer`. */
  readonly maxBuffer?: number;
}

/** A program that ran and failed: its exit code or signal and what it wrote. */
export class ExecError extends Error {
  constructor(
    message: string,
    /** The exit code; null when a signal ended it. */
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stdout: string,
    readonly stderr: string,
    /** Ended by the timeout or for writing more than maxBuffer. */
    readonly killed: boolean,
  ) {
    super(message);
    this.name = 'ExecError';
  }
}

/** Runs `file` with `args` to completion; resolves to its output, rejects unless it exits 0. */
export async function execProgram(
  file: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const result = await fsx().spawn(
    file,
    args,
    options.input === undefined ? null : Buffer.from(options.input),
    options.timeoutMs ?? 0,
    options.maxBuffer ?? 64 << 20,
  );
  const stdout = result.stdout.toString('utf8');
  const stderr = result.stderr.toString('utf8');
  if (result.code === 0 && !result.overflowed) return { stdout, stderr };
  const command = [file, ...args].join(' ');
  const why = result.overflowed
    ? 'wrote more than maxBuffer'
    : result.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : result.signal
        ? `killed by ${result.signal}`
        : `exited with code ${result.code}`;
  throw new ExecError(
    `Command failed (${why}): ${command}\n${stderr}`,
    result.code,
    result.signal,
    stdout,
    stderr,
    result.timedOut || result.overflowed,
  );
}
