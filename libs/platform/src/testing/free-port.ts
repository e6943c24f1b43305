/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a test server that must be told
 * its port (PostgreSQL, redis-server's TLS listener). Another process may take it meanwhile;
 * the server then fails to start and says so.
 */
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
