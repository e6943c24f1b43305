/**
 * The container verbs, loaded on first use. Output and messages follow Docker's; errors of
 * the engine itself exit 125, a command that cannot run 126/127, otherwise the container's code.
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import {
  ContainerConflictError,
  ContainerNotFoundError,
  type ContainerRecord,
  type ContainerState,
  type Engine,
  EngineError,
  IpamError,
  type Lease,
  type PortBinding,
  ShimStartError,
  SpecError,
  UserError,
  VolumeError,
  VolumeInUseError,
  VolumeNotFoundError,
  formatBinding,
  containerPids,
  readLogs,
  readStats,
  type TerminalAttachment,
} from '@paas/engine';
import { ImageNotFoundError } from '@paas/images';
import { openEngine } from '../context';
import { CliError } from '../errors';
import { BINARY_UNITS, humanAgo, humanDuration, humanSize, inUnits, table } from '../format';
import type { CliIo } from '../io';
import { type SessionEnd, interactiveSession, stdoutSize } from '../terminal';
import { type RunFlags, createOptions } from './options';

function engineError(err: unknown, code = 125): never {
  if (err instanceof CliError) throw err;
  if (err instanceof EngineError) throw new CliError(err.message, err.exitCode);
  if (err instanceof ContainerNotFoundError || err instanceof ContainerConflictError)
    throw new CliError(err.message, code);
  if (err instanceof SpecError || err instanceof UserError || err instanceof ShimStartError || err instanceof IpamError)
    throw new CliError(err.message, 125);
  if (err instanceof VolumeError || err instanceof VolumeNotFoundError || err instanceof VolumeInUseError)
    throw new CliError(err.message, 125);
  throw err;
}

async function createContainer(
  io: CliIo,
  engine: Engine,
  image: string,
  cmd: string[],
  flags: RunFlags,
): Promise<ContainerRecord> {
  const parsed = createOptions(flags, cmd, io.env);
  // a terminal starts at this one's size, as Docker's ConsoleSize (a resize follows anyway)
  const size = parsed.run.tty ? stdoutSize() : undefined;
  const options = size ? { ...parsed, run: { ...parsed.run, consoleSize: size } } : parsed;
  if (options.network === 'host' && (options.ports?.length || options.publishAll))
    io.err('WARNING: Published ports are discarded when using host network mode\n');
  const shares = options.run.resources.cpuShares;
  if (shares !== undefined && shares !== Number(flags.cpuShares))
    io.err(`WARNING: Changing requested CPUShares of ${flags.cpuShares ?? ''} to ${shares}, the kernel's limit\n`);
  const { ensureImage, parsePullPolicy } = await import('../registry/actions');
  await ensureImage(io, engine.images, image, parsePullPolicy(flags.pull));
  try {
    return await engine.create(image, options);
  } catch (err) {
    if (err instanceof ImageNotFoundError) throw new CliError(err.message, 125);
    return engineError(err);
  }
}

export async function create(io: CliIo, image: string, cmd: string[], flags: RunFlags): Promise<void> {
  const engine = await openEngine(io);
  const record = await createContainer(io, engine, image, cmd, flags);
  io.out(`${record.id}\n`);
}

/** `run`: create + start; attached, stream the output and exit with the container's code. */
export async function run(io: CliIo, image: string, cmd: string[], flags: RunFlags): Promise<void> {
  // as Docker, before anything is made: typing into a terminal needs one here
  if (flags.tty && flags.interactive && !flags.detach && !process.stdin.isTTY) throw new CliError(NOT_A_TTY, 1);
  const engine = await openEngine(io);
  const record = await createContainer(io, engine, image, cmd, flags);
  // the terminal's own stream when someone types into it or watches it; a script reading
  // `run -t`'s output gets it from the log, which has all of it
  const attached = flags.tty === true && !flags.detach && (flags.interactive === true || process.stdout.isTTY);
  let terminal: TerminalAttachment | undefined;
  try {
    if (attached) terminal = (await engine.startAttached(record)).terminal;
    else await engine.start(record);
  } catch (err) {
    if (flags.rm) await engine.remove(record, { force: true, volumes: true }); // Docker's --rm takes anonymous volumes too
    return engineError(err);
  }
  if (flags.detach) {
    io.out(`${record.id}\n`);
    return;
  }
  const stateDir = join(engine.containers.dir(record.id), 'shim');
  if (flags.interactive && !flags.tty) pipeStdin(join(stateDir, 'stdin'));
  // SIGHUP too: a terminal that hung up (a closed ssh session) ends the run, as Docker's
  // client leaving closes a `-i` container's input; waiting on would hang this CLI for good
  let hungUp = false;
  const forward = (signal: NodeJS.Signals): void => {
    hungUp ||= signal === 'SIGHUP';
    void engine.stop(record, 0).catch(() => undefined);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, forward);
  let detached = false;
  try {
    if (terminal) {
      // nudged: a shell that printed its prompt before the shim took this client in redraws it
      detached = (await followTerminal(engine, record, terminal, flags.interactive === true, true)) === 'detached';
      // waited for only now: a wait would keep a detached CLI from exiting (exit.json stays)
      if (!detached) process.exitCode = (await engine.wait(record))?.exitCode ?? 0;
    } else {
      const exit = engine.wait(record);
      for await (const line of readLogs(engine.logPath(record), { follow: true, until: exit })) {
        (line.stream === 'stdout' ? io.out : io.err)(line.newline ? `${line.text}\n` : line.text);
      }
      process.exitCode = (await exit)?.exitCode ?? 0;
    }
  } finally {
    for (const signal of signals) process.off(signal, forward);
    // detached (ctrl-p ctrl-q), the container runs on: as after `run -d --rm`, no one removes it later
    if (!detached) {
      if (flags.rm)
        await engine.remove(record, { force: true, volumes: true }); // Docker's --rm takes anonymous volumes too
      else await engine.release(record); // no daemon saw it exit: give its address and ports back now
    }
  }
  // ended as the hangup's default would: an exit restores the terminal's settings, which
  // Node 20 asserts on (EIO from a hung-up terminal: SIGABRT and a core)
  if (hungUp) {
    process.kill(process.pid, 'SIGHUP');
    await new Promise(() => undefined);
  }
  const code = Number(process.exitCode ?? 0);
  if (code !== 0) throw new CliError('', code);
}

