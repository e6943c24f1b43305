/**
 * Containers with a terminal (`run -t`, `-it`, `start -ai`, `attach`) through the real CLI,
 * paas-shim and paas-runtime, driven from a terminal of the test's own (support/pty.ts).
 * `after` checks that no container, mount, cgroup, shim or socket is left.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PAAS, cliFor, removeAllAndCheck, tempRoots } from '../support/cli';
import { inPty } from '../support/pty';

const roots = tempRoots();
const suiteStart = Date.now();
const { run, ok, removeAll } = cliFor(roots.env);
const paas = (...args: string[]): string[] => [PAAS, ...args];

/** Processes (shims, containers) whose command line names this suite's roots. */
function processesUnderRoots(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(roots.root) || cmdline.includes(roots.run)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('containers with a terminal', () => {
  before(() => {
    ok('image', 'bootstrap', 'busybox');
  });
  after(() => {
    const processes = processesUnderRoots();
    const aliases = existsSync(join(roots.run, 'tty')) ? readdirSync(join(roots.run, 'tty')) : [];
    removeAllAndCheck(roots, { removeAll }, suiteStart);
    assert.deepEqual(processes, [], 'shims or containers left running');
    assert.deepEqual(aliases, [], "terminal sockets' directories left behind");
  });

  it('runs -it: a terminal of the size of this one, typed input, resizes, the exit code, nothing left', () => {
    const script =
      'read a; echo typed:$a; tty; stty size; trap "stty size; exit 3" WINCH; echo ready; while :; do sleep 0.1; done';
    const r = inPty(
      paas('run', '-it', '--rm', '--network', 'none', 'busybox', 'sh', '-c', script),
      roots.env,
      [
        // typed once the CLI made this terminal raw: it is attached by then
        { raw: true },
        { send: 'hello\r' },
        { expect: 'typed:hello\r\n/dev/pts/0\r\n30 100\r\nready' },
        { resize: [50, 120] },
        { expect: '50 120' },
      ],
      { rows: 30, cols: 100 },
    );
    assert.equal(r.failed, null, r.output);
    assert.equal(r.status, 3, r.output);
    assert.equal(r.restored, true, 'the terminal is back in its modes');
    assert.equal(ok('ps', '-aq'), '');
    assert.deepEqual(readdirSync(join(roots.run, 'tty')), [], 'the short socket directory goes with the container');
    assert.deepEqual(processesUnderRoots(), []);
  });

  it('shows what the process prints at once: the shim takes the client before it starts the process', () => {
    for (let i = 0; i < 3; i++) {
      const r = inPty(
        paas('run', '-it', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo first; read a; exit 4'),
        roots.env,
        [{ expect: 'first' }, { raw: true }, { send: 'x\r' }],
      );
      assert.equal(r.failed, null, r.output);
      assert.equal(r.status, 4, r.output);
    }
  });

  it('redraws a shell prompt printed before it was attached', () => {
    const r = inPty(paas('run', '-it', '--rm', '--network', 'none', 'busybox', 'sh'), roots.env, [
      { raw: true },
      { expect: '/ # ' },
      { send: 'exit 7\r' },
    ]);
    assert.equal(r.failed, null, r.output);
    assert.equal(r.status, 7, r.output);
    assert.equal(r.restored, true);
  });

  it("passes ctrl-c to the container's terminal, which makes it a SIGINT there", () => {
    const script = 'read a; trap "echo caught; exit 6" INT; echo armed:$a; while :; do sleep 0.1; done';
    const r = inPty(paas('run', '-it', '--rm', '--network', 'none', 'busybox', 'sh', '-c', script), roots.env, [
      { raw: true },
      { send: 'go\r' },
      { expect: 'armed:go' },
      { send: '\x03' },
      { expect: 'caught' },
    ]);
    assert.equal(r.failed, null, r.output);
    assert.equal(r.status, 6, r.output);
  });

  it('ends the run when its terminal hangs up (a closed ssh session), as the hangup ends docker run -it', () => {
    // a shell that would wait for input for ever: the hangup must end it, not this CLI's wait
    const r = inPty(
      paas('run', '-it', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo up; read a'),
      roots.env,
      [{ raw: true }, { expect: 'up' }, { hangup: true }],
      { timeoutSeconds: 30 },
    );
    assert.equal(r.failed, null, r.output);
    assert.equal(r.status, 128 + 1, `ended by the hangup, not an abort or the driver's kill: ${r.output}`);
    assert.equal(ok('ps', '-aq'), '', '--rm removed it');
    const kept = inPty(
      paas('run', '-it', '--name', 'hup-kept', '--network', 'none', 'busybox', 'sh', '-c', 'echo up; read a'),
      roots.env,
      [{ raw: true }, { expect: 'up' }, { hangup: true }],
      { timeoutSeconds: 30 },
    );
    assert.equal(kept.status, 128 + 1, kept.output);
    assert.equal(ok('inspect', '-f', '{{.State.Running}}', 'hup-kept'), 'false\n', 'stopped, kept without --rm');
    ok('rm', 'hup-kept');
  });

  it('detaches with ctrl-p ctrl-q, attaches again, and start -ai starts it attached', () => {
    const echo = 'while read l; do echo "echo:$l"; done; exit 5';
    const first = inPty(
      paas('run', '-it', '--name', 'talk', '--network', 'none', 'busybox', 'sh', '-c', echo),
      roots.env,
      [{ raw: true }, { send: 'one\r' }, { expect: 'echo:one' }, { send: '\x10\x11' }],
    );
    assert.equal(first.failed, null, first.output);
    assert.equal(first.status, 0, 'detached');
    assert.equal(first.restored, true);
    assert.equal(
      ok('inspect', '-f', '{{.State.Running}} {{.Config.Tty}} {{.Config.OpenStdin}}', 'talk'),
      'true true true\n',
    );
    const again = inPty(paas('attach', 'talk'), roots.env, [
      { raw: true },
      { send: 'two\r' },
      { expect: 'echo:two' },
      { send: '\x04' }, // end of input: the loop ends, so does the container
    ]);
    assert.equal(again.failed, null, again.output);
    assert.equal(again.status, 5, "attach ends with the container's code");
    const started = inPty(paas('start', '-ai', 'talk'), roots.env, [
      { raw: true },
      { send: 'three\r' },
      { expect: 'echo:three' },
      { send: '\x04' },
    ]);
    assert.equal(started.failed, null, started.output);
    assert.equal(started.status, 5);
    assert.match(ok('logs', 'talk'), /echo:one\r\n[\s\S]*echo:two\r\n[\s\S]*echo:three\r\n/, 'the terminal is logged');
    ok('rm', 'talk');
  });

  it('runs -t without a terminal here as docker does: output through the terminal, stdin not read', () => {
    const r = run('run', '-t', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'tty; echo out; echo err >&2');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '/dev/pts/0\r\nout\r\nerr\r\n', "one stream, with the terminal's line ends");
    assert.equal(ok('ps', '-aq'), '');
  });

  describe("bad input: docker's errors, nothing made", () => {
    it('refuses -it when stdin is not a terminal, before creating anything', () => {
      const r = run('run', '-it', '--rm', 'busybox', 'true');
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'Error: the input device is not a TTY\n');
      assert.equal(ok('ps', '-aq'), '');
    });

    it('refuses to attach to a stopped container, or to a terminal from a pipe', () => {
      ok('create', '-it', '--name', 'idle', 'busybox', 'sh');
      const stopped = run('attach', 'idle');
      assert.equal(stopped.status, 1);
      assert.match(stopped.stderr, /You cannot attach to a stopped container, start it first/);
      ok('start', 'idle');
      const piped = run('attach', 'idle');
      assert.equal(piped.status, 1);
      assert.match(piped.stderr, /the input device is not a TTY/);
      ok('rm', '-f', 'idle');
    });

    it('refuses exec -t, saying why', () => {
      ok('run', '-d', '--name', 'host', '--network', 'none', 'busybox', 'sleep', '300');
      const r = run('exec', '-t', 'host', 'true');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /exec -t is not supported: .*console socket/);
      ok('rm', '-f', 'host');
    });
  });
});
