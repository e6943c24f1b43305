/**
 * Whether a host port is free, by binding it for a moment. DNAT rules hold no socket, so a
 * host process could listen on a port we publish and silently lose its traffic; Docker's
 * userland proxy refuses such a port by failing to bind, and so do we.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { PortProbe } from './ipam';

function outcome(err: NodeJS.ErrnoException | undefined): 'free' | 'busy' | { error: string } {
  if (!err) return 'free';
  if (err.code === 'EADDRINUSE' || err.code === 'EACCES') return 'busy';
  return { error: err.message };
}

export const probePort: PortProbe = (binding) =>
  new Promise((resolve) => {
    if (binding.protocol === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', (err) => {
        socket.close();
        resolve(outcome(err));
      });
      socket.bind(binding.hostPort, binding.hostIp, () => socket.close(() => resolve('free')));
      return;
    }
    const server = createServer();
    server.once('error', (err) => resolve(outcome(err)));
    server.listen({ port: binding.hostPort, host: binding.hostIp, exclusive: true }, () =>
      server.close(() => resolve('free')),
    );
  });
