/**
 * What the app page (app.tsx) hands each of its tabs (app-overview, app-builds,
 * app-sections): the app, its live log and a way to say it changed. Its own file, so that
 * the tabs depend on this contract and not back on the page that renders them.
 */
import type { App, LogLine } from '../api';
import type { StreamStatus } from '../hooks';

/** A line of the app's log with its stream id (`ms-seq`). */
export interface LogEntry extends LogLine {
  readonly id: string;
}

/** What every tab of an app gets. */
export interface AppView {
  readonly app: App;
  /** Bumped (throttled) on new platform lines of the app's log: a sign that something changed. */
  readonly version: number;
  readonly logs: readonly LogEntry[];
  readonly stream: StreamStatus;
  /** Something on the page changed the app: load what depends on it now. */
  changed(): void;
}
