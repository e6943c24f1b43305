/** reviews through the CLI's entry point against the fake api (../testing/platform-cli.ts). */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { platformCli } from '../testing/platform-cli';

describe('paas reviews', () => {
  const t = platformCli();
  before(() => void t.api.addApp('shop'));

  it('lists review apps with branch, URL, last push and state; --json; says when there are none', async () => {
    assert.equal(
      (await t.ok('reviews', '-a', 'shop')).err,
      'shop has no review apps: `git push paas BRANCH` makes one\n',
    );
    const review = {
      name: 'shop--feature-x',
      branch: 'feature/x',
      url: 'http://shop--feature-x.localhost:8080',
      lastPushAt: new Date(Date.now() - 5 * 60_000).toISOString(),
      state: 'v2 live',
    };
    t.api.addReview('shop', review);
    const [head, titles, row] = (await t.ok('reviews', '-a', 'shop')).out.split('\n');
    assert.equal(head, '=== shop Review Apps');
    assert.match(titles ?? '', /^Name +Branch +URL +Last push +State$/);
    assert.match(row ?? '', /^shop--feature-x +feature\/x +http:\/\/shop--feature-x\.localhost:8080 +5m ago +v2 live$/);
    assert.deepEqual(JSON.parse((await t.ok('reviews', '-a', 'shop', '--json')).out), [review]);
  });
});
