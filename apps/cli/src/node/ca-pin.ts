/**
 * The first step of `paas node join`, as kubeadm's discovery with --discovery-token-ca-cert-hash:
 * fetch the platform CA from the control plane WITHOUT trusting the server, and keep it only
 * when the hash of its public key is the one the operator copied from `paas nodes:join-token`.
 * From then on the node trusts that CA and nothing else for the control plane.
 */
import http from 'node:http';
import https from 'node:https';
import { caHash } from '@paas/platform/tls';

/** The control plane's CA is not the one pinned, or could not be fetched: nothing was changed. */
export class CaPinError extends Error {}

export const CA_HASH = /^sha256:[0-9a-f]{64}$/;

/** `GET URL/api/ca`, unverified, bounded in size and time. */
function fetchCaUnverified(apiUrl: string, timeoutMs: number): Promise<string> {
  const url = new URL(`${apiUrl}/api/ca`);
  return new Promise((resolve, reject) => {
    const options = {
      signal: AbortSignal.timeout(timeoutMs),
      // The one unverified TLS connection of the platform: the node does not know the CA yet,
      // which is what this request fetches. Nothing it answers is trusted until its hash
      // matches the pinned one, and nothing secret is sent on it (no token).
      ...(url.protocol === 'https:' ? { rejectUnauthorized: false } : {}),
    };
    const req = (url.protocol === 'https:' ? https : http).get(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 64 * 1024) req.destroy(new Error('the answer is larger than a certificate'));
        else chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url.pathname} answered ${res.statusCode}`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
    req.on('error', reject);
  });
}

/** The control plane's CA certificate (PEM), once its hash is `expected`; CaPinError otherwise. */
export async function pinnedCa(apiUrl: string, expected: string, timeoutMs = 10_000): Promise<string> {
  let pem: string;
  try {
    pem = await fetchCaUnverified(apiUrl, timeoutMs);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CaPinError(`cannot fetch the control plane's CA from ${apiUrl}/api/ca: ${reason}; nothing was changed`);
  }
  let actual: string;
  try {
    actual = caHash(pem);
  } catch {
    throw new CaPinError(
      `${apiUrl}/api/ca did not answer with a certificate: the wrong address, or not a paas api; nothing was changed`,
    );
  }
  if (actual !== expected) {
    throw new CaPinError(
      `the control plane's CA is ${actual}, not the ${expected} given: a man in the middle or the wrong address; nothing was changed`,
    );
  }
  return pem;
}
