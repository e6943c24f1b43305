import { type FormEvent, useState } from 'react';
import { type App, type Instance, appPath, get, request } from '../api';
import { Badge, DataTable, Empty, ErrorNotice } from '../components';
import { useAttempt, usePoll, useTitle } from '../hooks';
import { Link, useNav } from '../nav';
import { appUrl } from '../route';
import { type AppSummary, summarize } from '../summary';

const APP_NAME = /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

async function loadApps(signal: AbortSignal): Promise<AppSummary[]> {
  const apps = await get<App[]>('/api/apps', signal);
  return Promise.all(
    apps.map(async (app) => summarize(app, await get<Instance[]>(appPath(app.name, '/instances'), signal))),
  );
}

export function AppsPage() {
  useTitle('Apps');
  const apps = usePoll(loadApps, 3000, []);
  return (
    <>
      <h1 tabIndex={-1}>Apps</h1>
      <CreateApp />
      <section aria-labelledby="apps-heading">
        <h2 id="apps-heading">Your apps</h2>
        <ErrorNotice error={apps.error} action="Loading apps" />
        {!apps.loaded ? <p className="muted">Loading…</p> : null}
        {apps.data && apps.data.length === 0 ? (
          <Empty title="No apps yet">
            <p>
              Create one above, or from a terminal with <code>paas apps:create NAME</code>, then deploy it with{' '}
              <code>git push paas main</code>.
            </p>
          </Empty>
        ) : null}
        {apps.data && apps.data.length > 0 ? (
          <DataTable
            rows={apps.data}
            rowKey={({ app }) => app.id}
            rowData={({ app }) => ({ 'data-app': app.name })}
            columns={[
              { header: 'Name', names: true, cell: ({ app }) => <Link to={appUrl(app.name)}>{app.name}</Link> },
              {
                header: 'State',
                cell: ({ app, state }) => (
                  <>
                    <Badge state={state} />
                    {app.maintenance ? (
                      <>
                        {' '}
                        <Badge state="maintenance" />
                      </>
                    ) : null}
                  </>
                ),
              },
              {
                header: 'Release',
                cell: ({ app }) => (app.release ? `v${app.release.version}` : <span className="muted">none</span>),
              },
              {
                header: 'Instances',
                className: 'num',
                data: ({ up, total }) => ({ 'data-instances': `${up}/${total}` }),
                cell: ({ up, total }) => `${up}/${total} up`,
              },
              {
                header: 'URL',
                cell: ({ app }) => (
                  <a href={app.webUrl} target="_blank" rel="noreferrer">
                    {app.webUrl.replace(/^https?:\/\//, '')}
                  </a>
                ),
              },
            ]}
          />
        ) : null}
      </section>
    </>
  );
}

function CreateApp() {
  const { navigate } = useNav();
  const [name, setName] = useState('');
  const { busy, error, setError, attempt } = useAttempt();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = name.trim();
    if (!APP_NAME.test(value)) {
      setError(
        new Error(
          'An app name is 2 to 63 lower-case letters, digits and dashes, starting with a letter and not ending in a dash.',
        ),
      );
      return;
    }
    await attempt(async () => {
      const app = await request<App>('POST', '/api/apps', { body: { name: value } });
      navigate(appUrl(app.name));
    });
  };
  return (
    <section aria-labelledby="create-heading" className="card">
      <h2 id="create-heading">Create an app</h2>
      <form className="inline-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="new-app">App name</label>
          <input
            id="new-app"
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            placeholder="my-app"
            aria-describedby="new-app-help"
            aria-invalid={error ? true : undefined}
          />
        </div>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create app'}
        </button>
      </form>
      <p id="new-app-help" className="hint">
        Lower-case letters, digits and dashes, starting with a letter: the name is part of the app&apos;s URL.
      </p>
      <ErrorNotice error={error} action="Creating the app" />
    </section>
  );
}