/** Docker's refusal of `-it` (and `attach`) when stdin is not a terminal (a pipe, a file). */
const NOT_A_TTY = 'the input device is not a TTY';

/**
 * This terminal joined to the container's until its run ends or the user detaches. The shim
 * drops a client that cannot keep up with the output: while the container still runs, the
 * session is taken up again.
 */
async function followTerminal(
  engine: Engine,
  record: ContainerRecord,
  first: TerminalAttachment,
  stdin: boolean,
  nudge = false,
): Promise<SessionEnd> {
  let terminal: TerminalAttachment | undefined = first;
  let end: SessionEnd = 'ended';
  while (terminal) {
    end = await interactiveSession(terminal, { stdin, nudge });
    if (end !== 'ended' || !(await engine.state(record)).running) break;
    terminal = await engine.attach(record).catch(() => undefined);
  }
  return end;
}

function pipeStdin(fifo: string): void {
  const out = createWriteStream(fifo);
  process.stdin.pipe(out);
  out.on('error', () => process.stdin.unpipe(out));
}

export async function start(
  io: CliIo,
  refs: string[],
  opts: { attach?: boolean; interactive?: boolean },
): Promise<void> {
  const engine = await openEngine(io);
  // attached, the container's exit code is the command's (as docker start -a)
  let code = 0;
  await eachContainer(io, engine, refs, async (record) => {
    if (opts.attach && record.run.tty) {
      const stdin = opts.interactive === true && record.interactive;
      if (opts.interactive && !process.stdin.isTTY) throw new CliError(NOT_A_TTY, 1);
      const { terminal } = await engine.startAttached(record);
      if ((await followTerminal(engine, record, terminal, stdin)) === 'ended')
        code = (await engine.wait(record))?.exitCode ?? 0;
      return;
    }
    // the log keeps earlier runs: attaching shows this run's lines, also those written before
    // the log is first read (a quick command may be done by then)
    const since = new Date().toISOString();
    await engine.start(record);
    if (opts.attach) {
      const exit = engine.wait(record);
      for await (const line of readLogs(engine.logPath(record), { follow: true, since, until: exit })) {
        (line.stream === 'stdout' ? io.out : io.err)(line.newline ? `${line.text}\n` : line.text);
      }
      code = (await exit)?.exitCode ?? 0;
    } else io.out(`${refOf(record, refs)}\n`);
  });
  if (code !== 0) throw new CliError('', code);
}

