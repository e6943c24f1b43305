import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import type { Addon, AddonBackup, App } from '../api';
import { AddonTable, Addons, BackupTable } from './app-addons';

const now = Date.parse('2026-06-01T12:00:00Z');
const none = async (): Promise<void> => undefined;

function addon(name: string, fields: Partial<Addon> = {}): Addon {
  return {
    id: `id-${name}`,
    name,
    type: 'postgres',
    state: 'up',
    error: null,
    node: 'node-1',
    size: 'basic',
    createdAt: '2026-06-01T00:00:00.000Z',
    attachments: [{ app: 'shop', name: 'DATABASE', var: 'DATABASE_URL' }],
    backups: 0,
    ...fields,
  };
}

function backup(n: number, fields: Partial<AddonBackup> = {}): AddonBackup {
  return {
    id: `b-${n}`,
    name: `b00${n}`,
    number: n,
    addon: 'pg-shop',
    addonType: 'postgres',
    state: 'succeeded',
    digest: `sha256:${'0'.repeat(64)}`,
    size: 3 * 1024 * 1024,
    trigger: 'manual',
    error: null,
    createdAt: '2026-06-01T11:00:00.000Z',
    finishedAt: '2026-06-01T11:00:02.000Z',
    ...fields,
  };
}

describe('the add-ons of an app', () => {
  it('shows each one with its type, state, node, the var it is attached as and the other apps using it', () => {
    const html = renderToStaticMarkup(
      createElement(AddonTable, {
        addons: [
          addon('postgres-amber-41234', {
            attachments: [
              { app: 'shop', name: 'DATABASE', var: 'DATABASE_URL' },
              { app: 'worker', name: 'DATABASE', var: 'DATABASE_URL' },
              { app: 'admin', name: 'MAIN', var: 'MAIN_URL' },
            ],
          }),
          addon('redis-cyan-100', {
            type: 'redis',
            state: 'failed',
            error: 'node node-2 was removed: its volume is gone',
            node: null,
            size: 'standard-1x',
            attachments: [{ app: 'shop', name: 'CACHE', var: 'CACHE_URL' }],
          }),
        ],
        app: 'shop',
        busy: false,
        onDetach: none,
        onDestroy: none,
      }),
    );
    assert.match(
      html,
      new RegExp(
        '<tr data-addon="postgres-amber-41234" data-addon-state="up"><th scope="row">postgres-amber-41234</th>' +
          '<td>PostgreSQL <span class="muted small">basic</span></td><td><span class="badge good">up</span></td>' +
          '<td>node-1</td><td><span><code>DATABASE_URL</code></span></td>' +
          '<td><span><a href="/apps/worker/addons">worker</a></span><span>, <a href="/apps/admin/addons">admin</a></span></td>' +
          '<td class="actions"><button type="button" class="">Detach</button><button type="button" class="danger-outline">Destroy</button></td>',
      ),
    );
    assert.match(
      html,
      new RegExp(
        '<tr data-addon="redis-cyan-100" data-addon-state="failed"><th scope="row">redis-cyan-100</th>' +
          '<td>Redis <span class="muted small">standard-1x</span></td>' +
          '<td><span class="badge bad">failed</span><span class="hint"> node node-2 was removed: its volume is gone</span></td>' +
          '<td><span class="muted">not placed</span></td><td><span><code>CACHE_URL</code></span></td><td><span class="muted">–</span></td>',
      ),
    );
  });

  it('disables detach and destroy while an action runs', () => {
    const html = renderToStaticMarkup(
      createElement(AddonTable, { addons: [addon('pg-1')], app: 'shop', busy: true, onDetach: none, onDestroy: none }),
    );
    assert.match(html, /<button type="button" class="" disabled="">Detach<\/button>/);
    assert.match(html, /<button type="button" class="danger-outline" disabled="">Destroy<\/button>/);
  });

  it('says how to add one when there is none', () => {
    assert.match(
      renderToStaticMarkup(
        createElement(AddonTable, { addons: [], app: 'shop', busy: false, onDetach: none, onDestroy: none }),
      ),
      /No add-ons.*paas addons:create postgres -a shop/,
    );
  });

  it('offers PostgreSQL and Redis with an optional attachment name, and attaching an existing add-on', () => {
    const app = { name: 'shop', webUrl: 'http://shop.paas.test' } as App;
    const html = renderToStaticMarkup(
      createElement(Addons, { view: { app, version: 0, logs: [], stream: 'open', changed: () => undefined } }),
    );
    assert.match(html, /<h2 id="addons-heading">Add-ons<\/h2>/);
    assert.match(html, /<label for="addon-as">Attach as \(optional\)<\/label>/);
    assert.match(html, /<button type="button" class="primary">Add PostgreSQL<\/button>/);
    assert.match(html, /<button type="button" class="primary">Add Redis<\/button>/);
    assert.match(
      html,
      /Attach an existing add-on.*<label for="attach-name">Add-on<\/label>.*<button type="submit">Attach<\/button>/,
    );
  });
});

describe('the backups of a PostgreSQL add-on', () => {
  it('lists them newest first with state, size and time, and why one failed', () => {
    const html = renderToStaticMarkup(
      createElement(BackupTable, {
        backups: [
          backup(1, { trigger: 'scheduled', createdAt: '2026-05-30T02:00:00.000Z' }),
          backup(2, { state: 'failed', size: null, error: 'pg_dump: connection refused' }),
          backup(3, { state: 'running', size: null, createdAt: '2026-06-01T11:59:30.000Z', finishedAt: null }),
        ],
        addon: 'postgres-amber-41234',
        app: 'shop',
        now,
      }),
    );
    const rows = [...html.matchAll(/<tr data-backup="(b\d+)"/g)].map((m) => m[1]);
    assert.deepEqual(rows, ['b003', 'b002', 'b001']);
    assert.match(
      html,
      /<tr data-backup="b003" data-backup-state="running"><th scope="row">b003<\/th><td><span class="badge busy">running<\/span><\/td><td class="num">–<\/td><td><time dateTime="2026-06-01T11:59:30.000Z" [^>]*>30s ago<\/time><\/td>/i,
    );
    assert.match(
      html,
      /<td><span class="badge bad">failed<\/span><span class="hint"> pg_dump: connection refused<\/span><\/td><td class="num">–<\/td>/,
    );
    assert.match(
      html,
      /<tr data-backup="b001" data-backup-state="succeeded">.*<td class="num">3\.0 MiB<\/td><td><time [^>]*>2d ago<\/time><\/td><td class="muted">scheduled<\/td>/,
    );
    assert.match(html, /paas pg:backups:restore b001 -a shop --confirm shop/);
  });

  it('says how to schedule them when there is none', () => {
    assert.match(
      renderToStaticMarkup(createElement(BackupTable, { backups: [], addon: 'pg-1', app: 'shop', now })),
      /No backups yet.*paas pg:backups:schedule pg-1 --at HOUR -a shop/,
    );
  });
});
