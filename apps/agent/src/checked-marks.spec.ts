import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileCheckedMarks } from './checked-marks';

describe('checked marks on disk', () => {
  it('remembers the restart count a container passed its check at, across instances of the store', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'paas-marks-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const marks = new FileCheckedMarks(join(dir, 'agent', 'checked'));
    assert.equal(await marks.get('c1'), null);
    await marks.set('c1', 0);
    await marks.set('c1', 3);
    assert.equal(await new FileCheckedMarks(join(dir, 'agent', 'checked')).get('c1'), 3);
    assert.deepEqual(await readdir(join(dir, 'agent', 'checked')), ['c1'], 'no temp file left beside it');
    await marks.forget('c1');
    await marks.forget('c1');
    assert.equal(await marks.get('c1'), null);
  });

  it('reads a mark that is not a count as none (the container is checked again)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'paas-marks-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'c1'), '3x');
    assert.equal(await new FileCheckedMarks(dir).get('c1'), null);
  });
});