/**
 * `attach`: to a container's terminal (`run -t`), typed into unless `--no-stdin` or it was
 * made without `-i`; to one without a terminal, its output from now on (and stdin with `-i`).
 * Ends with the container's exit code, or 0 when detached (ctrl-p ctrl-q).
 */
export async function attach(io: CliIo, ref: string, opts: { stdin: boolean }): Promise<void> {
  const engine = await openEngine(io);
  const record = await engine.containers.resolve(ref).catch((err: unknown) => engineError(err, 1));
  const state = await engine.state(record);
  if (!state.running) throw new CliError('You cannot attach to a stopped container, start it first', 1);
  if (record.run.tty) {
    if (opts.stdin && !process.stdin.isTTY) throw new CliError(NOT_A_TTY, 1);
    const terminal = await engine.attach(record).catch((err: unknown) => engineError(err, 1));
    const end = await followTerminal(engine, record, terminal, opts.stdin && record.interactive, true);
    if (end !== 'ended') return;
  } else {
    if (opts.stdin && record.interactive) pipeStdin(join(engine.containers.dir(record.id), 'shim', 'stdin'));
    const since = new Date().toISOString();
    const exit = engine.wait(record);
    for await (const line of readLogs(engine.logPath(record), { follow: true, since, until: exit })) {
      (line.stream === 'stdout' ? io.out : io.err)(line.newline ? `${line.text}\n` : line.text);
    }
  }
  const code = (await engine.wait(record))?.exitCode ?? 0;
  if (code !== 0) throw new CliError('', code);
}

/** Docker echoes the reference the user typed. */
function refOf(record: ContainerRecord, refs: string[]): string {
  return refs.find((r) => r === record.name || record.id.startsWith(r)) ?? record.id;
}

async function eachContainer(
  io: CliIo,
  engine: Engine,
  refs: string[],
  fn: (r: ContainerRecord) => Promise<void>,
): Promise<void> {
  let failed = 0;
  for (const ref of refs) {
    try {
      await fn(await engine.containers.resolve(ref));
    } catch (err) {
      failed++;
      try {
        engineError(err, 1);
      } catch (cliErr) {
        if (!(cliErr instanceof CliError)) throw cliErr;
        io.err(`Error response from daemon: ${cliErr.message}\n`);
      }
    }
  }
  if (failed) throw new CliError('', 1);
}

export async function stop(io: CliIo, refs: string[], opts: { time?: string }): Promise<void> {
  const engine = await openEngine(io);
  const timeout = opts.time !== undefined ? Number(opts.time) : undefined;
  await eachContainer(io, engine, refs, async (record) => {
    await engine.stop(record, timeout);
    io.out(`${refOf(record, refs)}\n`);
  });
}

export async function restart(io: CliIo, refs: string[], opts: { time?: string }): Promise<void> {
  const engine = await openEngine(io);
  const timeout = opts.time !== undefined ? Number(opts.time) : undefined;
  await eachContainer(io, engine, refs, async (record) => {
    await engine.stop(record, timeout);
    await engine.start(record);
    io.out(`${refOf(record, refs)}\n`);
  });
}

