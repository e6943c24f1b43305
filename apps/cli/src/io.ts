/**
 * What a command gets from the process: its environment and its two output streams. A leaf
 * module, so that the program and every command it assembles can import it without a circle.
 */
import type { Env } from '@paas/config';

export interface CliIo {
  readonly env: Env;
  out(text: string): void;
  err(text: string): void;
}
