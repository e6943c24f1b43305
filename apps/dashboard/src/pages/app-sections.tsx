import { type FormEvent, useEffect, useRef, useState } from 'react';
import { type Domain, type Release, appPath, get, request } from '../api';
import { ConfirmButton, DataTable, Empty, ErrorNotice, ReleaseState, Status, Table } from '../components';
import { formatAgo } from '../format';
import { useAttempt, useNow, usePoll } from '../hooks';
import type { AppView } from './app-view';

/** What a rollback may bring back: a release that passed its release command (libs/platform canRollBackTo). */
const ROLLBACK_FROM: readonly Release['status'][] = ['deploying', 'live', 'superseded'];

export function Releases({ view }: { view: AppView }) {
  const { app, version } = view;
  const releases = usePoll((s) => get<Release[]>(appPath(app.name, '/releases'), s), 5000, [app.name, version]);
  const [error, setError] = useState<unknown>();
  const [said, setSaid] = useState('');
  const now = useNow(5000);

  const rollback = async (target: Release) => {
    setError(undefined);
    try {
      const made = await request<Release>('POST', appPath(app.name, '/releases'), {
        body: { release: target.version },
      });
      setSaid(`Rolled back to v${target.version}: v${made.version} is being deployed.`);
      releases.reload();
      view.changed();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="releases-heading">
      <h2 id="releases-heading">Releases</h2>
      <ErrorNotice error={releases.error} action="Loading releases" />
      <ErrorNotice error={error} action="Rolling back" />
      {said ? <Status>{said}</Status> : null}
      {releases.data && releases.data.length === 0 ? (
        <Empty title="No releases yet">
          <p>A successful build makes the first one; config var changes and rollbacks make more.</p>
        </Empty>
      ) : null}
      {releases.data && releases.data.length > 0 ? (
        <DataTable
          rows={releases.data}
          rowKey={(r) => r.id}
          rowData={(r) => ({ 'data-release': r.version })}
          columns={[
            { header: 'Version', names: true, cell: (r) => `v${r.version}` },
            { header: 'Description', cell: (r) => r.description },
            {
              header: 'Status',
              cell: (r) => <ReleaseState release={r} />,
            },
            { header: 'By', cell: (r) => r.createdBy ?? <span className="muted">–</span> },
            { header: 'When', cell: (r) => formatAgo(r.createdAt, now) },
            {
              header: 'Actions',
              hidden: true,
              cell: (r) =>
                !r.current && r.imageRef && ROLLBACK_FROM.includes(r.status) ? (
                  <ConfirmButton
                    label={`Roll back to v${r.version}`}
                    question={`Make a new release with v${r.version}'s image and config?`}
                    confirmLabel="Roll back"
                    onConfirm={() => rollback(r)}
                  />
                ) : null,
            },
          ]}
        />
      ) : null}
    </section>
  );
}

const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CONFIG_COLUMNS = [{ header: 'Key' }, { header: 'Value' }, { header: 'Actions', hidden: true }];

export function ConfigVars({ view }: { view: AppView }) {
  const { app, version } = view;
  const vars = usePoll((s) => get<Record<string, string>>(appPath(app.name, '/config-vars'), s), 10_000, [
    app.name,
    version,
  ]);
  const { busy, error, setError, attempt } = useAttempt();
  const [said, setSaid] = useState('');
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');

  const patch = (changes: Record<string, string | null>, done: string): Promise<boolean> =>
    attempt(async () => {
      vars.mutate(await request<Record<string, string>>('PATCH', appPath(app.name, '/config-vars'), { body: changes }));
      setSaid(done);
      view.changed();
    });

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const k = key.trim();
    if (!CONFIG_KEY.test(k)) {
      setError(new Error('A config key is letters, digits and underscores, not starting with a digit.'));
      return;
    }
    if (await patch({ [k]: value }, `${k} set; a new release is being deployed.`)) {
      setKey('');
      setValue('');
    }
  };

  const entries = Object.entries(vars.data ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <section aria-labelledby="config-heading">
      <h2 id="config-heading">Config vars</h2>
      <p className="hint">Every change makes a new release: the app restarts with the new environment.</p>
      <ErrorNotice error={vars.error} action="Loading config vars" />
      <ErrorNotice error={error} action="Changing config vars" />
      {said ? <Status>{said}</Status> : null}
      {vars.data && entries.length === 0 ? <Empty title="No config vars" /> : null}
      {entries.length > 0 ? (
        <Table className="config" columns={CONFIG_COLUMNS}>
          {entries.map(([k, v]) => (
            <ConfigRow
              key={k}
              name={k}
              value={v}
              busy={busy}
              onSave={(next) => patch({ [k]: next }, `${k} updated; a new release is being deployed.`)}
              onRemove={() => patch({ [k]: null }, `${k} removed; a new release is being deployed.`)}
            />
          ))}
        </Table>
      ) : null}
      <form className="card inline-form" onSubmit={add} noValidate aria-labelledby="add-var-heading">
        <h3 id="add-var-heading">Add a config var</h3>
        <div className="field">
          <label htmlFor="var-key">Key</label>
          <input
            id="var-key"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            placeholder="DATABASE_URL"
          />
        </div>
        <div className="field grow">
          <label htmlFor="var-value">Value</label>
          <input
            id="var-value"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            autoComplete="off"
            spellCheck={false}
          />
        </div>
        <button type="submit" className="primary" disabled={busy}>
          Add
        </button>
      </form>
    </section>
  );
}

