import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { basicAuthToken } from './git-auth';

const basic = (credentials: string): string => `Basic ${Buffer.from(credentials).toString('base64')}`;

describe('basicAuthToken', () => {
  it('takes the password, or the user name when the password is empty', () => {
    assert.equal(basicAuthToken(basic('git:paas_abc')), 'paas_abc');
    assert.equal(basicAuthToken(basic('paas_abc:')), 'paas_abc');
    assert.equal(basicAuthToken(basic('paas_abc')), 'paas_abc');
    assert.equal(basicAuthToken(basic('me:pa:ss')), 'pa:ss');
  });

  it('finds nothing in other schemes or empty credentials', () => {
    assert.equal(basicAuthToken(undefined), undefined);
    assert.equal(basicAuthToken('Bearer paas_abc'), undefined);
    assert.equal(basicAuthToken(basic(':')), undefined);
    assert.equal(basicAuthToken('Basic !!!'), undefined);
  });
});
