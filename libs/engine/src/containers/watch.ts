/**
 * Waiting for the shim to write something: an inotify watch on its state directory (every
 * state file lands there by rename, and the log grows there), with a slow poll as the
 * fallback for the events a watch can miss (the directory replaced, an overflowed queue).
 */
import { type FSWatcher, watch } from 'node:fs';

export class DirectoryWaiter {
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  private pending = false;

  constructor(
    dir: string,
    private readonly fallbackMs = 250,
  ) {
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.notify());
      this.watcher.on('error', () => this.close());
    } catch {
      this.watcher = undefined; // no such dir yet, or no inotify: polling only
    }
  }

  /** Resolves at the next change in the directory (or a change since the last call), or after the fallback delay. */
  next(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, this.watcher ? this.fallbackMs : Math.min(this.fallbackMs, 50));
      this.wake = done;
    });
  }

  /** Stops watching; a pending `next()` resolves now, so no timer outlives the waiter. */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.wake?.();
  }

  private notify(): void {
    if (this.wake) this.wake();
    else this.pending = true;
  }
}
