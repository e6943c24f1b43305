/**
 * The fake api's backups routes (`/api/addons/:name/backups`, `/restore`, `/api/backups/:id`),
 * in memory, for add-ons seeded with `addAddon` (which the fake api then serves as its own). A capture answers
 * `running` and has finished by the next look, as `nextCapture` says.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Addon as AddonView, Backup } from '@paas/api-types';
import { HttpError, send } from './fake-http';

export interface FakeAddon {
  readonly id: string;
  readonly name: string;
  readonly type: 'postgres' | 'redis';
  backupHour: number | null;
  readonly attachments: { app: string; name: string; var: string }[];
}

interface StoredBackup extends Backup {
  readonly bytes: Buffer;
}

export class FakeBackups {
  readonly addons: FakeAddon[] = [];
  readonly backups: StoredBackup[] = [];
  /** Restores asked for: the add-on restored into and the backup's id. */
  readonly restores: { addon: string; backup: string }[] = [];
  /** How the next capture ends: with a dump, or failed with this reason. */
  nextCapture: { readonly bytes: Buffer } | { readonly failed: string } = { bytes: Buffer.from('PGDMP fake dump') };

  constructor(
    /** The fake api's token check: the token of the request, allowed on `app` when given. */
    private readonly auth: (req: IncomingMessage, app?: string) => { readonly apps: readonly string[] | null },
    /** Makes a seeded add-on one of the fake api's add-ons (`GET /api/apps/:app/addons`...). */
    private readonly seed: (addon: AddonView) => void,
  ) {}

  addAddon(name: string, type: 'postgres' | 'redis', apps: string[]): FakeAddon {
    const as = type === 'postgres' ? 'DATABASE' : 'REDIS';
    const addon: FakeAddon = {
      id: randomUUID(),
      name,
      type,
      backupHour: null,
      attachments: apps.map((app) => ({ app, name: as, var: `${as}_URL` })),
    };
    this.addons.push(addon);
    this.seed(addonView(addon));
    return addon;
  }

  /** Answers the request if it is one of these routes; false for the fake api to go on. */
  async route(
    method: string,
    path: string,
    body: unknown,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<boolean> {
    const addonRoute = /^\/api\/addons\/([^/]+)\/(backups|backups\/schedule|restore)$/.exec(path);
    if (addonRoute) {
      const addon = this.addon(req, decodeURIComponent(addonRoute[1] ?? ''));
      switch (`${method} ${addonRoute[2]}`) {
        case 'GET backups':
          this.settle();
          send(res, 200, this.backupsOf(addon).map(view));
          return true;
        case 'POST backups':
          send(res, 202, view(this.capture(addon)));
          return true;
        case 'PUT backups/schedule': {
          const hour = (body as { hour?: unknown } | undefined)?.hour;
          if (hour !== null && (typeof hour !== 'number' || !Number.isInteger(hour) || hour < 0 || hour > 23))
            throw new HttpError(400, 'invalid_params', 'hour must be 0-23 or null');
          addon.backupHour = hour;
          send(res, 200, { addon: addon.name, hour });
          return true;
        }
        case 'POST restore': {
          const { backup: id, confirm } = (body ?? {}) as { backup?: string; confirm?: string };
          const backup = this.backups.find((b) => b.id === id);
          if (!backup) throw new HttpError(404, 'not_found', `backup '${String(id)}' not found`);
          if (addon.type !== 'postgres' || backup.addonType !== 'postgres')
            throw new HttpError(400, 'invalid_params', 'backups are for postgres add-ons');
          if (confirm !== addon.name && !addon.attachments.some((a) => a.app === confirm))
            throw new HttpError(400, 'invalid_params', `confirm must be '${addon.name}'`);
          this.restores.push({ addon: addon.name, backup: backup.id });
          send(res, 200, { addon: addon.name, backup: view(backup) });
          return true;
        }
        default:
          return false;
      }
    }
    const backupRoute = /^\/api\/backups\/([^/]+)(\/download)?$/.exec(path);
    if (backupRoute) {
      const backup = this.backups.find((b) => b.id === decodeURIComponent(backupRoute[1] ?? ''));
      if (!backup) throw new HttpError(404, 'not_found', `backup '${backupRoute[1]}' not found`);
      this.addon(req, backup.addon);
      if (method === 'GET' && backupRoute[2]) {
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': backup.bytes.length,
          'Content-Disposition': `attachment; filename="${backup.addon}-${backup.name}.dump"`,
        });
        res.end(backup.bytes);
        return true;
      }
      if (method === 'DELETE' && !backupRoute[2]) {
        this.backups.splice(this.backups.indexOf(backup), 1);
        send(res, 200, view(backup));
        return true;
      }
    }
    return false;
  }

  /** A backup as a finished capture leaves it (a spec's starting point). */
  addBackup(addon: string, fields: Partial<Backup> = {}, bytes = Buffer.from('PGDMP fake dump')): Backup {
    const of = this.addons.find((a) => a.name === addon);
    const number = Math.max(0, ...this.backups.filter((b) => b.addon === addon).map((b) => b.number)) + 1;
    const now = new Date().toISOString();
    const backup: StoredBackup = {
      id: randomUUID(),
      name: `b${String(number).padStart(3, '0')}`,
      number,
      addon,
      addonType: of?.type ?? 'postgres',
      state: 'succeeded',
      digest: `sha256:${'d'.repeat(64)}`,
      size: bytes.length,
      trigger: 'manual',
      error: null,
      createdAt: now,
      finishedAt: now,
      ...fields,
      bytes,
    };
    this.backups.push(backup);
    return view(backup);
  }

  private capture(addon: FakeAddon): StoredBackup {
    if (addon.type !== 'postgres')
      throw new HttpError(400, 'invalid_params', `${addon.name} is a redis add-on: backups are for postgres add-ons`);
    this.addBackup(addon.name, { state: 'running', digest: null, size: null, finishedAt: null }, Buffer.alloc(0));
    return this.backups[this.backups.length - 1] as StoredBackup;
  }

  /** Running captures end as `nextCapture` says. */
  private settle(): void {
    for (const [i, b] of this.backups.entries()) {
      if (b.state !== 'running') continue;
      const end = this.nextCapture;
      const finishedAt = new Date().toISOString();
      this.backups[i] =
        'failed' in end
          ? { ...b, state: 'failed', error: end.failed, finishedAt }
          : {
              ...b,
              state: 'succeeded',
              size: end.bytes.length,
              digest: `sha256:${'e'.repeat(64)}`,
              finishedAt,
              bytes: end.bytes,
            };
    }
  }

  private backupsOf(addon: FakeAddon): StoredBackup[] {
    return this.backups.filter((b) => b.addon === addon.name).sort((x, y) => x.number - y.number);
  }

  /** The add-on, if the request's token may use an app attached to it. */
  private addon(req: IncomingMessage, name: string): FakeAddon {
    const token = this.auth(req);
    const addon = this.addons.find((a) => a.name === name);
    if (addon && (token.apps === null || addon.attachments.some((a) => token.apps?.includes(a.app)))) return addon;
    // as the api: one the token may not see is answered as one that does not exist
    throw new HttpError(404, 'not_found', `add-on '${name}' not found`);
  }
}

function addonView(a: FakeAddon): AddonView {
  return {
    id: a.id,
    name: a.name,
    type: a.type,
    state: 'up',
    error: null,
    node: 'node-1',
    size: 'basic',
    createdAt: new Date().toISOString(),
    attachments: a.attachments,
    backups: 0,
  };
}

function view(backup: StoredBackup): Backup {
  const { bytes: _bytes, ...rest } = backup;
  return rest;
}
