import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bytes,
  columns,
  header,
  imageLine,
  keyValues,
  listing,
  processLines,
  shellQuote,
  shortAgo,
  shortCommit,
  when,
} from './format';

describe('heroku-style output', () => {
  it('aligns key-value lists and indents multi-line values', () => {
    assert.equal(header('myapp Config Vars'), '=== myapp Config Vars\n');
    assert.equal(
      keyValues([
        ['A', '1'],
        ['LONGER_KEY', 'two'],
        ['EMPTY', ''],
        ['MISSING', undefined],
        ['ML', 'x\ny'],
      ]),
      'A:          1\nLONGER_KEY: two\nEMPTY:\nML:         x\n            y\n',
    );
  });

  it('lays out header-less columns', () => {
    assert.equal(
      columns([
        ['v10', 'Deploy abc1234', 'admin', '2m ago'],
        ['v9', 'Set FOO config vars', 'me', '1h ago'],
      ]),
      'v10  Deploy abc1234       admin  2m ago\nv9   Set FOO config vars  me     1h ago\n',
    );
  });

  it('says how long ago', () => {
    const now = Date.parse('2024-05-01T12:00:00Z');
    assert.equal(shortAgo('2024-05-01T11:59:58Z', now), 'just now');
    assert.equal(shortAgo('2024-05-01T11:59:18Z', now), '42s ago');
    assert.equal(shortAgo('2024-05-01T11:55:00Z', now), '5m ago');
    assert.equal(shortAgo('2024-05-01T09:00:00Z', now), '3h ago');
    assert.equal(shortAgo('2024-04-20T12:00:00Z', now), '11d ago');
    assert.equal(shortAgo('2023-01-02T00:00:00Z', now), '2023-01-02');
    assert.equal(shortAgo(null, now), '');
    assert.equal(when('2024-05-01T11:55:00Z', now), '2024-05-01 11:55:00 UTC (5m ago)');
  });

  it('quotes for a shell only when needed', () => {
    assert.equal(shellQuote('plain/value-1.2'), 'plain/value-1.2');
    assert.equal(shellQuote('two words'), "'two words'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(shellQuote(''), "''");
  });

  it('lists, shortens and sizes', () => {
    assert.equal(listing(['A']), 'A');
    assert.equal(listing(['A', 'B', 'C']), 'A, B and C');
    assert.equal(shortCommit('0123456789abcdef0123456789abcdef01234567'), '0123456');
    assert.equal(bytes(512 * 1024 * 1024), '512 MiB');
    assert.equal(bytes(1536 * 1024 * 1024), '1.5 GiB');
    assert.equal(bytes(1023), '1023 B');
    assert.equal(bytes(null), '');
  });

  it('shows an image with its digest and process types as lines, and nothing for what is missing', () => {
    assert.equal(imageLine('r:5000/shop:v3', 'sha256:abc'), 'r:5000/shop:v3@sha256:abc');
    assert.equal(imageLine('r:5000/shop:v3', null), 'r:5000/shop:v3');
    assert.equal(imageLine(null, 'sha256:abc'), undefined);
    assert.equal(processLines({ web: 'npm start', worker: 'node w.js' }), 'web: npm start\nworker: node w.js');
    assert.equal(processLines({}), undefined);
    assert.equal(processLines(null), undefined);
  });
});
