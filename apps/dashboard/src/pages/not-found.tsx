import { useTitle } from '../hooks';
import { Link } from '../nav';

export function NotFound({ path }: { path: string }) {
  useTitle('Not found');
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is no page at <code>{path}</code>. <Link to="/">See all apps</Link>.
      </p>
    </>
  );
}
