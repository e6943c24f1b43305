import { type ReactNode, useId, useState } from 'react';
import { PlatformApiError } from './api';

/** An api error as the user should read it: its message, and its code for a bug report. */
export function ErrorNotice({ error, action }: { error: unknown; action?: string }) {
  if (error === undefined || error === null) return null;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof PlatformApiError ? error.code : null;
  const details = error instanceof PlatformApiError ? error.details : [];
  return (
    <div className="notice error" role="alert">
      <p>
        <strong>{action ? `${action} failed: ` : 'Error: '}</strong>
        {message}
        {code && code !== 'unavailable' ? <span className="code"> ({code})</span> : null}
      </p>
      {details.length > 1 ? (
        <ul>
          {details.map((d) => (
            <li key={`${d.field}:${d.message}`}>{d.message}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** A short confirmation or progress line, read out politely. */
export function Status({ children }: { children: ReactNode }) {
  return (
    <p className="status-line" role="status">
      {children}
    </p>
  );
}

const TONES: Record<string, string> = {
  up: 'good',
  succeeded: 'good',
  current: 'good',
  live: 'good',
  starting: 'busy',
  creating: 'busy',
  running: 'busy',
  destroying: 'busy',
  building: 'busy',
  pending: 'busy',
  deploying: 'busy',
  waiting: 'busy',
  draining: 'busy',
  crashed: 'bad',
  failed: 'bad',
  down: 'bad',
  maintenance: 'bad',
  stopping: 'quiet',
  idle: 'quiet',
  'not deployed': 'quiet',
};

export function Badge({ state, label }: { state: string; label?: string }) {
  return <span className={`badge ${TONES[state] ?? 'quiet'}`}>{label ?? state}</span>;
}

/**
 * A release's state as the release list shows it: its status, `current` when it is, and why a
 * deploy waits (`waiting`: no node has room), so a rollback or a push waiting for capacity says so.
 */
export function ReleaseState({ release }: { release: { status: string; current: boolean; waiting?: string | null } }) {
  return (
    <>
      <Badge state={release.status} /> {release.current ? <Badge state="current" /> : null}
      {release.waiting ? (
        <>
          {' '}
          <Badge state="waiting" /> <span className="hint">{release.waiting}</span>
        </>
      ) : null}
    </>
  );
}

/** A column's heading. */
export interface Header {
  readonly header: string;
  /** Read out by screen readers but not shown (a column of buttons). */
  readonly hidden?: boolean;
}

/** `data-*` attributes, for tests and styles to find a row or a cell by what it shows. */
export type DataAttributes = Readonly<Record<`data-${string}`, string | number>>;

/** A column of a {@link DataTable}: its heading and what each row shows in it. */
export interface Column<T> extends Header {
  /** This column's cell names the row: a `<th scope="row">`, as screen readers expect. */
  readonly names?: boolean;
  readonly className?: string;
  readonly cell: (row: T) => ReactNode;
  readonly data?: (row: T) => DataAttributes;
}

interface TableProps {
  /** The table's accessible name, where no heading names it. */
  readonly label?: string;
  readonly className?: string;
  readonly testId?: string;
}

/**
 * Every table of the dashboard: scrolls sideways inside its wrapper on narrow screens, and
 * heads each column with a `<th scope="col">`. The rows are the children: {@link DataTable}
 * makes them from columns; a table whose rows keep state of their own (config vars being
 * edited) renders its `<tr>`s itself.
 */
export function Table({
  columns,
  label,
  className,
  testId,
  children,
}: TableProps & { readonly columns: readonly Header[]; readonly children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table aria-label={label} className={className} data-testid={testId}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col">
                {c.hidden ? <span className="visually-hidden">{c.header}</span> : c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A {@link Table} with one row per item, its cells as the columns say. */
export function DataTable<T>({
  rows,
  columns,
  rowKey,
  rowData,
  ...table
}: TableProps & {
  readonly rows: readonly T[];
  readonly columns: readonly Column<T>[];
  readonly rowKey: (row: T) => string;
  readonly rowData?: (row: T) => DataAttributes;
}) {
  return (
    <Table columns={columns} {...table}>
      {rows.map((row) => (
        <tr key={rowKey(row)} {...rowData?.(row)}>
          {columns.map((c) => {
            const Cell = c.names ? 'th' : 'td';
            return (
              <Cell key={c.header} scope={c.names ? 'row' : undefined} className={c.className} {...c.data?.(row)}>
                {c.cell(row)}
              </Cell>
            );
          })}
        </tr>
      ))}
    </Table>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

/**
 * A button that asks before it acts: the first press shows the question with Confirm and
 * Cancel (focus on Confirm), so the keyboard path is the same as the mouse's.
 */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  onConfirm,
  danger,
  disabled,
}: {
  label: string;
  question: string;
  confirmLabel: string;
  onConfirm: () => Promise<void> | void;
  danger?: boolean;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button
        type="button"
        className={danger ? 'danger-outline' : ''}
        disabled={disabled}
        onClick={() => setAsking(true)}
      >
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span className="confirm-question">{question}</span>
      <button
        type="button"
        className={danger ? 'danger' : 'primary'}
        disabled={busy}
        // the question replaced the button that had focus: keep the keyboard on it
        autoFocus
        onClick={async () => {
          setBusy(true);
          try {
            await onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" onClick={() => setAsking(false)} disabled={busy}>
        Cancel
      </button>
    </span>
  );
}

/**
 * A button for what cannot be undone (destroying an add-on and its data): the first press asks
 * for the name to be typed, as Heroku's dashboard does, and the final button stays disabled until
 * it matches. `onConfirm` gets what was typed, for the api to check again.
 */
export function TypeToConfirm({
  label,
  name,
  question,
  confirmLabel,
  onConfirm,
  disabled,
}: {
  label: string;
  /** What must be typed. */
  name: string;
  question: string;
  confirmLabel: string;
  onConfirm: (typed: string) => Promise<void> | void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const id = useId();
  const stop = () => {
    setAsking(false);
    setTyped('');
  };
  if (!asking) {
    return (
      <button type="button" className="danger-outline" disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <form
      className="confirm"
      aria-label={question}
      onSubmit={async (event) => {
        event.preventDefault();
        if (typed !== name) return;
        setBusy(true);
        try {
          await onConfirm(typed);
        } finally {
          setBusy(false);
          stop();
        }
      }}
    >
      <label htmlFor={id} className="confirm-question">
        {question} Type <code>{name}</code> to confirm:
      </label>
      <input
        id={id}
        value={typed}
        onChange={(e) => setTyped(e.target.value)}
        // the question replaced the button that had focus: keep the keyboard on it
        autoFocus
        autoComplete="off"
        spellCheck={false}
      />
      <button type="submit" className="danger" disabled={busy || typed !== name}>
        {confirmLabel}
      </button>
      <button type="button" onClick={stop} disabled={busy}>
        Cancel
      </button>
    </form>
  );
}

export interface Series {
  readonly name: string;
  readonly points: readonly { t: number; v: number }[];
  /** A CSS class for the line's colour. */
  readonly tone: 'blue' | 'green' | 'gray';
  readonly dashed?: boolean;
  /** Steps (counts) rather than slopes (rates). */
  readonly step?: boolean;
}

/** A round number at or above `v` for the top of an axis. */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const W = 480;
const H = 150;
const PAD = { left: 40, right: 10, top: 10, bottom: 22 };

/**
 * A small line chart in SVG over the last `windowMs`: what the numbers did, without a chart
 * library. Screen readers get the summary (`summary`) as the image's description.
 */
export function LineChart({
  title,
  series,
  windowMs,
  now,
  format,
  summary,
  integer,
}: {
  title: string;
  series: readonly Series[];
  windowMs: number;
  now: number;
  format: (v: number) => string;
  summary: string;
  integer?: boolean;
}) {
  const id = useId();
  const highest = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v)));
  // counts get an even top, so that the middle line is a whole number too
  const top = integer ? Math.max(2, Math.ceil(highest / 2) * 2) : niceMax(highest);
  const x = (t: number) => PAD.left + ((t - (now - windowMs)) / windowMs) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const path = (s: Series) => {
    const pts = s.points.filter((p) => p.t >= now - windowMs - 60_000);
    if (pts.length === 0) return '';
    let d = '';
    pts.forEach((p, i) => {
      const px = Math.max(PAD.left, x(p.t)).toFixed(1);
      const py = y(p.v).toFixed(1);
      if (i === 0) d += `M${px},${py}`;
      else if (s.step) d += `H${px}V${py}`;
      else d += `L${px},${py}`;
    });
    if (pts.length === 1 || s.step) d += `H${x(now).toFixed(1)}`;
    return d;
  };
  const minutes = Math.round(windowMs / 60_000);
  return (
    <figure className="chart">
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-title ${id}-desc`}>
        <desc id={`${id}-desc`}>{summary}</desc>
        {[0, 0.5, 1].map((f) => (
          <g key={f} className="grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(top * f)} y2={y(top * f)} />
            <text x={PAD.left - 6} y={y(top * f) + 4} textAnchor="end">
              {format(top * f)}
            </text>
          </g>
        ))}
        <g className="axis">
          <text x={PAD.left} y={H - 5}>
            −{minutes} min
          </text>
          <text x={W - PAD.right} y={H - 5} textAnchor="end">
            now
          </text>
        </g>
        {series.map((s) => (
          <path key={s.name} d={path(s)} className={`line ${s.tone}${s.dashed ? ' dashed' : ''}`} />
        ))}
      </svg>
      {series.length > 1 ? (
        <ul className="legend">
          {series.map((s) => (
            <li key={s.name}>
              <span className={`swatch ${s.tone}${s.dashed ? ' dashed' : ''}`} aria-hidden="true" />
              {s.name}
            </li>
          ))}
        </ul>
      ) : null}
    </figure>
  );
}

export interface MemoryBar {
  readonly name: string;
  /** MiB. */
  readonly capacity: number;
  /** MiB the instances' limits add up to (what placement has promised). */
  readonly reserved: number;
  readonly usedBytes: number;
}

/** Memory per node: what instances' limits promise and what they use, against what the node may promise. */
export function MemoryBars({ nodes, format }: { nodes: readonly MemoryBar[]; format: (mib: number) => string }) {
  const id = useId();
  const rowH = 34;
  const left = 140;
  const width = 720;
  const height = nodes.length * rowH + 6;
  const scale = Math.max(1, ...nodes.map((n) => Math.max(n.capacity, n.reserved, n.usedBytes / 1048576)));
  const w = (mib: number) => Math.max(0, (mib / scale) * (width - left - 10));
  const summary = nodes
    .map(
      (n) =>
        `${n.name}: ${format(n.reserved)} promised, ${format(n.usedBytes / 1048576)} used, of ${format(n.capacity)}`,
    )
    .join('; ');
  return (
    <figure className="chart">
      <figcaption id={`${id}-title`}>Memory per node</figcaption>
      <svg
        className="natural"
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        role="img"
        aria-labelledby={`${id}-title ${id}-desc`}
      >
        <desc id={`${id}-desc`}>{summary}</desc>
        {nodes.map((n, i) => (
          <g key={n.name} transform={`translate(0 ${i * rowH + 4})`}>
            <text x={left - 8} y={17} textAnchor="end" className="bar-label">
              {n.name}
            </text>
            <rect x={left} y={4} width={w(n.capacity)} height={18} className="bar capacity" />
            <rect x={left} y={4} width={w(Math.min(n.reserved, scale))} height={18} className="bar reserved" />
            <rect x={left} y={9} width={w(n.usedBytes / 1048576)} height={8} className="bar used" />
          </g>
        ))}
      </svg>
      <ul className="legend">
        <li>
          <span className="swatch capacity" aria-hidden="true" />
          capacity
        </li>
        <li>
          <span className="swatch reserved" aria-hidden="true" />
          reserved by instances
        </li>
        <li>
          <span className="swatch used" aria-hidden="true" />
          used
        </li>
      </ul>
    </figure>
  );
}
