/**
 * `paas open`: the URL it chooses, and the CLI verb against the fake api
 * (../testing/platform-cli.ts) with and without a browser to open it in (a fake xdg-open on
 * the PATH that writes down what it was given).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Certificate } from '@paas/api-types';
import { platformCli } from '../testing/platform-cli';
import { openUrl } from './open';

const app = { webUrl: 'http://shop.apps.test:8080', httpsWebUrl: 'https://shop.apps.test:8443' };
const served = [{ serving: ['www.shop.test'] }];

describe('openUrl', () => {
  it('is http at the router unless the app redirects to https and a certificate of its own is served', () => {
    const off = { httpsRedirect: false };
    const on = { httpsRedirect: true };
    assert.equal(openUrl(app, off, []), 'http://shop.apps.test:8080');
    assert.equal(openUrl(app, off, served), 'http://shop.apps.test:8080', 'a certificate alone: http still serves');
    assert.equal(openUrl(app, on, []), 'http://shop.apps.test:8080', 'no certificate: the router redirects, if it can');
    assert.equal(openUrl(app, on, [{ serving: [] }]), 'http://shop.apps.test:8080');
    assert.equal(openUrl(app, on, served), 'https://www.shop.test:8443');
    assert.equal(
      openUrl({ ...app, httpsWebUrl: null }, on, served),
      'http://shop.apps.test:8080',
      'no HTTPS port known',
    );
    assert.equal(openUrl({ ...app, httpsWebUrl: 'https://shop.apps.test' }, on, served), 'https://www.shop.test');
    assert.equal(openUrl({ ...app, webUrl: 'http://shop.apps.test/' }, off, []), 'http://shop.apps.test');
  });

  it('adds a path, with or without its slash', () => {
    assert.equal(openUrl(app, { httpsRedirect: false }, [], '/admin?x=1'), 'http://shop.apps.test:8080/admin?x=1');
    assert.equal(openUrl(app, { httpsRedirect: true }, served, 'admin'), 'https://www.shop.test:8443/admin');
    assert.equal(openUrl(app, { httpsRedirect: false }, [], '/'), 'http://shop.apps.test:8080/');
  });
});

describe('paas open', () => {
  const t = platformCli();
  let bin = '';
  let opened = '';
  before(() => {
    t.api.addApp('shop');
    bin = join(t.base, 'bin');
    mkdirSync(bin);
    opened = join(t.base, 'opened');
  });
  const opener = (script: string): void => {
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);
  };

  it('prints the URL and opens nothing without a display, nor without xdg-open', async () => {
    opener(`printf '%s' "$1" > ${opened}`);
    const headless = await t.cli(['open', '-a', 'shop'], { PATH: bin });
    assert.deepEqual(headless, { code: 0, out: 'http://shop.localhost:8080\n', err: '' });
    assert.equal(existsSync(opened), false);
    const noOpener = await t.cli(['open', '-a', 'shop'], { DISPLAY: ':0', PATH: join(t.base, 'empty') });
    assert.deepEqual(noOpener, { code: 0, out: 'http://shop.localhost:8080\n', err: '' });
  });

  it('opens the URL (the https one when the app asks for it and has a certificate) with xdg-open on a display', async () => {
    opener(`printf '%s' "$1" > ${opened}`);
    const state = t.api.state('shop');
    state.https = { httpsRedirect: true, hstsMaxAge: null };
    state.certs = [
      {
        id: '11111111-1111-4111-8111-111111111111',
        names: ['www.shop.test'],
        domains: ['www.shop.test'],
        serving: ['www.shop.test'],
        issuer: 'CN=test',
        notBefore: '2026-01-01T00:00:00.000Z',
        notAfter: '2027-01-01T00:00:00.000Z',
        source: 'manual',
        fingerprint: 'AA',
        createdAt: '2026-01-01T00:00:00.000Z',
      } satisfies Certificate,
    ];
    const r = await t.cli(['apps:open', '-a', 'shop', '/admin'], { WAYLAND_DISPLAY: 'wayland-0', PATH: bin });
    assert.deepEqual(r, { code: 0, out: 'https://www.shop.test:8443/admin\n', err: '' });
    assert.equal(readFileSync(opened, 'utf8'), 'https://www.shop.test:8443/admin');
  });

  it('never fails for a browser that cannot be opened, and names an unknown app', async () => {
    opener('exit 3');
    const r = await t.cli(['open', '-a', 'shop'], { DISPLAY: ':0', PATH: bin });
    assert.equal(r.code, 0);
    assert.equal(r.out, 'https://www.shop.test:8443\n');
    assert.equal(r.err, 'Could not open a browser (xdg-open exited 3): open the URL above yourself\n');
    const missing = await t.cli(['open', '-a', 'nope']);
    assert.deepEqual(missing, { code: 1, out: '', err: "paas: app 'nope' not found\n" });
  });
});
