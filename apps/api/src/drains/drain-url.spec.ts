import assert from 'node:assert/strict';
import type { LookupAddress, lookup as dnsLookup } from 'node:dns';
import { describe, it } from 'node:test';
import {
  type DrainTargetPolicy,
  DrainUrlError,
  drainLookup,
  maskDrainUrl,
  parseDrainUrl,
  refusedTarget,
} from './drain-url';

const ZONE: Record<string, LookupAddress[]> = {
  'rebind.example': [{ address: '127.0.0.1', family: 4 }],
  'meta.example': [{ address: '169.254.169.254', family: 4 }],
  'pod.example': [{ address: '10.88.0.7', family: 4 }],
  'mixed.example': [
    { address: '10.9.0.1', family: 4 },
    { address: '203.0.113.9', family: 4 },
  ],
};

const STRICT = { allowPrivate: false, protectedCidrs: ['10.9.0.0/16', '192.0.2.7/32'], bridgeCidrs: ['10.88.0.0/16'] };

describe('drain URLs', () => {
  it("takes Heroku's forms, normalised, with default ports for http(s)", () => {
    assert.deepEqual(parseDrainUrl('https://user:pa%40ss@Logs.Example.com/drain?x=1'), {
      url: 'https://user:pa%40ss@logs.example.com/drain?x=1',
      scheme: 'https',
      host: 'logs.example.com',
      port: 443,
      tls: true,
    });
    assert.equal(parseDrainUrl('http://logs.example.com:8080').port, 8080);
    assert.equal(parseDrainUrl('http://logs.example.com').url, 'http://logs.example.com/');
    assert.deepEqual(parseDrainUrl('syslog+tls://logs.example.com:6514'), {
      url: 'syslog+tls://logs.example.com:6514',
      scheme: 'syslog+tls',
      host: 'logs.example.com',
      port: 6514,
      tls: true,
    });
    assert.equal(parseDrainUrl('SYSLOG://203.0.113.9:514/').url, 'syslog://203.0.113.9:514');
    assert.equal(parseDrainUrl('syslog://[2001:db8::1]:514').host, '2001:db8::1');
  });

  it('refuses malformed URLs, saying what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['logs.example.com:514', /unsupported scheme/],
      ['ftp://logs.example.com', /unsupported scheme/],
      ['tcp://logs.example.com:514', /unsupported scheme/],
      ['syslog://logs.example.com', /no port/],
      ['syslog://logs.example.com:0', /port 0/],
      ['syslog://logs.example.com:65536', /port 1-65535/],
      ['https://logs.example.com:99999/', /port 1-65535/],
      ['syslog://user:pw@logs.example.com:514', /no user, path or query/],
      ['syslog://logs.example.com:514/path', /no user, path or query/],
      ['syslog://bad_host.example.com:514', /not a host name/],
      ['syslog://127.1:514', /not a host name/],
      ['syslog://2130706433:514', /not a host name/],
      ['https://logs.example.com/a b', /white space/],
      ['https://logs.example.com/\n', /white space/],
      ['https://logs.example.com/#frag', /fragment/],
      [`https://logs.example.com/${'a'.repeat(1100)}`, /longer than 1024/],
      [`https://logs.example.com/${'é'.repeat(400)}`, /longer than 1024/],
      ['https://', /not a valid URL|no host/],
    ];
    for (const [url, why] of cases) {
      assert.throws(
        () => parseDrainUrl(url),
        (err: unknown) => err instanceof DrainUrlError && why.test(err.message),
        url,
      );
    }
  });

  it('masks a password, and only a password', () => {
    assert.equal(maskDrainUrl('https://user:secret@logs.example.com/d'), 'https://user:***@logs.example.com/d');
    assert.equal(maskDrainUrl('https://token@logs.example.com/d'), 'https://token@logs.example.com/d');
    assert.equal(maskDrainUrl('syslog://logs.example.com:514'), 'syslog://logs.example.com:514');
  });

  it('refuses loopback, 0.0.0.0/8, link-local, multicast, the protected CIDRs and this machine', () => {
    for (const host of [
      'localhost',
      'api.localhost',
      '127.0.0.1',
      '127.9.9.9',
      '0.0.0.0',
      '0.1.2.3',
      '169.254.169.254',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '[::1]',
      '::',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '10.9.3.4',
      '192.0.2.7',
    ]) {
      assert.notEqual(refusedTarget(host, STRICT), null, host);
    }
    for (const host of ['203.0.113.9', '10.8.0.1', '192.0.2.8', '2001:db8::1', 'logs.example.com']) {
      assert.equal(refusedTarget(host, STRICT), null, host);
    }
    assert.equal(refusedTarget('127.0.0.1', { ...STRICT, allowPrivate: true }), null);
  });

  it("refuses the containers' bridge (PAAS_SUBNET) even with private targets allowed, and the nodes unless allowed", () => {
    const nodes = {
      ...STRICT,
      nodeAddresses: () => ['203.0.113.20', '198.51.100.4:7100', 'Node-3.internal', '[2001:db8::5]:7100'],
    };
    for (const host of ['10.88.0.1', '10.88.255.254', '::ffff:10.88.0.9']) {
      assert.match(refusedTarget(host, STRICT) ?? '', /containers' network \(PAAS_SUBNET\)/, host);
      assert.match(refusedTarget(host, { ...STRICT, allowPrivate: true }) ?? '', /PAAS_SUBNET/, host);
    }
    assert.equal(refusedTarget('10.89.0.1', STRICT), null);
    for (const host of ['203.0.113.20', '198.51.100.4', 'NODE-3.internal', '::ffff:203.0.113.20', '[2001:db8::5]']) {
      assert.match(refusedTarget(host, nodes) ?? '', /one of the platform's nodes/, host);
      assert.equal(refusedTarget(host, { ...nodes, allowPrivate: true }), null, host);
    }
    assert.equal(refusedTarget('203.0.113.21', nodes), null);
  });

  it('refuses at connection time a name that resolves to a refused address (DNS rebinding)', async () => {
    // a resolver that answers as a hostile name server would: loopback for one name, a mix for another
    const resolver = ((host: string, _options: object, callback: (e: Error | null, a: LookupAddress[]) => void) =>
      callback(null, ZONE[host] ?? [])) as unknown as typeof dnsLookup;
    const lookup = (host: string, options: object, policy: DrainTargetPolicy = STRICT) =>
      new Promise<unknown>((resolve, reject) =>
        drainLookup(policy, resolver)(host, options, (err, address) => (err ? reject(err) : resolve(address))),
      );
    await assert.rejects(
      lookup('rebind.example', {}),
      /drain host rebind\.example may not be reached: 127\.0\.0\.1 is a loopback/,
    );
    await assert.rejects(lookup('meta.example', { all: true }), /169\.254\.169\.254/);
    await assert.rejects(lookup('pod.example', {}, { ...STRICT, allowPrivate: true }), /PAAS_SUBNET/);
    await assert.rejects(
      lookup('mixed.example', {}, { ...STRICT, protectedCidrs: ['10.9.0.0/16'], nodeAddresses: () => ['203.0.113.9'] }),
      /may not be reached/,
    );
    assert.equal(await lookup('mixed.example', {}), '203.0.113.9', 'the refused address is skipped');
    assert.deepEqual(await lookup('mixed.example', { all: true }), [{ address: '203.0.113.9', family: 4 }]);
    assert.equal(await lookup('rebind.example', {}, { ...STRICT, allowPrivate: true }), '127.0.0.1');
  });
});
