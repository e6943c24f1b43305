/**
 * Which containers passed their deploy check, and at which restart count (roles.ts): one
 * small file per container under `$PAAS_RUN/agent/checked`, so a restarted agent knows which
 * of the containers it adopts are up and which it must check again. It lives under PAAS_RUN
 * because the containers do not outlive the machine either.
 */
import { writeFileAtomic } from '@paas/content';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckedMarks } from './roles';

export class FileCheckedMarks implements CheckedMarks {
  constructor(private readonly dir: string) {}

  private path(containerId: string): string {
    return join(this.dir, containerId);
  }

  async get(containerId: string): Promise<number | null> {
    const text = await readFile(this.path(containerId), 'utf8').catch(() => null);
    return text !== null && /^\d+$/.test(text) ? Number(text) : null;
  }

  async set(containerId: string, restarts: number): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // whole through a crash of the agent; no fsync: a reboot ends the container it speaks of
    await writeFileAtomic(this.path(containerId), String(restarts), 0o644, { durable: false });
  }

  async forget(containerId: string): Promise<void> {
    await rm(this.path(containerId), { force: true });
  }
}
