import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import type { CliIo } from '../io';
import type { UpOptions } from '../up/run';
import { type UpActions, downCommand, upCommand } from './up';

/** Parses `argv` with `up` and `down` wired to actions that record what they were asked. */
async function parse(...argv: string[]): Promise<Array<['up', UpOptions] | ['down']>> {
  const calls: Array<['up', UpOptions] | ['down']> = [];
  const io: CliIo = { env: {}, out: () => undefined, err: () => undefined };
  const actions: UpActions = {
    up: async (_io, options) => void calls.push(['up', options]),
    down: async () => void calls.push(['down']),
  };
  const program = new Command('paas').exitOverride().configureOutput({ writeErr: () => undefined });
  for (const command of [upCommand(io, actions), downCommand(io, actions)]) {
    program.addCommand(command.exitOverride().configureOutput({ writeErr: () => undefined }));
  }
  await program.parseAsync(argv, { from: 'user' });
  return calls;
}

describe('paas up and paas down', () => {
  it('stops the apps with paas up unless --keep-apps', async () => {
    assert.deepEqual(await parse('up'), [['up', { keepApps: false }]]);
    assert.deepEqual(await parse('up', '--keep-apps'), [['up', { keepApps: true }]]);
  });

  it('takes no option or argument for down', async () => {
    assert.deepEqual(await parse('down'), [['down']]);
    await assert.rejects(parse('down', '--keep-apps'), /unknown option '--keep-apps'/);
    await assert.rejects(parse('down', 'site'), /too many arguments/);
  });

  it('names a misspelt flag of up', async () => {
    await assert.rejects(parse('up', '--keep-app'), /unknown option '--keep-app'/);
  });
});
