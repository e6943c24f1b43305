/**
 * The processes of `paas up`'s components, as files under `$PAAS_RUN/up/`: `<name>.pid`
 * holding the pid and the kernel's start time of the process (field 22 of /proc/PID/stat), so
 * that `paas down` can stop what a killed `paas up` left running (its children outlive it)
 * and never signals a process that merely got the same pid later.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive } from '@paas/content';

/** The components, the last started first: the order they stop in. */
const STOP_ORDER = ['router', 'agent', 'api', 'registry', 'redis'];

/** The kernel's start time of `pid` (clock ticks since boot), undefined when it is gone. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Records that component `name` now runs as `pid`. */
export function recordComponent(dir: string, name: string, pid: number): void {
  const since = startTimeOf(pid);
  if (since === undefined) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${name}.pid`);
  writeFileSync(`${file}.tmp`, `${pid} ${since}\n`);
  renameSync(`${file}.tmp`, file);
}

/** The recorded processes that still run, in stop order. */
export function recordedComponents(dir: string): Array<{ name: string; pid: number }> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.pid'));
  } catch {
    return [];
  }
  // one of another name (none today) before the known ones
  const rank = (name: string): number => STOP_ORDER.indexOf(name);
  const live: Array<{ name: string; pid: number }> = [];
  for (const file of files) {
    const [pid, since] = readFileSync(join(dir, file), 'utf8').trim().split(' ');
    const name = file.slice(0, -'.pid'.length);
    if (Number(pid) > 0 && since !== undefined && startTimeOf(Number(pid)) === since)
      live.push({ name, pid: Number(pid) });
  }
  return live.sort((a, b) => rank(a.name) - rank(b.name));
}

/**
 * Stops the recorded processes one by one, in stop order: SIGTERM (the agent leaves its
 * containers, which are `paas down`'s next step), SIGKILL after `timeoutMs`. Then forgets them.
 */
export async function stopRecorded(dir: string, log: (line: string) => void, timeoutMs = 15_000): Promise<number> {
  const live = recordedComponents(dir);
  for (const { name, pid } of live) {
    log(`stopping ${name} (pid ${pid}), left by a paas up that is gone\n`);
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (isProcessAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isProcessAlive(pid)) signal(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
  return live.length;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
