/**
 * Commands on a terminal of the test's own (pty-driver.py, python3's pty module): for what
 * only a terminal shows, such as `paas run -it`, raw mode, resizes and typed keys.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export type PtyStep =
  { expect: string } | { send: string } | { resize: [number, number] } | { raw: true } | { hangup: true };

export interface PtyResult {
  /** The exit status (128+N for signal N); the command is SIGKILLed when a step fails. */
  status: number;
  /** Everything the terminal showed, as the command wrote it. */
  output: string;
  /** The first step that did not happen in time, or null. */
  failed: PtyStep | null;
  /** Whether the terminal's modes were as before when the command ended. */
  restored: boolean | null;
}

/** Runs `argv` on a new terminal of `rows` x `cols`, playing `steps`; at most `timeoutSeconds`. */
export function inPty(
  argv: string[],
  env: NodeJS.ProcessEnv,
  steps: PtyStep[],
  { rows = 24, cols = 80, timeoutSeconds = 60 } = {},
): PtyResult {
  const script = join(__dirname, 'pty-driver.py');
  const spec = JSON.stringify({ argv, rows, cols, steps, timeout: timeoutSeconds });
  const r = spawnSync('python3', [script, spec], { env, encoding: 'utf8', timeout: (timeoutSeconds + 30) * 1000 });
  if (r.status !== 0) throw new Error(`pty-driver failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as PtyResult;
}
