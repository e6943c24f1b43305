/**
 * `paas node join URL --token T --ca-hash sha256:H`: makes this machine a node of the platform
 * at URL (docs/operations.md "Adding a machine").
 *
 *   1. pin     fetch the CA without trusting the server, keep it only if its hash is H
 *              (ca-pin.ts); a mismatch writes nothing
 *   2. join    POST /api/nodes/join with the join token, trusting only that CA: the api spends
 *              the token and answers with a node credential bound to the name
 *   3. save    the CA, the credential and the settings under $PAAS_ROOT/node (settings.ts)
 *   4. run     the agent in the foreground, as `paas node up` does (up.ts)
 *
 * Nothing half-joined: before 2 nothing exists anywhere; after 2 the api holds only the used
 * join token and the credential (no node row: it appears when the agent registers), and a
 * failure says how to retry.
 */
import { hostname } from 'node:os';
import { isIPv4 } from 'node:net';
import type { JoinAnswer } from '@paas/api-types';
import { isLoopbackHost } from '@paas/config';
import { loadCliConfig } from '../config';
import { CliError, EXIT_USAGE } from '../errors';
import type { CliIo } from '../io';
import { ApiClient } from '../platform/client';
import { normalizeUrl } from '../platform/target';
import { CA_HASH, CaPinError, pinnedCa } from './ca-pin';
import { type NodeSettings, nodeFiles, readNodeSettings, writeNodeSettings } from './settings';
import { type NodeUpOptions, runNodeUp } from './up';

export interface JoinOptions {
  readonly token: string;
  readonly caHash: string;
  readonly name?: string;
  readonly address?: string;
  /** Join again although this machine joined before (its old credential stays until removed). */
  readonly force?: boolean;
}

const JOIN_TOKEN = /^pjoin_[0-9A-Za-z]{40}$/;

/** Steps 1 to 3: this machine's settings once joined. */
export async function joinNode(io: CliIo, url: string, options: JoinOptions): Promise<NodeSettings> {
  const apiUrl = normalizeUrl(url, 'the control plane URL');
  const { protocol, hostname: host } = new URL(apiUrl);
  // over plain http the pinned CA would protect nothing: the token and the credential would travel in clear
  if (protocol !== 'https:' && !isLoopbackHost(host))
    throw new CliError(`the control plane URL must be https:// off loopback, not ${apiUrl}`, EXIT_USAGE);
  const name = (options.name ?? hostname()).toLowerCase();
  // the name's rules are the api's (NODE_NAME): its 400 names them
  if (options.address !== undefined && !isIPv4(options.address))
    throw new CliError(`invalid --address '${options.address}': expected this machine's IPv4 address`, EXIT_USAGE);
  if (!CA_HASH.test(options.caHash))
    throw new CliError(`invalid --ca-hash '${options.caHash}': expected sha256: and 64 hex digits`, EXIT_USAGE);
  if (!JOIN_TOKEN.test(options.token))
    throw new CliError(
      'invalid --token: a join token is pjoin_ and 40 letters and digits (paas nodes:join-token)',
      EXIT_USAGE,
    );
  const { root } = loadCliConfig(io.env).paths;
  const joined = await readNodeSettings(root);
  if (joined && !options.force) {
    throw new CliError(
      `this machine already joined ${joined.apiUrl} as node ${joined.name} (${nodeFiles(root).settings}): start it with \`paas node up\`, or join again with --force`,
    );
  }

  let caPem: string;
  try {
    caPem = await pinnedCa(apiUrl, options.caHash);
  } catch (err) {
    if (err instanceof CaPinError) throw new CliError(err.message);
    throw err;
  }
  // from here on the control plane is trusted through that CA only
  const client = new ApiClient(apiUrl, options.token, { file: nodeFiles(root).ca, pem: caPem });
  const answer = await client.post<JoinAnswer>('/api/nodes/join', {
    name,
    ...(options.address !== undefined ? { address: options.address } : {}),
  });

  const settings: NodeSettings = {
    name: answer.name,
    apiUrl: answer.apiUrl.replace(/\/+$/, ''),
    address: options.address ?? null,
    caHash: options.caHash,
    registry: answer.registry,
    joinedAt: new Date().toISOString(),
  };
  try {
    await writeNodeSettings(root, settings, caPem, answer.nodeToken);
  } catch (err) {
    throw new CliError(
      `joined as ${answer.name}, but saving its settings under ${nodeFiles(root).settings} failed: ${(err as Error).message}. ` +
        `To retry: on the control plane \`paas nodes:remove ${answer.name} --confirm ${answer.name}\` and a new \`paas nodes:join-token\`, then join again`,
    );
  }
  return settings;
}

/** `paas node join`: steps 1 to 4. */
export async function runNodeJoin(io: CliIo, url: string, options: JoinOptions & NodeUpOptions): Promise<void> {
  const settings = await joinNode(io, url, options);
  io.out(`joined as ${settings.name}; starting its agent (later: \`paas node up\`)\n`);
  await runNodeUp(io, options, settings);
}
