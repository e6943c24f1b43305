import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgram } from '../program';
import { type SharedVerb, platformRoute } from './route';

const io = { env: {}, out: () => undefined, err: () => undefined };
const engine = createProgram(io);
const flagsOf = (verb: SharedVerb) => engine.commands.find((c) => c.name() === verb)?.options ?? [];
const route = (line: string, appKnown = false): SharedVerb | undefined =>
  platformRoute(line.split(' ').filter(Boolean), flagsOf, () => appKnown);

describe('routing the verbs both halves have', () => {
  it('keeps every engine command line on the engine', () => {
    for (const line of [
      'ps',
      'ps -a',
      'ps -a -q',
      'ps -aq',
      'ps -q -a',
      'ps --all',
      'ps -f name=web -a',
      'ps --filter status=exited -a --no-trunc',
      'run busybox echo hi',
      'run -d --name web busybox',
      'run --rm busybox ls -a /',
      'run busybox sh -c x --app foo',
      'run -e A=1 -w /tmp busybox -a app',
      'run -a stdout busybox',
      'run -a stderr -a stdout busybox',
      'run -h -a busybox',
      'run --name -a busybox',
      'run -- -a app',
      'logs web',
      'logs -f -n 10 web',
      'logs --tail 5 --since 2024-01-01 web',
      'logs --tail all web',
      'logs -t web',
      'login registry.local:5000',
      'login -u me --password-stdin localhost:5000',
      'logout localhost:5000',
      'images -a app',
      'version',
    ]) {
      assert.equal(route(line), undefined, line);
    }
  });

  it('sends -a APP, --app APP and -r REMOTE to the platform', () => {
    for (const [line, verb] of [
      ['ps -a myapp', 'ps'],
      ['ps --app myapp', 'ps'],
      ['ps --app=myapp web', 'ps'],
      ['ps -r staging', 'ps'],
      ['ps --remote staging', 'ps'],
      ['ps -q -a myapp', 'ps'],
      ['run -a myapp ls -la', 'run'],
      ['run -amyapp ls', 'run'],
      ['run --app myapp -- sh -c "echo hi"', 'run'],
      ['run -e A=1 -a myapp env', 'run'],
      ['run -r paas bash', 'run'],
      ['logs -a myapp', 'logs'],
      ['logs -f -n 10 -a myapp', 'logs'],
      ['logs --app=myapp -f', 'logs'],
      ['logs -r paas', 'logs'],
      ['logs --ps web.1 -t', 'logs'],
      ['logs -p web', 'logs'],
      ['logs --dyno=web', 'logs'],
      ['logs --source app', 'logs'],
      ['logs -s paas --tail', 'logs'],
      ['logs --tail -n 0', 'logs'],
      ['logs --tail -a myapp', 'logs'],
      ['login', 'login'],
      ['login --api http://127.0.0.1:7000', 'login'],
      ['login --api=http://h:7000 --token x', 'login'],
      ['login --token paas_x', 'login'],
      ['logout', 'logout'],
    ] as const) {
      assert.equal(route(line), verb, line);
    }
  });

  it('sends logs without a container to the platform where an app is known', () => {
    for (const line of ['logs', 'logs -t', 'logs -f -n 10']) {
      assert.equal(route(line, true), 'logs', line);
      assert.equal(route(line, false), undefined, line);
    }
    assert.equal(route('logs web', true), undefined);
    assert.equal(route('logs --tail 10 web', true), undefined);
  });
});
