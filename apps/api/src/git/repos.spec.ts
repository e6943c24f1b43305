import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { gitEnv } from '@paas/platform';
import { FLUSH, PktLineReader, pkt } from './pkt-line';
import { GitRepos, resolveRef } from './repos';

/** Pids of live processes whose command line mentions `text`. */
async function processesWith(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(Number(entry));
  }
  return found;
}

describe('the proc-receive hook', { timeout: 30_000 }, () => {
  it("ends, and receive-pack with it, when the api's end of its pipes goes away mid-push", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'paas-hook-'));
    const children: number[] = [];
    t.after(async () => {
      for (const pid of children) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await rm(dir, { recursive: true, force: true });
    });
    const repos = new GitRepos(dir);
    const bare = await repos.ensure('web');
    const work = join(dir, 'work');
    const run = (args: string[]): string => execFileSync('git', args, { cwd: work, env: gitEnv() }).toString();
    execFileSync('git', ['init', '--quiet', '--initial-branch=main', work], { env: gitEnv() });
    run(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '--allow-empty', '-m', 'one']);
    // receive-pack as git-http.service.ts starts it: the hook's relay on the api's fds 3-5
    const receivePack = join(dir, 'receive-pack');
    await writeFile(
      receivePack,
      `#!/bin/sh\nexec git -c receive.procReceiveRefs=refs/heads/main -c core.hooksPath=${repos.hooks} receive-pack "$@"\n`,
      { mode: 0o755 },
    );
    const push = spawn('git', ['push', `--receive-pack=${receivePack}`, bare, 'main:main'], {
      cwd: work,
      env: gitEnv(),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    children.push(push.pid ?? 0);
    let said = '';
    push.stderr?.on('data', (chunk: Buffer) => (said += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => push.once('close', (code) => resolve(code)));
    const [, , , fromHook, toHook, progress] = push.stdio as unknown as [
      null,
      Readable,
      Readable,
      Readable,
      Writable,
      Writable,
    ];
    // the api's side: the hook says hello and its commands, the api builds...
    const reader = new PktLineReader(fromHook);
    assert.match((await reader.section())?.[0] ?? '', /^version=1/);
    toHook.write(Buffer.concat([pkt('version=1\n'), FLUSH]));
    assert.match((await reader.section())?.[0] ?? '', / refs\/heads\/main$/);
    progress.write('-----> Building\n');
    assert.ok((await processesWith(repos.hooks)).length > 0, 'the hook runs');
    // ...and dies: the kernel closes its ends of the pipes
    fromHook.destroy();
    toHook.destroy();
    progress.destroy();

    assert.notEqual(await exited, 0, said);
    assert.match(said, /remote: -----> Building/);
    assert.match(said, /\[remote rejected\] main -> main/);
    assert.equal(await resolveRef(bare, 'refs/heads/main'), null, 'the branch did not move');
    assert.deepEqual(await processesWith(repos.hooks), [], 'no hook or receive-pack is left');
  });
});
