import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { suiteRedis } from '../testing/redis';
import {
  ACME_CHALLENGE_PREFIX,
  isAcmeToken,
  putAcmeChallenge,
  readAcmeChallenge,
  removeAcmeChallenge,
} from './challenges';

describe('ACME HTTP-01 challenges in Redis', () => {
  const redis = suiteRedis('paas-acme-challenges-');

  it('publishes, reads and removes a key authorization, which expires by itself', async () => {
    const token = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
    await putAcmeChallenge(redis(), token, `${token}.thumbprint`);
    assert.equal(await readAcmeChallenge(redis(), token), `${token}.thumbprint`);
    const ttl = await redis().ttl(ACME_CHALLENGE_PREFIX + token);
    assert.ok(ttl > 0 && ttl <= 3600, `ttl ${ttl}`);
    await removeAcmeChallenge(redis(), token);
    assert.equal(await readAcmeChallenge(redis(), token), null);
  });

  it('never looks up what is not a token (a path, a glob, nothing, too long)', async () => {
    await redis().set(`${ACME_CHALLENGE_PREFIX}../x`, 'leak');
    await redis().set(`${ACME_CHALLENGE_PREFIX}*`, 'leak');
    for (const bad of ['../x', '*', '', 'a/b', 'a b', 'x'.repeat(257)]) {
      assert.equal(isAcmeToken(bad), false, bad);
      assert.equal(await readAcmeChallenge(redis(), bad), null, bad);
    }
    await assert.rejects(putAcmeChallenge(redis(), '../x', 'v'), /not an ACME token/);
  });
});
