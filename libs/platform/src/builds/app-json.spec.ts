import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppJsonError, parseAppJson, parseReviewEnvironment } from './app-json';

describe('parseAppJson', () => {
  it("reads Dokku's healthchecks, defaulting the type to startup and warning about keys it ignores", () => {
    const parsed = parseAppJson(
      JSON.stringify({
        name: 'demo',
        env: { A: 'b' },
        healthchecks: {
          web: [
            { type: 'startup', name: 'web check', description: 'ready?', path: '/health/ready', attempts: 3 },
            { path: '/', content: 'hello', port: 5000, timeout: 5, wait: 2 },
          ],
          worker: [],
        },
      }),
    );
    assert.deepEqual(parsed.healthchecks, {
      web: [
        { type: 'startup', path: '/health/ready', attempts: 3 },
        { type: 'startup', path: '/', content: 'hello', port: 5000, timeout: 5, wait: 2 },
      ],
      worker: [],
    });
    assert.deepEqual(parsed.warnings, [
      'app.json healthchecks.web[0].name is not supported here and is ignored',
      'app.json healthchecks.web[0].description is not supported here and is ignored',
    ]);
  });

  it('has no healthchecks when the file declares none', () => {
    assert.deepEqual(parseAppJson('{"name":"x"}'), { healthchecks: null, warnings: [] });
    assert.deepEqual(parseAppJson('{"healthchecks":null}'), { healthchecks: null, warnings: [] });
  });

  const bad: Array<[string, RegExp]> = [
    ['{"healthchecks":', /^app\.json: not valid JSON \(/],
    ['[]', /^app\.json: expected a JSON object at the top level$/],
    ['{"healthchecks":[]}', /^app\.json healthchecks: expected an object of process type/],
    ['{"healthchecks":{"web":{}}}', /^app\.json healthchecks\.web: expected a list of checks$/],
    ['{"healthchecks":{"Web!":[]}}', /^app\.json healthchecks\.Web!: "Web!" is not a valid process type/],
    ['{"healthchecks":{"web":[1]}}', /^app\.json healthchecks\.web\[0\]: expected an object$/],
    [
      '{"healthchecks":{"web":[{"type":"sometimes"}]}}',
      /^app\.json healthchecks\.web\[0\]\.type: expected startup, liveness or readiness, got "sometimes"$/,
    ],
    [
      '{"healthchecks":{"web":[{"path":"health"}]}}',
      /^app\.json healthchecks\.web\[0\]\.path: expected a path starting with \/, got "health"$/,
    ],
    [
      '{"healthchecks":{"web":[{"attempts":"3"}]}}',
      /^app\.json healthchecks\.web\[0\]\.attempts: expected a whole number >= 0$/,
    ],
    [
      '{"healthchecks":{"web":[{"attempts":0}]}}',
      /^app\.json healthchecks\.web\[0\]\.attempts: expected at least 1 attempt$/,
    ],
    [
      '{"healthchecks":{"web":[{"timeout":1.5}]}}',
      /^app\.json healthchecks\.web\[0\]\.timeout: expected a whole number >= 0$/,
    ],
    [
      '{"healthchecks":{"web":[{"port":70000}]}}',
      /^app\.json healthchecks\.web\[0\]\.port: port 70000 is out of range 1-65535$/,
    ],
    ['{"healthchecks":{"web":[{"pathh":"/"}]}}', /^app\.json healthchecks\.web\[0\]\.pathh: unknown healthcheck key$/],
    ['{"healthchecks":{"web":[{"path":7}]}}', /^app\.json healthchecks\.web\[0\]\.path: expected a string$/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${text}`, () => {
      assert.throws(
        () => parseAppJson(text),
        (err: unknown) => err instanceof AppJsonError && message.test(err.message),
      );
    });
  }
});

describe('parseReviewEnvironment', () => {
  const review = (value: unknown): string => JSON.stringify({ environments: { review: value } });

  it("reads Heroku's addons (names and plan objects) and env (strings and value objects)", () => {
    const { addons, env } = parseReviewEnvironment(
      review({
        addons: ['heroku-postgresql', { plan: 'heroku-redis:mini' }],
        env: { MODE: 'review', SECRET: { value: 's3' } },
      }),
    );
    assert.deepEqual(
      { addons, env: { ...env } },
      { addons: ['postgres', 'redis'], env: { MODE: 'review', SECRET: 's3' } },
    );
    assert.deepEqual(parseReviewEnvironment(review({ addons: [{ plan: 'postgres' }, 'redis'] })).addons, [
      'postgres',
      'redis',
    ]);
  });

  it('keeps a config var named __proto__ as any other', () => {
    const { env } = parseReviewEnvironment('{"environments":{"review":{"env":{"__proto__":"p","A":"a"}}}}');
    assert.deepEqual(Object.entries(env), [
      ['__proto__', 'p'],
      ['A', 'a'],
    ]);
  });

  it('asks for nothing without app.json, environments or its review part', () => {
    const none = { addons: [], env: {} };
    assert.deepEqual(parseReviewEnvironment(null), none);
    assert.deepEqual(parseReviewEnvironment('{}'), none);
    assert.deepEqual(parseReviewEnvironment(JSON.stringify({ environments: { test: { addons: ['x'] } } })), none);
  });

  it('names the malformed field', () => {
    const cases: [string, RegExp][] = [
      ['{', /^app\.json: not valid JSON/],
      ['[]', /^app\.json: expected a JSON object/],
      [JSON.stringify({ environments: [] }), /^app\.json environments: expected an object/],
      [JSON.stringify({ environments: { review: 'yes' } }), /^app\.json environments\.review: expected an object/],
      [review({ addons: 'postgres' }), /^app\.json environments\.review\.addons: expected a list/],
      [
        review({ addons: ['postgres', 'heroku-kafka'] }),
        /environments\.review\.addons\[1\]: unknown add-on plan "heroku-kafka"/,
      ],
      [review({ addons: ['constructor'] }), /environments\.review\.addons\[0\]: unknown add-on plan "constructor"/],
      [review({ addons: ['toString'] }), /environments\.review\.addons\[0\]: unknown add-on plan "toString"/],
      [review({ addons: ['__proto__'] }), /environments\.review\.addons\[0\]: unknown add-on plan "__proto__"/],
      [
        review({ addons: ['postgres', 'heroku-postgresql'] }),
        /environments\.review\.addons\[1\]: a second postgres add-on \(environments\.review\.addons\[0\] is one/,
      ],
      [review({ addons: [{ plan: 3 }] }), /environments\.review\.addons\[0\]\.plan: expected a plan name/],
      [review({ env: ['A=1'] }), /environments\.review\.env: expected an object/],
      [review({ env: { '1A': 'x' } }), /environments\.review\.env\.1A: "1A" is not an environment variable name/],
      [review({ env: { A: 1 } }), /environments\.review\.env\.A: expected a string/],
      [review({ env: { A: { value: 'a\0b' } } }), /environments\.review\.env\.A\.value: expected a string/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseReviewEnvironment(text),
        (err: unknown) => err instanceof AppJsonError && message.test(err.message),
        text,
      );
    }
  });
});
