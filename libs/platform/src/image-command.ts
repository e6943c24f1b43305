/**
 * An image's own command as one shell line. The build records it as a Dockerfile app's web
 * process; the agent compares a process's command with it to run the image's entrypoint as
 * it is (signals reach the app, not a `sh -c` in front of it). Both sides must quote alike,
 * so this is the only place that does.
 */
import type { ImageConfig } from '@paas/oci';

/** A value as a POSIX shell word: bare when safe, else single-quoted. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The image's entrypoint and command as one shell line (`node server.js`); empty when it has neither. */
export function imageCommand(config: ImageConfig['config']): string {
  return [...(config?.Entrypoint ?? []), ...(config?.Cmd ?? [])].map(shellQuote).join(' ');
}