function ConfigRow({
  name,
  value,
  busy,
  onSave,
  onRemove,
}: {
  name: string;
  value: string;
  busy: boolean;
  onSave: (value: string) => Promise<boolean>;
  onRemove: () => Promise<boolean>;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const id = `var-${name}`;
  const dirty = draft !== null && draft !== value;
  return (
    <tr data-var={name}>
      <th scope="row">
        <code>{name}</code>
      </th>
      <td>
        <form
          id={`${id}-form`}
          onSubmit={async (e) => {
            e.preventDefault();
            if (dirty && (await onSave(draft))) setDraft(null);
          }}
        >
          <label htmlFor={id} className="visually-hidden">
            Value of {name}
          </label>
          <input
            id={id}
            className="value"
            value={draft ?? value}
            onChange={(e) => setDraft(e.target.value)}
            autoComplete="off"
            spellCheck={false}
          />
        </form>
      </td>
      <td className="actions">
        <button type="submit" form={`${id}-form`} className="primary" disabled={!dirty || busy}>
          Save
        </button>
        {dirty ? (
          <button type="button" onClick={() => setDraft(null)}>
            Cancel
          </button>
        ) : null}
        <ConfirmButton
          label="Remove"
          question={`Remove ${name}?`}
          confirmLabel="Remove"
          danger
          disabled={busy}
          onConfirm={async () => {
            await onRemove();
          }}
        />
      </td>
    </tr>
  );
}

export function Domains({ view }: { view: AppView }) {
  const { app, version } = view;
  const domains = usePoll((s) => get<Domain[]>(appPath(app.name, '/domains'), s), 10_000, [app.name, version]);
  const [hostname, setHostname] = useState('');
  const { busy, error, setError, attempt } = useAttempt();
  const [said, setSaid] = useState('');

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const h = hostname.trim().toLowerCase();
    if (!h) {
      setError(new Error('Enter a host name, such as www.example.com.'));
      return;
    }
    await attempt(async () => {
      await request<Domain>('POST', appPath(app.name, '/domains'), { body: { hostname: h } });
      setHostname('');
      setSaid(`${h} added.`);
      domains.reload();
    });
  };

  const remove = async (d: Domain) => {
    setError(undefined);
    try {
      await request<Domain>('DELETE', appPath(app.name, `/domains/${encodeURIComponent(d.hostname)}`));
      setSaid(`${d.hostname} removed.`);
      domains.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="domains-heading">
      <h2 id="domains-heading">Domains</h2>
      <p className="hint">
        The app always answers at <a href={app.webUrl}>{app.webUrl.replace(/^https?:\/\//, '')}</a>. Custom domains
        answer once their DNS points at the router.
      </p>
      <ErrorNotice error={domains.error} action="Loading domains" />
      <ErrorNotice error={error} action="Changing domains" />
      {said ? <Status>{said}</Status> : null}
      {domains.data && domains.data.length === 0 ? <Empty title="No custom domains" /> : null}
      {domains.data && domains.data.length > 0 ? (
        <ul className="plain-list">
          {domains.data.map((d) => (
            <li key={d.id}>
              <code>{d.hostname}</code>
              <ConfirmButton
                label="Remove"
                question={`Remove ${d.hostname}?`}
                confirmLabel="Remove"
                danger
                onConfirm={() => remove(d)}
              />
            </li>
          ))}
        </ul>
      ) : null}
      <form className="card inline-form" onSubmit={add} noValidate aria-labelledby="add-domain-heading">
        <h3 id="add-domain-heading">Add a domain</h3>
        <div className="field grow">
          <label htmlFor="hostname">Host name</label>
          <input
            id="hostname"
            value={hostname}
            onChange={(e) => setHostname(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            placeholder="www.example.com"
          />
        </div>
        <button type="submit" className="primary" disabled={busy}>
          Add domain
        </button>
      </form>
    </section>
  );
}

export function Logs({ view }: { view: AppView }) {
  const box = useRef<HTMLDivElement>(null);
  const atEnd = useRef(true);
  useEffect(() => {
    const el = box.current;
    if (el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [view.logs]);
  return (
    <section aria-labelledby="logs-heading">
      <h2 id="logs-heading">
        Logs{' '}
        {view.stream === 'open' ? (
          <span className="live">live</span>
        ) : (
          <span className="muted small">({view.stream})</span>
        )}
      </h2>
      <p className="hint">
        Platform events (builds, releases, the scheduler) and the output of the app&apos;s instances.
      </p>
      {view.logs.length === 0 ? (
        <Empty title="Nothing logged yet" />
      ) : (
        <div
          ref={box}
          className="log"
          role="log"
          aria-label={`Log of ${view.app.name}`}
          tabIndex={0}
          data-testid="app-log"
          onScroll={(e) => {
            const el = e.currentTarget;
            atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
          }}
        >
          {view.logs.map((l) => (
            <div key={l.id} className="log-line">
              <time dateTime={l.t}>{l.t.slice(11, 19)}</time> <span className="source">{l.source}</span>{' '}
              <span>{l.line}</span>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
