import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { checkServerIdentity, connect, createServer as createTlsServer, type PeerCertificate } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { isPaasError } from '@paas/errors';
import { freePort } from '../testing/free-port';
import { suitePebble } from '../testing/pebble';
import { suiteRedis } from '../testing/redis';
import { SealError } from '../tls/sealed';
import { renewAt, needsCertificate } from './acme-policy';
import {
  ACME_TIMEOUT,
  ACME_UNREACHABLE,
  type AcmeChallenges,
  AcmeProblemError,
  type AccountKeyStore,
  ensureAccountKey,
  newEcdsaKeyPem,
  obtainCertificate,
  redisAcmeChallenges,
} from './acme';
import { ACME_CHALLENGE_PATH, readAcmeChallenge } from './challenges';

const VALIDITY_S = 600;

/** The challenges role in memory, remembering every token it was given. */
function memoryChallenges(): AcmeChallenges & { live: Map<string, string>; published: string[]; removed: string[] } {
  const live = new Map<string, string>();
  const published: string[] = [];
  const removed: string[] = [];
  return {
    live,
    published,
    removed,
    put: async (token, keyAuthorization) => {
      published.push(token);
      live.set(token, keyAuthorization);
    },
    remove: async (token) => {
      removed.push(token);
      live.delete(token);
    },
  };
}

/** A name of this run under `label` (pebble resolves every name through the suite's resolver). */
const name = (label: string): string => `${label}.${randomBytes(4).toString('hex')}.paas.test`;