export async function kill(io: CliIo, refs: string[], opts: { signal?: string }): Promise<void> {
  const engine = await openEngine(io);
  const raw = (opts.signal ?? 'KILL').toUpperCase();
  const signal = /^\d+$/.test(raw) ? Number(raw) : ((raw.startsWith('SIG') ? raw : `SIG${raw}`) as NodeJS.Signals);
  await eachContainer(io, engine, refs, async (record) => {
    await engine.kill(record, signal);
    io.out(`${refOf(record, refs)}\n`);
  });
}

export async function rm(io: CliIo, refs: string[], opts: { force?: boolean; volumes?: boolean }): Promise<void> {
  const engine = await openEngine(io);
  await eachContainer(io, engine, refs, async (record) => {
    await engine.remove(record, { force: opts.force ?? false, volumes: opts.volumes ?? false });
    io.out(`${refOf(record, refs)}\n`);
  });
}

export async function exec(
  io: CliIo,
  ref: string,
  cmd: string[],
  opts: { interactive?: boolean; tty?: boolean; env?: string[]; user?: string; workdir?: string },
): Promise<void> {
  if (opts.tty) {
    throw new CliError(
      "exec -t is not supported: the runtime hands an exec's terminal over a console socket " +
        '(SCM_RIGHTS), which this CLI cannot receive; run it without -t (-i passes stdin)',
      1,
    );
  }
  const engine = await openEngine(io);
  const record = await engine.containers.resolve(ref).catch((err: unknown) => engineError(err, 1));
  const code = await engine
    .exec(record, cmd, {
      env: opts.env ?? [],
      ...(opts.user ? { user: opts.user } : {}),
      ...(opts.workdir ? { workdir: opts.workdir } : {}),
      stdin: opts.interactive ?? false,
    })
    .catch((err: unknown) => engineError(err, 1));
  if (code !== 0) throw new CliError('', code);
}

export async function wait(io: CliIo, refs: string[]): Promise<void> {
  const engine = await openEngine(io);
  await eachContainer(io, engine, refs, async (record) => {
    const exit = await engine.wait(record);
    io.out(`${exit?.exitCode ?? 0}\n`);
  });
}

export async function logs(
  io: CliIo,
  ref: string,
  opts: { follow?: boolean; tail?: string; since?: string; timestamps?: boolean },
): Promise<void> {
  const engine = await openEngine(io);
  const record = await engine.containers.resolve(ref).catch((err: unknown) => engineError(err, 1));
  const tail = opts.tail === undefined || opts.tail === 'all' ? undefined : Number(opts.tail);
  for await (const line of readLogs(engine.logPath(record), {
    ...(tail !== undefined ? { tail } : {}),
    ...(opts.since ? { since: opts.since } : {}),
    follow: opts.follow ?? false,
    ...(opts.follow ? { until: engine.wait(record) } : {}),
  })) {
    const text = `${opts.timestamps ? `${line.time} ` : ''}${line.text}${line.newline ? '\n' : ''}`;
    (line.stream === 'stdout' ? io.out : io.err)(text);
  }
}

