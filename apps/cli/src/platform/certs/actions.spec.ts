/** certs, certs:add, certs:auto and certs:auto:enable through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { AddedCertificate, Certificate, CertsAuto, DomainCertState } from '@paas/api-types';
import { platformCli } from '../testing/platform-cli';

const UPLOADED = '11111111-1111-4111-8111-111111111111';
const OBTAINED = '22222222-2222-4222-8222-222222222222';

function cert(id: string, source: 'manual' | 'acme', serving: string[], notAfter: string): Certificate {
  return {
    id,
    names: serving,
    domains: serving,
    serving,
    issuer: source === 'acme' ? 'CN=Pebble Intermediate CA' : 'CN=paas test intermediate',
    notBefore: '2026-12-01T00:00:00.000Z',
    notAfter,
    source,
    fingerprint: 'AB:CD',
    createdAt: '2026-12-01T00:00:00.000Z',
  };
}

const none: Omit<DomainCertState, 'hostname' | 'state'> = {
  certificateId: null,
  certificateSource: null,
  expiresAt: null,
  problem: null,
  attempts: 0,
  lastAttemptAt: null,
  nextAttemptAt: null,
};

/** Three custom domains: one from ACME, one failing, one left to an upload. */
const AUTO: CertsAuto = {
  enabled: true,
  domains: [
    {
      ...none,
      hostname: 'api.shop.test',
      state: 'issued',
      certificateId: OBTAINED,
      certificateSource: 'acme',
      expiresAt: '2027-03-01T00:00:00.000Z',
      lastAttemptAt: '2026-12-01T00:00:00.000Z',
      nextAttemptAt: '2027-01-30T00:00:00.000Z',
    },
    {
      ...none,
      hostname: 'old.shop.test',
      state: 'failed',
      attempts: 2,
      problem: {
        type: 'urn:ietf:params:acme:error:connection',
        detail: '1 of 1 authorizations failed: old.shop.test: connection refused',
        subproblems: [],
      },
      lastAttemptAt: '2026-12-06T10:00:00.000Z',
      nextAttemptAt: '2026-12-06T10:02:00.000Z',
    },
    {
      ...none,
      hostname: 'www.shop.test',
      state: 'manual',
      certificateId: UPLOADED,
      certificateSource: 'manual',
      expiresAt: '2027-06-01T00:00:00.000Z',
      nextAttemptAt: '2027-06-01T00:00:00.000Z',
    },
  ],
};

describe('paas certs', () => {
  const t = platformCli();
  before(() => void t.api.addApp('shop'));

  it('certs lists the certificates, then each domain’s automatic certificate when they are on; --json gives both', async () => {
    assert.equal(
      (await t.ok('certs', '-a', 'shop')).out,
      'shop has no certificates: paas certs:add CERT_FILE KEY_FILE adds one.\n',
    );
    const state = t.api.state('shop');
    state.certs = [
      cert(UPLOADED, 'manual', ['www.shop.test'], '2027-06-01T00:00:00.000Z'),
      cert(OBTAINED, 'acme', ['api.shop.test'], '2027-03-01T00:00:00.000Z'),
    ];
    const off = (await t.ok('certs', '-a', 'shop')).out;
    assert.ok(!off.includes('Automatic'), off);
    state.certsAuto = AUTO;
    assert.equal(
      (await t.ok('certs', '-a', 'shop')).out,
      [
        '=== shop Certificates',
        'ID                                    Domains        Expires               Source',
        `${UPLOADED}  www.shop.test  2027-06-01 00:00 UTC  manual`,
        `${OBTAINED}  api.shop.test  2027-03-01 00:00 UTC  acme`,
        '',
        '=== Automatic certificates are enabled for shop',
        'Domain         Status         Expires               Message',
        'api.shop.test  Cert issued    2027-03-01 00:00 UTC  renews 2027-01-30 00:00 UTC',
        'old.shop.test  Failed                               1 of 1 authorizations failed: old.shop.test: connection refused; next attempt 2026-12-06 10:02 UTC',
        `www.shop.test  Uploaded cert  2027-06-01 00:00 UTC  ${UPLOADED} serves it; automatic once it expires or is removed`,
        '',
      ].join('\n'),
    );
    assert.deepEqual(JSON.parse((await t.ok('certs', '-a', 'shop', '--json')).out), state.certs);
    assert.deepEqual(JSON.parse((await t.ok('certs:auto', '-a', 'shop', '--json')).out), AUTO);
    // no certificate yet, automatic ones on: the domains' states alone
    state.certs = [];
    state.certsAuto = { enabled: true, domains: [{ ...none, hostname: 'www.shop.test', state: 'waiting' }] };
    assert.equal(
      (await t.ok('certs', '-a', 'shop')).out,
      '=== Automatic certificates are enabled for shop\nDomain         Status   Expires  Message\nwww.shop.test  Waiting\n',
    );
  });

  it('certs:add says which domains automatic certificates leave to the upload; certs:auto:enable says which it keeps', async () => {
    const state = t.api.state('shop');
    state.certs = [];
    state.certsAuto = null;
    t.api.nextUpload = {
      ...cert(UPLOADED, 'manual', ['www.shop.test'], '2027-06-01T00:00:00.000Z'),
      replaces: [{ id: OBTAINED, domains: ['www.shop.test'] }],
      overridesAuto: ['www.shop.test'],
    } satisfies AddedCertificate;
    writeFileSync(join(t.base, 'chain.pem'), '-----BEGIN CERTIFICATE-----\n');
    writeFileSync(join(t.base, 'key.pem'), '-----BEGIN PRIVATE KEY-----\n');
    const added = await t.ok('certs:add', join(t.base, 'chain.pem'), join(t.base, 'key.pem'), '-a', 'shop');
    assert.match(
      added.out,
      new RegExp(
        `\\nReplaces ${OBTAINED} for www\\.shop\\.test\\nAutomatic certificates leave www\\.shop\\.test to this one until it expires or is removed \\(paas certs:remove ${UPLOADED}\\)\\.\\n$`,
      ),
    );
    await t.ok('domains:add', 'www.shop.test', '-a', 'shop');
    await t.ok('domains:add', 'api.shop.test', '-a', 'shop');
    state.certsAuto = {
      enabled: false,
      domains: [
        { ...none, hostname: 'api.shop.test', state: null },
        { ...AUTO.domains[2], hostname: 'www.shop.test', state: 'manual' } as DomainCertState,
      ],
    };
    const enabled = await t.ok('certs:auto:enable', '-a', 'shop');
    assert.equal(enabled.err, 'Enabling automatic certificates for shop... done\n');
    assert.equal(
      enabled.out,
      "Certificates are ordered in the background: paas certs:auto -a shop shows each domain's state.\n" +
        `www.shop.test keeps its uploaded certificate ${UPLOADED}: automatic certificates take over once it expires or is removed.\n`,
    );
  });
});