describe('obtainCertificate against a real ACME server (pebble)', () => {
  /** What the HTTP-01 responder answers for a token; set by each test (the router's part). */
  let lookup: (token: string) => Promise<string | null> = async () => null;
  let responder: Server | undefined;
  let httpPort = 0;
  const redis = suiteRedis('paas-acme-');
  before(async () => {
    httpPort = await freePort();
    responder = createServer((req, res) => {
      const path = req.url ?? '';
      const token = path.startsWith(ACME_CHALLENGE_PATH) ? path.slice(ACME_CHALLENGE_PATH.length) : '';
      void lookup(token).then(
        (answer) => {
          res.writeHead(answer === null ? 404 : 200, { 'content-type': 'text/plain' }).end(answer ?? 'not found');
        },
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve) => responder?.listen(httpPort, '127.0.0.1', resolve));
  });
  after(() => {
    responder?.closeAllConnections();
    responder?.close();
  });
  // names under "unreachable." resolve to 127.0.0.2, where nothing listens on httpPort
  const pebble = suitePebble(() => ({
    httpPort,
    validitySeconds: VALIDITY_S,
    resolve: (host) => (host.startsWith('unreachable.') ? '127.0.0.2' : '127.0.0.1'),
  }));
  const accountKeyPem = newEcdsaKeyPem();
  const obtain = (domains: string[], challenges: AcmeChallenges) =>
    obtainCertificate({
      directoryUrl: pebble().directoryUrl,
      caPem: pebble().tlsCa,
      accountKeyPem,
      domains,
      challenges,
      settleTimeoutMs: 30_000,
    });

  it('obtains a certificate for two names whose chain a TLS client verifies with pebble’s root', async () => {
    const challenges = memoryChallenges();
    lookup = async (token) => challenges.live.get(token) ?? null;
    const [first, second] = [name('shop'), name('www')];
    const issued = await obtain([first, second], challenges);

    assert.equal(challenges.published.length, 2, 'one HTTP-01 challenge per name');
    assert.deepEqual([...challenges.removed].sort(), [...challenges.published].sort(), 'every one removed');
    assert.match(issued.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal((await verifiedPeer(issued, first, pebble().root)).subject.CN, first);
    assert.match((await verifiedPeer(issued, second, pebble().root)).subjectaltname ?? '', new RegExp(`DNS:${second}`));
    await assert.rejects(verifiedPeer(issued, name('other'), pebble().root), /Hostname\/IP does not match/);
    await assert.rejects(verifiedPeer(issued, first, pebble().tlsCa), /unable to get local issuer|self.signed/);
  });

  it('gives a short-lived certificate a renewal time before its expiry', async () => {
    const challenges = memoryChallenges();
    lookup = async (token) => challenges.live.get(token) ?? null;
    const domain = name('short');
    const issued = await obtain([domain], challenges);
    const life = issued.notAfter.getTime() - issued.notBefore.getTime();
    assert.ok(Math.abs(life - VALIDITY_S * 1000) <= 2_000, `lifetime ${life} ms, pebble was told ${VALIDITY_S} s`);
    const renewal = renewAt(issued.notBefore, issued.notAfter);
    assert.ok(renewal > issued.notBefore && renewal < issued.notAfter);
    const held = { names: [domain], notBefore: issued.notBefore, notAfter: issued.notAfter };
    assert.equal(needsCertificate(domain, held, new Date(renewal.getTime() - 1)), null);
    assert.equal(needsCertificate(domain, held, renewal), 'renewal-due');
  });

  it('fails with pebble’s problem document when the responder answers a wrong key authorization', async () => {
    const challenges = memoryChallenges();
    lookup = async (token) => (challenges.live.has(token) ? `${token}.not-this-account` : null);
    const domain = name('wrong');
    const err = await obtain([domain], challenges).then(
      () => assert.fail('issued despite a wrong key authorization'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AcmeProblemError, String(err));
    assert.equal(err.code, 'unprocessable');
    assert.equal(err.problem.type, 'urn:ietf:params:acme:error:unauthorized');
    assert.equal(err.problem.subproblems.length, 1);
    const [sub] = err.problem.subproblems;
    assert.equal(sub?.identifier, domain);
    assert.equal(sub?.type, 'urn:ietf:params:acme:error:unauthorized');
    assert.match(sub?.detail ?? '', /key authorization/i);
    assert.match(err.message, new RegExp(domain.replaceAll('.', '\\.')));
    assert.equal(challenges.published.length, 1);
    assert.deepEqual(challenges.removed, challenges.published, 'removed after the failure too');
  });

  it(
    'fails with a connection problem, in bounded time, when pebble cannot reach the responder',
    { timeout: 60_000 },
    async () => {
      const challenges = memoryChallenges();
      lookup = async (token) => challenges.live.get(token) ?? null;
      const [reachable, unreachable] = [name('fine'), `unreachable.${name('x')}`];
      const err = await obtain([reachable, unreachable], challenges).then(
        () => assert.fail('issued for a name whose responder is unreachable'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof AcmeProblemError, String(err));
      assert.notEqual(err.problem.type, ACME_TIMEOUT);
      const failed = err.problem.subproblems.map((s) => s.identifier);
      assert.deepEqual(failed, [unreachable], 'only the unreachable name failed');
      assert.equal(err.problem.subproblems[0]?.type, 'urn:ietf:params:acme:error:connection');
      assert.match(err.problem.subproblems[0]?.detail ?? '', /127\.0\.0\.2/);
      assert.equal(challenges.published.length, 2);
      assert.deepEqual([...challenges.removed].sort(), [...challenges.published].sort());
    },
  );

  it('proves the contract with challenges.ts: a Redis-backed responder, as every router answers', async () => {
    lookup = (token) => readAcmeChallenge(redis(), token);
    const published: string[] = [];
    const real = redisAcmeChallenges(redis());
    const tapped: AcmeChallenges = {
      put: async (token, keyAuthorization) => {
        published.push(token);
        await real.put(token, keyAuthorization);
      },
      remove: (token) => real.remove(token),
    };
    const domain = name('redis');
    const issued = await obtain([domain], tapped);
    assert.equal((await verifiedPeer(issued, domain, pebble().root)).subject.CN, domain);
    assert.equal(published.length, 1);
    for (const token of published) assert.equal(await readAcmeChallenge(redis(), token), null, 'removed from Redis');
  });

  it('fails at once, saying why, when the directory is not reachable or not trusted', { timeout: 30_000 }, async () => {
    const challenges = memoryChallenges();
    const closed = `https://127.0.0.1:${await freePort()}/dir`;
    for (const [directoryUrl, caPem, reason] of [
      [closed, pebble().tlsCa, /ECONNREFUSED/],
      [pebble().directoryUrl, undefined, /self.signed|local issuer|unable to verify/i],
    ] as const) {
      const err = await obtainCertificate({
        directoryUrl,
        accountKeyPem,
        domains: [name('x')],
        challenges,
        caPem,
      }).then(
        () => assert.fail(`issued from ${directoryUrl}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof AcmeProblemError, String(err));
      assert.equal(err.problem.type, ACME_UNREACHABLE);
      assert.equal(err.code, 'unavailable');
      assert.match(err.problem.detail, reason);
      assert.ok(err.problem.detail.includes(directoryUrl), err.problem.detail);
    }
    assert.equal(challenges.published.length, 0);
  });

  it('refuses what cannot be a domain before it asks anything, naming it', async () => {
    const challenges = memoryChallenges();
    for (const [domains, message] of [
      [[], /no domain/],
      [['*.paas.test'], /"\*\.paas\.test" is not a lower-case host name/],
      [['Shop.paas.test'], /"Shop\.paas\.test"/],
      [['a.paas.test', 'a.paas.test'], /a\.paas\.test is listed twice/],
    ] as const) {
      await assert.rejects(obtain([...domains], challenges), (e: unknown) => {
        assert.ok(isPaasError(e, 'invalid_params'), String(e));
        assert.match((e as Error).message, message);
        return true;
      });
    }
    assert.equal(challenges.published.length, 0);
  });

  it('stops when its signal aborts, with the challenges it published removed', async () => {
    const challenges = memoryChallenges();
    lookup = async (token) => challenges.live.get(token) ?? null;
    const controller = new AbortController();
    // the caller gives up the moment the first key authorization is out
    const aborting: AcmeChallenges = {
      put: async (token, keyAuthorization) => {
        await challenges.put(token, keyAuthorization);
        controller.abort();
      },
      remove: challenges.remove,
    };
    const err = await obtainCertificate({
      directoryUrl: pebble().directoryUrl,
      caPem: pebble().tlsCa,
      accountKeyPem,
      domains: [name('aborted'), name('never')],
      challenges: aborting,
      signal: controller.signal,
    }).then(
      () => assert.fail('issued despite the abort'),
      (e: unknown) => e,
    );
    assert.ok(isPaasError(err, 'aborted'), String(err));
    assert.equal(challenges.published.length, 1, 'nothing published after the abort');
    assert.deepEqual(challenges.removed, challenges.published);
  });
});

describe('the ACME account key', () => {
  /** A store as a database row would be: the first value saved stays. */
  const memoryStore = (): AccountKeyStore & { value?: string } => {
    const store: AccountKeyStore & { value?: string } = {
      load: async () => store.value,
      saveIfAbsent: async (sealed) => (store.value ??= sealed),
    };
    return store;
  };

  it('is made once, kept sealed, and the same for every replica racing to make it', async () => {
    const sealing = randomBytes(32);
    const store = memoryStore();
    const directory = 'https://acme.example/dir';
    const keys = await Promise.all([1, 2, 3].map(() => ensureAccountKey(store, sealing, directory)));
    assert.match(keys[0] ?? '', /^-----BEGIN PRIVATE KEY-----/);
    assert.deepEqual(new Set(keys).size, 1, 'one account for all');
    assert.equal(await ensureAccountKey(store, sealing, directory), keys[0], 'kept');
    assert.match(store.value ?? '', /^v1:/);
    assert.doesNotMatch(store.value ?? '', /PRIVATE KEY/, 'never plain at rest');
    await assert.rejects(ensureAccountKey(store, randomBytes(32), directory), SealError);
    await assert.rejects(
      ensureAccountKey(store, sealing, 'https://other.example/dir'),
      SealError,
      'bound to its directory',
    );
  });
});

/** The peer certificate a TLS client sees serving `issued`, verified for `servername` against `ca`. */
async function verifiedPeer(
  issued: { certPem: string; keyPem: string },
  servername: string,
  ca: string,
): Promise<PeerCertificate> {
  const server = createTlsServer({ cert: issued.certPem, key: issued.keyPem }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as { port: number };
    return await new Promise<PeerCertificate>((resolve, reject) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        servername,
        ca,
        checkServerIdentity: (_host, cert) => checkServerIdentity(servername, cert),
      });
      socket.once('secureConnect', () => {
        resolve(socket.getPeerCertificate());
        socket.destroy();
      });
      socket.once('error', reject);
    });
  } finally {
    server.close();
  }
}
