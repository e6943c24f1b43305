import { useEffect, useRef, useState } from 'react';
import { onUnauthorized, storeToken, storedToken } from './api';
import { Link, useNav } from './nav';
import { AppPage } from './pages/app';
import { AppsPage } from './pages/apps';
import { LoginPage } from './pages/login';
import { NodesPage } from './pages/nodes';
import { NotFound } from './pages/not-found';
import { parseRoute } from './route';

/** The page frame: sign-in gate, header with the main navigation, the page for the URL. */
export function Shell() {
  const { path, navigate } = useNav();
  const [token, setToken] = useState(storedToken);
  const [signedOut, setSignedOut] = useState<string | null>(null);
  const route = parseRoute(path);

  useEffect(
    () =>
      onUnauthorized((error) => {
        storeToken(null);
        setToken(null);
        setSignedOut(`The api refused the stored token (${error.message}). Sign in again.`);
      }),
    [],
  );

  // Without a token every page is the sign-in page, which comes back here afterwards.
  useEffect(() => {
    if (!token && route.page !== 'login') {
      const next = path === '/' ? '' : `?next=${encodeURIComponent(path)}`;
      navigate(`/login${next}`, { replace: true });
    } else if (token && route.page === 'login') {
      navigate('/', { replace: true });
    }
  }, [token, route.page, path, navigate]);

  // After a navigation, focus goes to the new page's heading (screen readers announce it).
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [path]);

  if (!token) {
    return (
      <main id="main" className="login-main">
        <LoginPage
          notice={signedOut}
          onSignedIn={(t) => {
            storeToken(t);
            setToken(t);
            setSignedOut(null);
            const next = new URLSearchParams(window.location.search).get('next');
            navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
          }}
        />
      </main>
    );
  }

  const section = route.page === 'nodes' ? 'nodes' : 'apps';
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <nav aria-label="Main">
          <Link to="/" className="brand">
            paas
          </Link>
          <Link to="/" aria-current={section === 'apps' ? 'page' : undefined}>
            Apps
          </Link>
          <Link to="/nodes" aria-current={section === 'nodes' ? 'page' : undefined}>
            Nodes
          </Link>
          <a href="/api/docs">API docs</a>
        </nav>
        <button
          type="button"
          className="on-dark"
          onClick={() => {
            storeToken(null);
            setToken(null);
            setSignedOut('Signed out.');
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'apps' ? <AppsPage /> : null}
        {route.page === 'nodes' ? <NodesPage /> : null}
        {route.page === 'app' ? <AppPage key={route.app} name={route.app} tab={route.tab} build={route.build} /> : null}
        {route.page === 'not-found' ? <NotFound path={route.path} /> : null}
      </main>
    </>
  );
}