function statusText(state: ContainerState, now = Date.now()): string {
  switch (state.status) {
    case 'running':
      return `Up ${humanDuration((now - Date.parse(state.startedAt ?? new Date(now).toISOString())) / 1000)}`;
    case 'restarting':
      return `Restarting (${state.exitCode}) ${humanAgo(state.finishedAt)}`;
    case 'exited':
      return `Exited (${state.exitCode}) ${humanAgo(state.finishedAt)}`;
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

export async function ps(
  io: CliIo,
  opts: { all?: boolean; quiet?: boolean; noTrunc?: boolean; filter?: string[] },
): Promise<void> {
  const engine = await openEngine(io);
  const rows: string[][] = [];
  const leases = await engine.networkLeases();
  const records = await engine.containers.list();
  const states = await Promise.all(records.map((r) => engine.state(r)));
  for (const [i, record] of records.entries()) {
    const state = states[i] as ContainerState;
    if (!opts.all && !state.running && state.status !== 'restarting') continue;
    if (!matchesFilters(record, state, opts.filter ?? [])) continue;
    const id = opts.noTrunc ? record.id : record.id.slice(0, 12);
    if (opts.quiet) {
      rows.push([id]);
      continue;
    }
    const command = JSON.stringify(record.args.join(' '));
    rows.push([
      id,
      record.image,
      opts.noTrunc || command.length <= 22 ? command : `${command.slice(0, 19)}…"`,
      humanAgo(record.created),
      statusText(state),
      state.running || state.status === 'restarting'
        ? (leases[record.id]?.ports ?? []).map(formatBinding).join(', ')
        : '',
      record.name,
    ]);
  }
  if (opts.quiet) io.out(rows.map((r) => `${r[0]}\n`).join(''));
  else io.out(table(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], rows));
}

function matchesFilters(record: ContainerRecord, state: ContainerState, filters: string[]): boolean {
  return filters.every((f) => {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq);
    const value = f.slice(eq + 1);
    switch (key) {
      case 'name':
        return record.name.includes(value);
      case 'id':
        return record.id.startsWith(value);
      case 'status':
        return state.status === value;
      case 'label': {
        const [k = '', v] = value.split('=');
        return k in record.labels && (v === undefined || record.labels[k] === v);
      }
      case 'ancestor':
        return record.image === value || record.imageId.includes(value);
      case 'exited':
        return state.status === 'exited' && state.exitCode === Number(value);
      default:
        throw new CliError(`invalid filter '${key}'`, 1);
    }
  });
}

/** `inspect` of a container, in Docker's shape (the fields people read). */
export async function inspectContainer(engine: Engine, record: ContainerRecord): Promise<Record<string, unknown>> {
  const state = await engine.state(record);
  const lease = state.running || state.status === 'restarting' ? (await engine.networkLeases())[record.id] : undefined;
  return {
    Id: record.id,
    Created: record.created,
    Path: record.args[0],
    Args: record.args.slice(1),
    State: {
      Status: state.status,
      Running: state.running,
      Paused: false,
      Restarting: state.status === 'restarting',
      OOMKilled: state.oomKilled,
      Dead: state.status === 'dead',
      Pid: state.pid,
      ExitCode: state.exitCode,
      Error: state.error ?? '',
      StartedAt: state.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: state.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Image: record.imageId,
    Name: `/${record.name}`,
    RestartCount: state.restartCount,
    HostConfig: {
      RestartPolicy: {
        Name: record.restart.split(':')[0],
        MaximumRetryCount: Number(record.restart.split(':')[1] ?? 0),
      },
      AutoRemove: record.autoRemove,
      NetworkMode: record.network.mode,
      Memory: record.run.resources.memory ?? 0,
      NanoCpus: Math.round((record.run.resources.cpus ?? 0) * 1e9),
      CpuShares: record.run.resources.cpuShares ?? 0,
      CpuQuota: record.run.resources.cpuQuota ?? 0,
      CpuPeriod: record.run.resources.cpuPeriod ?? 0,
      PidsLimit: record.run.resources.pidsLimit ?? null,
      Binds: [
        ...record.run.binds.map((b) => `${b.source}:${b.destination}${b.readonly ? ':ro' : ''}`),
        ...(record.run.volumes ?? [])
          .filter((v) => !v.anonymous)
          .map((v) => `${v.name ?? ''}:${v.destination}${v.readonly ? ':ro' : ''}`),
      ],
      PortBindings: portMap(record.network.ports),
      // Docker's field ('' is its host default); the mapping as Podman shows it, CONTAINER:HOST:SIZE
      UsernsMode: record.userns ? 'auto' : 'host',
      ...(record.userns
        ? {
            IDMappings: {
              UidMap: [`0:${record.userns.hostId}:${record.userns.size}`],
              GidMap: [`0:${record.userns.hostId}:${record.userns.size}`],
            },
          }
        : {}),
    },
    Config: {
      Hostname: record.hostname,
      User: record.run.user ?? '',
      Env: record.run.env,
      Cmd: record.run.cmd ?? null,
      Image: record.image,
      Tty: record.run.tty ?? false,
      OpenStdin: record.interactive,
      WorkingDir: record.run.workdir ?? '',
      Labels: record.labels,
      StopSignal: record.stopSignal,
      StopTimeout: record.stopTimeout,
    },
    Mounts: [
      ...record.run.binds.map((b) => ({
        Type: 'bind',
        Source: b.source,
        Destination: b.destination,
        Mode: b.readonly ? 'ro' : '',
        RW: !b.readonly,
        Propagation: 'rprivate',
      })),
      ...(record.run.volumes ?? []).map((v) => ({
        Type: 'volume',
        Name: v.name ?? '',
        Source: engine.volumes.mountpoint(v.name ?? ''),
        Destination: v.destination,
        Driver: 'local',
        Mode: v.readonly ? 'ro' : '',
        RW: !v.readonly,
        Propagation: '',
      })),
    ],
    NetworkSettings: networkSettings(engine, record, lease),
    LogPath: engine.logPath(record),
  };
}

/** Docker's `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`; hostPort 0 is "". */
function portMap(ports: readonly PortBinding[]): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const map: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) {
    (map[`${p.containerPort}/${p.protocol}`] ??= []).push({
      HostIp: p.hostIp,
      HostPort: p.hostPort ? String(p.hostPort) : '',
    });
  }
  return map;
}

