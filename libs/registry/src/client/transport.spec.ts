/**
 * The registry over TLS and its clients' trust: a token-auth registry serving HTTPS with a
 * leaf of a test CA (made with openssl: this engine library knows nothing of the platform's
 * CA), reached as `https://127.0.0.1:PORT` (loopback is plain by design, so the client is
 * given the endpoint). Trusting the CA, a client pushes and pulls (the token realm over TLS
 * too); without it, or trusting another CA, it is refused in words naming the registry.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '@paas/config';
import { ImageService, imageRoots } from '@paas/images';
import { parseNormalizedReference } from '@paas/oci';
import { UserStore } from '../auth/users';
import { type TestRegistry, testRegistry } from '../spec-support';
import { RegistryClient, RegistryClientError } from './client';
import { pullImage } from './pull';
import { pushImage } from './push';
import { insecureRegistries, registryTransport, tlsAgent } from './transport';

const dir = mkdtempSync(join(tmpdir(), 'paas-registry-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(name: string): void {
  openssl(
    'req',
    '-x509',
    ...EC,
    '-subj',
    `/CN=${name}`,
    '-days',
    '1',
    '-keyout',
    file(`${name}.key`),
    '-out',
    file(`${name}.crt`),
  );
}

describe('the registry over TLS', () => {
  let reg: TestRegistry;
  let images: ImageService;
  let pulled: ImageService;
  const trust = (name: string) => ({ file: file(`${name}.crt`), pem: readFileSync(file(`${name}.crt`), 'utf8') });
  const login = { username: 'alice', password: 'pw' };

  before(async () => {
    makeCa('ca');
    makeCa('other');
    openssl('req', '-new', ...EC, '-subj', '/CN=registry', '-keyout', file('leaf.key'), '-out', file('leaf.csr'));
    writeFileSync(file('leaf.ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(
      'x509',
      '-req',
      '-in',
      file('leaf.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      file('leaf.ext'),
      '-out',
      file('leaf.crt'),
    );
    reg = await testRegistry({
      auth: 'token',
      tls: { cert: readFileSync(file('leaf.crt'), 'utf8'), key: readFileSync(file('leaf.key'), 'utf8') },
    });
    await new UserStore(reg.root).set('alice', 'pw');
    images = await ImageService.open(imageRoots(join(dir, 'a')));
    pulled = await ImageService.open(imageRoots(join(dir, 'b')));
    const layer = await images.content.writeBytes(Buffer.from('a layer'));
    await images.commit(
      { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } },
      [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      `${reg.host}/team/app:v1`,
    );
  });
  after(() => reg?.dispose());

  const client = (trusting: string | null): RegistryClient =>
    new RegistryClient(reg.host, {
      credentials: login,
      endpoint: reg.url,
      ...(trusting ? { trust: trust(trusting) } : {}),
    });

  it('serves https, and a client trusting its CA besides the default roots pushes and pulls', async () => {
    assert.match(reg.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ref = parseNormalizedReference(`${reg.host}/team/app:v1`);
    const image = await images.resolve(`${reg.host}/team/app:v1`);
    const pushed = await pushImage(images, client('ca'), image, ref);
    assert.equal(pushed.digest, image.manifestDigest);
    const result = await pullImage(pulled, client('ca'), ref);
    assert.equal(result.image.manifestDigest, image.manifestDigest);
  });

  for (const trusting of [null, 'other']) {
    it(`refuses the registry's certificate trusting ${trusting ?? "Node's roots alone"}, naming the registry`, async () => {
      const error = await client(trusting)
        .request('/v2/')
        .then(
          () => assert.fail('the handshake succeeded'),
          (err: unknown) => err,
        );
      assert.ok(error instanceof RegistryClientError);
      assert.match(
        error.message,
        new RegExp(`registry ${reg.host}: its TLS certificate is not signed by a trusted CA .*PAAS_CA_FILE`),
      );
      if (trusting) assert.match(error.message, /other\.crt/);
    });
  }

  it('says a registry answering plain HTTP to https needs PAAS_INSECURE_REGISTRIES', async () => {
    const plain = await testRegistry();
    after(() => plain.dispose());
    const https = new RegistryClient(plain.host, {
      endpoint: plain.url.replace('http:', 'https:'),
      trust: trust('ca'),
    });
    await assert.rejects(https.request('/v2/'), /speak http rather than https.*PAAS_INSECURE_REGISTRIES/);
  });
});

describe('registryTransport', () => {
  it('trusts PAAS_CA_FILE and speaks plain HTTP only to PAAS_INSECURE_REGISTRIES besides loopback', () => {
    makeCa('env');
    const transport = registryTransport({
      PAAS_ROOT: dir,
      PAAS_CA_FILE: file('env.crt'),
      PAAS_INSECURE_REGISTRIES: '10.0.0.5:5000, [fd00::1]:5000,reg.lan',
    });
    assert.equal(transport.trust?.file, file('env.crt'));
    assert.deepEqual(transport.insecure, ['10.0.0.5:5000', '[fd00::1]:5000', 'reg.lan']);
    assert.equal(new RegistryClient('10.0.0.5:5000', transport).baseUrl, 'http://10.0.0.5:5000');
    assert.equal(new RegistryClient('10.0.0.6:5000', transport).baseUrl, 'https://10.0.0.6:5000');
    assert.deepEqual(registryTransport({ PAAS_ROOT: join(dir, 'none') }), { trust: null, insecure: [] });
    // the CA is trusted besides Node's roots, not instead of them (Docker Hub through mirrors)
    assert.deepEqual(tlsAgent(transport.trust)?.options.ca, [...rootCertificates, transport.trust?.pem]);
    assert.equal(tlsAgent(null), undefined);
  });

  it('refuses an entry that is not HOST[:PORT], naming it', () => {
    assert.throws(
      () => insecureRegistries({ PAAS_INSECURE_REGISTRIES: 'ok:5000,http://10.0.0.5:5000' }),
      (err: unknown) =>
        err instanceof ConfigError && /"http:\/\/10\.0\.0\.5:5000" is not HOST\[:PORT\]/.test(err.message),
    );
  });
});
