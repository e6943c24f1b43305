import { type FormEvent, useState } from 'react';
import { type App, request } from '../api';
import { ErrorNotice } from '../components';
import { useAttempt, useTitle } from '../hooks';

/** Sign in with an API token, checked against `GET /api/apps` before it is stored. */
export function LoginPage({ notice, onSignedIn }: { notice: string | null; onSignedIn: (token: string) => void }) {
  useTitle('Sign in');
  const [token, setToken] = useState('');
  const { busy, error, setError, attempt } = useAttempt();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = token.trim();
    if (!value) {
      setError(new Error('Enter an API token.'));
      return;
    }
    await attempt(async () => {
      await request<App[]>('GET', '/api/apps', { token: value });
      onSignedIn(value);
    });
  };

  return (
    <div className="login">
      <h1 tabIndex={-1}>Sign in to paas</h1>
      {notice ? (
        <p className="notice info" role="status">
          {notice}
        </p>
      ) : null}
      <form onSubmit={submit} noValidate>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-describedby="token-help"
          aria-invalid={error ? true : undefined}
        />
        <p id="token-help" className="hint">
          A token starts with <code>paas_</code>. The platform prints an admin token on its first start and keeps it in{' '}
          <code>$PAAS_ROOT/platform/admin.token</code>; <code>paas tokens:create NAME</code> makes more.
        </p>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
      <ErrorNotice error={error} action="Sign in" />
    </div>
  );
}