/** `NetworkSettings` as Docker shows it; empty values while the container has no network. */
function networkSettings(engine: Engine, record: ContainerRecord, lease: Lease | undefined): Record<string, unknown> {
  const bridge = record.network.mode === 'bridge' ? engine.network : undefined;
  const address = {
    IPAddress: lease?.ip ?? '',
    IPPrefixLen: lease && bridge ? bridge.settings.subnet.prefix : 0,
    Gateway: lease && bridge ? bridge.settings.subnet.gateway : '',
    MacAddress: lease ? macOf(lease.ip) : '',
  };
  return {
    Bridge: bridge?.settings.name ?? '',
    SandboxKey: lease && bridge ? bridge.namespacePath(record.id) : '',
    Ports: lease ? portMap(lease.ports) : {},
    ...address,
    Networks: { [record.network.mode]: { ...address, NetworkID: bridge?.settings.name ?? record.network.mode } },
  };
}

function macOf(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`: the host side of its published ports. */
export async function port(io: CliIo, ref: string, privatePort?: string): Promise<void> {
  const engine = await openEngine(io);
  const record = await engine.containers.resolve(ref).catch((err: unknown) => engineError(err, 1));
  const state = await engine.state(record);
  const ports = state.running ? ((await engine.networkLeases())[record.id]?.ports ?? []) : [];
  if (privatePort === undefined) {
    io.out(ports.map((p) => `${p.containerPort}/${p.protocol} -> ${p.hostIp}:${p.hostPort}\n`).join(''));
    return;
  }
  const [number = '', protocol = 'tcp'] = privatePort.split('/');
  const matching = ports.filter((p) => String(p.containerPort) === number && p.protocol === protocol);
  if (matching.length === 0) throw new CliError(`No public port '${number}/${protocol}' published for ${ref}`, 1);
  io.out(matching.map((p) => `${p.hostIp}:${p.hostPort}\n`).join(''));
}

/**
 * `network prune`: the repair of bridge networking. Gives back what containers that are gone
 * or stopped still hold (a crash, a container that exited by itself), and removes the bridge
 * and its rules when no container uses it. Its output is docker's (`Deleted Networks:` and
 * the names, nothing when nothing went); what it gave back is said on stderr. Running app
 * instances keep the bridge: they are `paas down`'s to remove.
 */
export async function networkPrune(io: CliIo): Promise<void> {
  const engine = await openEngine(io);
  if (!engine.network) return;
  const { reclaimed, bridgeRemoved } = await engine.network.prune();
  for (const id of reclaimed) io.err(`Released the network of container ${id.slice(0, 12)}\n`);
  if (bridgeRemoved) io.out(`Deleted Networks:\n${engine.network.settings.name}\n`);
}

/** `top CONTAINER [ps options]`: the host's ps over the container's processes, as docker does. */
export async function top(io: CliIo, ref: string, psArgs: string[]): Promise<void> {
  const engine = await openEngine(io);
  const record = await engine.containers.resolve(ref).catch((err: unknown) => engineError(err, 1));
  const state = await engine.state(record);
  if (!state.running) throw new CliError(`Container ${record.id} is not running`, 1);
  const pids = await containerPids(state.pid);
  const args = [...(psArgs.length ? psArgs : ['-f']), '-p', pids.join(',')];
  const { stdout } = await promisify(execFile)('ps', args).catch((err: { stderr?: string }) => {
    throw new CliError(`ps: ${err.stderr?.trim() ?? String(err)}`, 1);
  });
  io.out(stdout);
}

/** `stats --no-stream`: one sample of each running container (CPU over a short interval). */
export async function stats(io: CliIo, refs: string[], opts: { stream?: boolean; noTrunc?: boolean }): Promise<void> {
  if (opts.stream !== false) throw new CliError('only `paas stats --no-stream` is supported', 1);
  const engine = await openEngine(io);
  const records = refs.length
    ? await Promise.all(refs.map((r) => engine.containers.resolve(r).catch((err: unknown) => engineError(err, 1))))
    : await engine.containers.list();
  const running: Array<{ record: ContainerRecord; pid: number }> = [];
  for (const record of records) {
    const state = await engine.state(record);
    if (state.running) running.push({ record, pid: state.pid });
  }
  const first = await Promise.all(running.map((c) => readStats(c.pid).catch(() => undefined)));
  const started = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 500));
  const second = await Promise.all(running.map((c) => readStats(c.pid).catch(() => undefined)));
  const elapsed = Number(process.hrtime.bigint() - started);
  const cores = availableParallelism();
  const rows = running.flatMap(({ record }, i) => {
    const a = first[i];
    const b = second[i];
    if (!a || !b) return [];
    const cpu = ((b.cpuNanos - a.cpuNanos) / elapsed) * 100;
    return [
      [
        opts.noTrunc ? record.id : record.id.slice(0, 12),
        record.name,
        `${Math.min(cpu, cores * 100).toFixed(2)}%`,
        `${humanBinary(b.memoryUsage)} / ${humanBinary(b.memoryLimit)}`,
        `${((b.memoryUsage / b.memoryLimit) * 100).toFixed(2)}%`,
        `${humanSize(b.netRx)} / ${humanSize(b.netTx)}`,
        `${humanSize(b.blockRead)} / ${humanSize(b.blockWrite)}`,
        String(b.pids),
      ],
    ];
  });
  io.out(table(['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'], rows));
}

/** Binary units as docker stats prints memory: 1.5MiB, 23.4GiB. */
function humanBinary(bytes: number): string {
  const { value, unit } = inUnits(bytes, 1024, BINARY_UNITS);
  return `${Number(value.toFixed(unit === 'B' ? 0 : 2))}${unit}`;
}

export async function rename(io: CliIo, ref: string, name: string): Promise<void> {
  const engine = await openEngine(io);
  const record = await engine.containers.resolve(ref).catch((err: unknown) => engineError(err, 1));
  await engine.rename(record, name).catch((err: unknown) => engineError(err, 1));
}

export async function prune(io: CliIo, opts: { force?: boolean }): Promise<void> {
  if (!opts.force && !process.stdin.isTTY) {
    throw new CliError('WARNING! This will remove all stopped containers. Pass -f to confirm (not a terminal)', 1);
  }
  const engine = await openEngine(io);
  const { removed, reclaimedBytes } = await engine.prune();
  if (removed.length) io.out(`Deleted Containers:\n${removed.join('\n')}\n\n`);
  io.out(`Total reclaimed space: ${humanSize(reclaimedBytes)}\n`);
}
