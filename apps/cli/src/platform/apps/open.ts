/**
 * `paas open`: which URL an app is opened at, and a browser when this machine has one to show.
 * Loaded on use by ./actions.ts.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { App, Certificate, HttpsSettings } from '@paas/api-types';
import type { Env } from '@paas/config';

/**
 * The app's URL (with `path`): https when the app redirects plain HTTP there and a certificate
 * of its own is served for one of its custom domains (that domain, on the routers' HTTPS port),
 * else `webUrl`, the router's public host and port as apps:info shows them. Without a served
 * certificate, https://APP.<domain> would get the operator's default pair at best.
 */
export function openUrl(
  app: Pick<App, 'webUrl' | 'httpsWebUrl'>,
  https: Pick<HttpsSettings, 'httpsRedirect'>,
  certs: readonly Pick<Certificate, 'serving'>[],
  path = '',
): string {
  const served = certs.flatMap((c) => c.serving)[0];
  let base = new URL(app.webUrl);
  if (https.httpsRedirect && app.httpsWebUrl && served !== undefined) {
    base = new URL(app.httpsWebUrl);
    base.hostname = served;
  }
  if (path === '') return base.origin;
  return new URL(path.startsWith('/') ? path : `/${path}`, base.origin).href;
}

/** An executable `name` on the PATH of `env`, or null. */
function onPath(env: Env, name: string): string | null {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/** How long to wait for xdg-open to hand the URL over; it may stay with a browser it started. */
const OPENER_WAIT_MS = 3000;

/**
 * Opens `url` with xdg-open when a graphical session is there (`DISPLAY`, `WAYLAND_DISPLAY`)
 * and xdg-open exists. Null when it was opened or there is nothing to open it with; else why
 * it failed, for a note: `paas open` never fails for want of a browser.
 */
export async function openInBrowser(env: Env, url: string): Promise<string | null> {
  if (!env['DISPLAY'] && !env['WAYLAND_DISPLAY']) return null;
  const opener = onPath(env, 'xdg-open');
  if (!opener) return null;
  return new Promise((resolve) => {
    const child = spawn(opener, [url], { env: { ...env }, stdio: 'ignore', detached: true });
    const timer = setTimeout(() => {
      child.unref();
      resolve(null);
    }, OPENER_WAIT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve(`xdg-open: ${err.message}`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? null : `xdg-open exited ${signal ?? code}`);
    });
  });
}
