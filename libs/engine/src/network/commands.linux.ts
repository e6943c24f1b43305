/**
 * The `ip`, `iptables` and `ipset` binaries, run through execProgram (../exec.ts): their batch modes (`ip -batch -`,
 * `iptables-restore --noflush`) apply many changes per process, which is what keeps the
 * network's share of `paas run` small. iptables takes the xtables lock itself (`-w`); ipset
 * changes one set entry per call, atomically in the kernel.
 */
import { PaasError } from '@paas/errors';
import { ExecError, execProgram } from '../exec';

export class NetworkCommandError extends PaasError {
  constructor(
    readonly command: string,
    readonly stderr: string,
  ) {
    super('internal', `${command}: ${stderr.trim() || 'failed'}`);
  }
}

export async function run(bin: string, args: readonly string[], input?: string): Promise<string> {
  try {
    return (await execProgram(bin, args, { timeoutMs: 30_000, ...(input === undefined ? {} : { input }) })).stdout;
  } catch (err) {
    const stderr = err instanceof ExecError ? err.stderr || err.message : (err as Error).message;
    throw new NetworkCommandError(`${bin} ${args.join(' ')}`, stderr);
  }
}

/** `ip -batch -`, in the netns named `netns` if given; with `force`, every line runs even after a failed one (teardown). */
export async function ipBatch(lines: readonly string[], opts: { netns?: string; force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  const args = [...(opts.force ? ['-force'] : []), '-batch', '-'];
  try {
    // in a named netns through nsenter (setns of the network namespace alone), not `ip -n`:
    // that also makes a mount namespace, a copy of every host mount (two per container on a
    // busy node, so each start cost more than the last), to mount the netns' own /sys, which
    // these netlink commands never read
    if (opts.netns) await run('nsenter', [`--net=/run/netns/${opts.netns}`, 'ip', ...args], `${lines.join('\n')}\n`);
    else await run('ip', args, `${lines.join('\n')}\n`);
  } catch (err) {
    if (!opts.force) throw err;
  }
}

/** Applies `*table ... COMMIT` sections without touching other rules. */
export async function iptablesRestore(text: string): Promise<void> {
  await run('iptables-restore', ['-w', '--noflush'], text);
}

export async function iptablesSave(table: 'raw' | 'nat' | 'filter'): Promise<string> {
  return run('iptables-save', ['-t', table]);
}

/** `ipset ARGS`; a host without the binary gets what to install, not a spawn error. */
export async function ipset(args: readonly string[]): Promise<void> {
  try {
    await run('ipset', args);
  } catch (err) {
    if (err instanceof NetworkCommandError && /ENOENT/.test(err.stderr)) {
      throw new NetworkCommandError(
        `ipset ${args.join(' ')}`,
        'ipset is not installed: the bridge isolates platform containers with an ipset (apt-get install ipset)',
      );
    }
    throw err;
  }
}

/**
 * `ipset destroy NAME`, once the kernel has let go of it. iptables-nft frees a deleted rule's
 * hold on a set in a deferred kernel work item (nf_tables' transaction cleanup), so a destroy
 * right after the rule's removal can be refused with "in use by a kernel component" for a
 * moment on a busy machine (weave, fail2ban and antrea met the same); it is tried again for up
 * to `waitMs`. A set still named by a rule after that is refused as before.
 */
export async function ipsetDestroy(name: string, waitMs = 5_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      return await ipset(['destroy', name]);
    } catch (err) {
      const inUse = err instanceof NetworkCommandError && /in use by a kernel component/.test(err.stderr);
      if (!inUse || Date.now() + delay > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Whether ipset `name` exists (false too where ipset is not installed). */
export async function ipsetExists(name: string): Promise<boolean> {
  return run('ipset', ['list', '-n', name]).then(
    () => true,
    () => false,
  );
}

/**
 * How many iptables rules name ipset `name` (`References:` of `ipset list -t`): 0 for a set no
 * rule uses yet, undefined when there is no such set (or no ipset).
 */
export async function ipsetReferences(name: string): Promise<number | undefined> {
  const header = await run('ipset', ['list', '-t', name]).catch(() => undefined);
  const references = header === undefined ? undefined : /^References: (\d+)$/m.exec(header)?.[1];
  return references === undefined ? undefined : Number(references);
}

/** `ipset save NAME`: the set's `create` line and one `add` line per entry. */
export async function ipsetSave(name: string): Promise<string> {
  return run('ipset', ['save', name]);
}
