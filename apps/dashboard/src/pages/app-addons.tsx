/**
 * The app's add-ons (#22, docs/addons.md) on its Add-ons tab: each one's state (and why it
 * crashed or failed), its node, the config var it is attached as and the other apps using it;
 * adding a PostgreSQL or a Redis, attaching an existing add-on, detaching, destroying (the name
 * typed to confirm, as Heroku's dashboard asks), and a PostgreSQL's backups with "Capture
 * backup". Restores and downloads stay in the CLI (`paas pg:backups:restore`, `:download`).
 */
import { type FormEvent, useState } from 'react';
import { type Addon, type AddonBackup, type AddonType, addonPath, appPath, get, request } from '../api';
import { Badge, ConfirmButton, DataTable, Empty, ErrorNotice, Status, TypeToConfirm } from '../components';
import { formatAgo, formatBytes } from '../format';
import { useAttempt, useNow, usePoll } from '../hooks';
import { Link } from '../nav';
import { appUrl } from '../route';
import type { AppView } from './app-view';

const TYPE_LABEL: Record<AddonType, string> = { postgres: 'PostgreSQL', redis: 'Redis' };

/** The config vars an add-on set on `app` (DATABASE_URL), as the attachments say. */
function varsOn(addon: Addon, app: string): string[] {
  return addon.attachments.filter((a) => a.app === app).map((a) => a.var);
}

/** The other apps an add-on is attached to, each once. */
function otherApps(addon: Addon, app: string): string[] {
  return [...new Set(addon.attachments.map((a) => a.app).filter((a) => a !== app))];
}

/** `as` as the api takes it: left out when empty, so the api picks DATABASE or REDIS. */
function asField(as: string): { as?: string } {
  const name = as.trim();
  return name ? { as: name } : {};
}

