import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import type { Certificate } from '../api';
import { AutoCertificates, CertificateTable, HttpsLine } from './app-certs';

const now = Date.parse('2026-06-01T00:00:00Z');

function cert(id: string, serving: string[], notAfter: string): Certificate {
  return {
    id,
    names: ['www.shop.test', '*.shop.test'],
    domains: ['www.shop.test'],
    serving,
    issuer: 'CN=R3',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter,
    source: 'manual',
    fingerprint: 'AB',
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

describe('the certificates of an app', () => {
  it('lists what each serves and when it expires, and never a key', () => {
    const html = renderToStaticMarkup(
      createElement(CertificateTable, {
        certs: [cert('c1', ['www.shop.test'], '2026-07-01T00:00:00.000Z'), cert('c2', [], '2026-05-01T00:00:00.000Z')],
        now,
      }),
    );
    assert.match(
      html,
      /<tr data-cert="c1"><th scope="row">www\.shop\.test<\/th><td><code>www\.shop\.test, \*\.shop\.test<\/code><\/td><td>2026-07-01 \(in 30 d\)<\/td><td>manual<\/td>/,
    );
    assert.match(
      html,
      /<tr data-cert="c2"><th scope="row"><span class="muted">no domain<\/span><\/th>.*<td>expired 2026-05-01<\/td>/,
    );
    assert.ok(!/key/i.test(html));
  });

  it('says how to add one when there is none, and the HTTPS policy', () => {
    assert.match(
      renderToStaticMarkup(createElement(CertificateTable, { certs: [], now })),
      /No certificates.*paas certs:add/,
    );
    assert.match(
      renderToStaticMarkup(createElement(HttpsLine, { settings: { httpsRedirect: true, hstsMaxAge: 600 } })),
      /redirect: on; HSTS: max-age 600 s\./,
    );
  });
});

describe('the automatic certificates of an app', () => {
  const domain = {
    certificateId: null,
    certificateSource: null,
    expiresAt: null,
    problem: null,
    attempts: 0,
    lastAttemptAt: null,
    nextAttemptAt: null,
  };
  it("shows each domain's state, expiry, why an order failed, and the upload a domain is left to", () => {
    const html = renderToStaticMarkup(
      createElement(AutoCertificates, {
        auto: {
          enabled: true,
          domains: [
            { ...domain, hostname: 'a.shop.test', state: 'issued', expiresAt: '2026-07-01T00:00:00.000Z' },
            {
              ...domain,
              hostname: 'b.shop.test',
              state: 'failed',
              attempts: 2,
              nextAttemptAt: '2026-06-01T00:03:00.000Z',
              problem: {
                type: 'urn:ietf:params:acme:error:connection',
                detail: 'b.shop.test: refused',
                subproblems: [],
              },
            },
            {
              ...domain,
              hostname: 'c.shop.test',
              state: 'manual',
              certificateId: 'c1',
              certificateSource: 'manual',
              expiresAt: '2026-08-01T00:00:00.000Z',
              nextAttemptAt: '2026-08-01T00:00:00.000Z',
            },
          ],
        },
        now,
      }),
    );
    assert.match(
      html,
      /<tr data-acme-state="issued"><th scope="row">a\.shop\.test<\/th><td>Cert issued<\/td><td>2026-07-01 \(in 30 d\)<\/td>/,
    );
    assert.match(
      html,
      /<tr data-acme-state="failed"><th scope="row">b\.shop\.test<\/th><td>Failed<\/td><td><\/td><td[^>]*>b\.shop\.test: refused; next attempt 2026-06-01 00:03 UTC<\/td>/,
    );
    assert.match(
      html,
      /<tr data-acme-state="manual"><th scope="row">c\.shop\.test<\/th><td>Uploaded cert<\/td><td>2026-08-01 \(in 61 d\)<\/td><td[^>]*>uploaded certificate c1 serves it; automatic once it expires or is removed<\/td>/,
    );
  });

  it('says how to turn them on when they are off', () => {
    assert.match(
      renderToStaticMarkup(createElement(AutoCertificates, { auto: { enabled: false, domains: [] }, now })),
      /Automatic certificates: off.*paas certs:auto:enable/,
    );
  });
});
