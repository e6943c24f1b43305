import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react';
import { PlatformApiError, notifyUnauthorized } from './api';
import { type SseMessage, readEventStream } from './sse';

export interface Polled<T> {
  readonly data: T | undefined;
  /** The last load's error; the data of the last good load stays. */
  readonly error: unknown;
  readonly loaded: boolean;
  reload(): void;
  /** Shows data the page already has (an answer to a change) until the next load. */
  mutate(data: T): void;
}

/**
 * Loads now and again every `intervalMs` (one load at a time; none while the tab is
 * hidden; at once when it shows again), and again whenever `deps` change.
 */
export function usePoll<T>(
  load: (signal: AbortSignal) => Promise<T>,
  intervalMs: number,
  deps: DependencyList,
): Polled<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loaded: boolean }>({ loaded: false });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    let running = false;
    const run = async () => {
      window.clearTimeout(timer);
      if (running || controller.signal.aborted) return;
      if (document.visibilityState === 'hidden') {
        timer = window.setTimeout(run, intervalMs);
        return;
      }
      running = true;
      try {
        const data = await loadRef.current(controller.signal);
        if (!controller.signal.aborted) setState({ data, error: undefined, loaded: true });
      } catch (error) {
        if (!controller.signal.aborted) setState((s) => ({ ...s, error, loaded: true }));
      } finally {
        running = false;
      }
      if (!controller.signal.aborted && intervalMs > 0) timer = window.setTimeout(run, intervalMs);
    };
    const onVisible = () => {
      if (document.visibilityState === 'visible') void run();
    };
    document.addEventListener('visibilitychange', onVisible);
    void run();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
    // the caller's deps decide when to load again
  }, [...deps, tick, intervalMs]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const mutate = useCallback((data: T) => setState({ data, error: undefined, loaded: true }), []);
  return { data: state.data, error: state.error, loaded: state.loaded, reload, mutate };
}

export type StreamStatus = 'connecting' | 'open' | 'ended' | 'retrying' | 'failed';

/**
 * Follows an event stream (fetch + reader, with the token). `reconnect` streams (an app's
 * log) reconnect after an end or a failure, backing off to 10 s; others stop at their end.
 * Errors that a retry cannot fix (401, 403, 404) stop it.
 */
export function useEventStream(
  url: string | null,
  onMessage: (message: SseMessage) => void,
  options: { reconnect: boolean },
): { status: StreamStatus; error: unknown } {
  const [state, setState] = useState<{ status: StreamStatus; error: unknown }>({
    status: 'connecting',
    error: undefined,
  });
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const { reconnect } = options;
  useEffect(() => {
    if (url === null) return;
    const controller = new AbortController();
    setState({ status: 'connecting', error: undefined });
    void (async () => {
      let delay = 1000;
      while (!controller.signal.aborted) {
        try {
          await readEventStream(url, {
            signal: controller.signal,
            onOpen: () => {
              delay = 1000;
              setState({ status: 'open', error: undefined });
            },
            onMessage: (m) => handler.current(m),
          });
          if (controller.signal.aborted) return;
          if (!reconnect) {
            setState({ status: 'ended', error: undefined });
            return;
          }
        } catch (error) {
          if (controller.signal.aborted) return;
          if (error instanceof PlatformApiError && [401, 403, 404].includes(error.status)) {
            if (error.status === 401) notifyUnauthorized(error);
            setState({ status: 'failed', error });
            return;
          }
          setState({ status: 'retrying', error });
        }
        await new Promise((r) => window.setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    })();
    return () => controller.abort();
  }, [url, reconnect]);
  return state;
}

/** The time, updated every `ms` (for ages and uptimes). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(timer);
  }, [ms]);
  return now;
}

/** Sets the document title while a page shows. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · paas` : 'paas';
  }, [title]);
}

export interface Attempt {
  /** While an action runs: its controls disable themselves. */
  readonly busy: boolean;
  /** What the last action (or a check before it) ended with, until the next one starts. */
  readonly error: unknown;
  setError(error: unknown): void;
  /** Runs `work` as the user's action: busy meanwhile, its error kept; whether it succeeded. */
  attempt(work: () => Promise<void>): Promise<boolean>;
}

/** A user's action in flight (a form's submit, a button's change): busy while it runs, then its error. */
export function useAttempt(): Attempt {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const attempt = useCallback(async (work: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, attempt };
}