export function Addons({ view }: { view: AppView }) {
  const { app, version } = view;
  const addons = usePoll((s) => get<Addon[]>(appPath(app.name, '/addons'), s), 5000, [app.name, version]);
  const { busy, error, setError, attempt } = useAttempt();
  const [action, setAction] = useState('');
  const [said, setSaid] = useState('');
  const [as, setAs] = useState('');
  const [existing, setExisting] = useState('');
  const [existingAs, setExistingAs] = useState('');
  const now = useNow(5000);

  /** Every change here makes a release of the app (its config var set or unset). */
  const act = (what: string, work: () => Promise<string>): Promise<boolean> => {
    setAction(what);
    setSaid('');
    return attempt(async () => {
      setSaid(await work());
      addons.reload();
      view.changed();
    });
  };

  const create = (type: AddonType) =>
    act(`Adding ${TYPE_LABEL[type]}`, async () => {
      const made = await request<Addon>('POST', appPath(app.name, '/addons'), { body: { type, ...asField(as) } });
      setAs('');
      return `Created ${made.name} as ${varsOn(made, app.name).join(', ')}; a new release is being deployed.`;
    });

  const attach = async (event: FormEvent) => {
    event.preventDefault();
    const name = existing.trim();
    if (!name) {
      setAction('Attaching an add-on');
      setSaid('');
      setError(new Error('Enter the name of an add-on, such as postgres-amber-12345.'));
      return;
    }
    await act(`Attaching ${name}`, async () => {
      const attached = await request<Addon>('POST', addonPath(name, '/attachments'), {
        body: { app: app.name, ...asField(existingAs) },
      });
      setExisting('');
      setExistingAs('');
      return `Attached ${attached.name} as ${varsOn(attached, app.name).join(', ')}; a new release is being deployed.`;
    });
  };

  const detach = (addon: Addon) =>
    act(`Detaching ${addon.name}`, async () => {
      await request<unknown>('DELETE', appPath(app.name, `/addons/${encodeURIComponent(addon.name)}`));
      return `${addon.name} detached; a new release without ${varsOn(addon, app.name).join(', ')} is being deployed.`;
    });

  const destroy = (addon: Addon, typed: string) =>
    act(`Destroying ${addon.name}`, async () => {
      await request<unknown>('DELETE', addonPath(addon.name, `?confirm=${encodeURIComponent(typed)}`));
      return `${addon.name} is being destroyed with its data; its backups are kept.`;
    });

  const postgres = (addons.data ?? []).filter((a) => a.type === 'postgres');
  return (
    <section aria-labelledby="addons-heading">
      <h2 id="addons-heading">Add-ons</h2>
      <p className="hint">
        Databases the platform runs for the app. Each sets a config var (<code>DATABASE_URL</code>,{' '}
        <code>REDIS_URL</code>) in a new release; only the apps it is attached to can connect.
      </p>
      <ErrorNotice error={addons.error} action="Loading add-ons" />
      <ErrorNotice error={error} action={action} />
      {said ? <Status>{said}</Status> : null}
      {addons.data ? (
        <AddonTable
          addons={addons.data}
          app={app.name}
          busy={busy}
          onDetach={async (a) => {
            await detach(a);
          }}
          onDestroy={async (a, typed) => {
            await destroy(a, typed);
          }}
        />
      ) : null}
      <div className="card inline-form" role="group" aria-labelledby="add-addon-heading">
        <h3 id="add-addon-heading">Add an add-on</h3>
        <div className="field">
          <label htmlFor="addon-as">Attach as (optional)</label>
          <input
            id="addon-as"
            value={as}
            onChange={(e) => setAs(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            placeholder="DATABASE"
            aria-describedby="addon-as-hint"
          />
        </div>
        <button type="button" className="primary" disabled={busy} onClick={() => void create('postgres')}>
          Add PostgreSQL
        </button>
        <button type="button" className="primary" disabled={busy} onClick={() => void create('redis')}>
          Add Redis
        </button>
        <p className="hint" id="addon-as-hint">
          The config var is <code>AS_URL</code>: <code>DATABASE_URL</code> or <code>REDIS_URL</code> when left empty. A
          var the app already has is never overwritten.
        </p>
      </div>
      <form className="card inline-form" onSubmit={attach} noValidate aria-labelledby="attach-addon-heading">
        <h3 id="attach-addon-heading">Attach an existing add-on</h3>
        <div className="field grow">
          <label htmlFor="attach-name">Add-on</label>
          <input
            id="attach-name"
            value={existing}
            onChange={(e) => setExisting(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            placeholder="postgres-amber-12345"
          />
        </div>
        <div className="field">
          <label htmlFor="attach-as">As (optional)</label>
          <input
            id="attach-as"
            value={existingAs}
            onChange={(e) => setExistingAs(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            placeholder="DATABASE"
          />
        </div>
        <button type="submit" disabled={busy}>
          Attach
        </button>
      </form>
      {postgres.map((a) => (
        <Backups key={a.id} addon={a} app={app.name} version={version} now={now} />
      ))}
    </section>
  );
}

export function AddonTable({
  addons,
  app,
  busy,
  onDetach,
  onDestroy,
}: {
  addons: readonly Addon[];
  /** The app whose tab this is: its vars are shown, other apps are linked. */
  app: string;
  busy: boolean;
  onDetach: (addon: Addon) => Promise<void>;
  onDestroy: (addon: Addon, typed: string) => Promise<void>;
}) {
  if (addons.length === 0)
    return (
      <Empty title="No add-ons">
        <p>
          Add PostgreSQL or Redis below, or <code>paas addons:create postgres -a {app}</code>.
        </p>
      </Empty>
    );
  return (
    <DataTable
      label="Add-ons"
      className="addons"
      testId="addons"
      rows={addons}
      rowKey={(a) => a.id}
      rowData={(a) => ({ 'data-addon': a.name, 'data-addon-state': a.state })}
      columns={[
        { header: 'Name', names: true, cell: (a) => a.name },
        {
          header: 'Type',
          cell: (a) => (
            <>
              {TYPE_LABEL[a.type]} <span className="muted small">{a.size}</span>
            </>
          ),
        },
        {
          header: 'State',
          cell: (a) => (
            <>
              <Badge state={a.state} />
              {a.error ? <span className="hint"> {a.error}</span> : null}
            </>
          ),
        },
        { header: 'Node', cell: (a) => a.node ?? <span className="muted">not placed</span> },
        {
          header: 'Config var',
          cell: (a) =>
            varsOn(a, app).map((v, i) => (
              <span key={v}>
                {i > 0 ? ', ' : null}
                <code>{v}</code>
              </span>
            )),
        },
        {
          header: 'Other apps',
          cell: (a) => {
            const others = otherApps(a, app);
            if (others.length === 0) return <span className="muted">–</span>;
            return others.map((o, i) => (
              <span key={o}>
                {i > 0 ? ', ' : null}
                <Link to={appUrl(o, 'addons')}>{o}</Link>
              </span>
            ));
          },
        },
        {
          header: 'Actions',
          hidden: true,
          className: 'actions',
          cell: (a) => (
            <>
              <ConfirmButton
                label="Detach"
                question={`Detach from ${app}? ${varsOn(a, app).join(', ')} is unset; the data stays.`}
                confirmLabel="Detach"
                disabled={busy}
                onConfirm={() => onDetach(a)}
              />
              <TypeToConfirm
                label="Destroy"
                name={a.name}
                question={destroyQuestion(a, app)}
                confirmLabel="Destroy"
                disabled={busy}
                onConfirm={(typed) => onDestroy(a, typed)}
              />
            </>
          ),
        },
      ]}
    />
  );
}

/** What destroying takes away: the data, and the var of every app attached, this one's or others'. */
function destroyQuestion(addon: Addon, app: string): string {
  const others = otherApps(addon, app);
  const from = others.length ? `, detaching it from ${app} and ${others.join(', ')}` : '';
  return `Destroy ${addon.name} and its data${from}? This cannot be undone; its backups are kept.`;
}

/** A PostgreSQL add-on's backups (`pg:backups`), newest first, and "Capture backup". */
function Backups({ addon, app, version, now }: { addon: Addon; app: string; version: number; now: number }) {
  const backups = usePoll((s) => get<AddonBackup[]>(addonPath(addon.name, '/backups'), s), 5000, [addon.name, version]);
  const { busy, error, attempt } = useAttempt();
  const [said, setSaid] = useState('');
  const headingId = `backups-${addon.id}`;

  const capture = () => {
    setSaid('');
    return attempt(async () => {
      const made = await request<AddonBackup>('POST', addonPath(addon.name, '/backups'));
      setSaid(`${made.name} is being captured.`);
      backups.reload();
    });
  };

  return (
    <section aria-labelledby={headingId} data-backups={addon.name}>
      <h3 id={headingId}>Backups of {addon.name}</h3>
      <ErrorNotice error={backups.error} action="Loading backups" />
      <ErrorNotice error={error} action="Capturing a backup" />
      {said ? <Status>{said}</Status> : null}
      {backups.data ? <BackupTable backups={backups.data} addon={addon.name} app={app} now={now} /> : null}
      <p>
        <button type="button" disabled={busy} onClick={() => void capture()}>
          Capture backup
        </button>
      </p>
    </section>
  );
}

export function BackupTable({
  backups,
  addon,
  app,
  now,
}: {
  /** Oldest first, as the api lists them. */
  backups: readonly AddonBackup[];
  addon: string;
  app: string;
  now: number;
}) {
  if (backups.length === 0)
    return (
      <Empty title="No backups yet">
        <p>
          <code>
            paas pg:backups:schedule {addon} --at HOUR -a {app}
          </code>{' '}
          captures one every day.
        </p>
      </Empty>
    );
  return (
    <>
      <DataTable
        label={`Backups of ${addon}`}
        rows={[...backups].reverse()}
        rowKey={(b) => b.id}
        rowData={(b) => ({ 'data-backup': b.name, 'data-backup-state': b.state })}
        columns={[
          { header: 'Backup', names: true, cell: (b) => b.name },
          {
            header: 'State',
            cell: (b) => (
              <>
                <Badge state={b.state} />
                {b.error ? <span className="hint"> {b.error}</span> : null}
              </>
            ),
          },
          { header: 'Size', className: 'num', cell: (b) => formatBytes(b.size) },
          {
            header: 'Taken',
            cell: (b) => (
              <time dateTime={b.createdAt} title={b.createdAt}>
                {formatAgo(b.createdAt, now)}
              </time>
            ),
          },
          { header: 'Trigger', className: 'muted', cell: (b) => b.trigger },
        ]}
      />
      <p className="hint">
        <code>
          paas pg:backups:restore b001 -a {app} --confirm {app}
        </code>{' '}
        restores one; <code>paas pg:backups:download b001 -a {app}</code> fetches its dump.
      </p>
    </>
  );
}
