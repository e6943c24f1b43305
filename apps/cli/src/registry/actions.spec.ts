/**
 * `paas run`/`create` of an image this host lacks, in a fresh root, through the CLI's entry
 * point: Docker's "Unable to find image" and, when it cannot be had, how to get it. Only
 * loopback is asked (a port nothing listens on); `--pull never` asks no registry at all.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseNormalizedReference } from '@paas/oci';
import type { CliIo } from '../io';
import { runCli } from '../program';
import { howToGet } from './actions';

describe('an image this host lacks', () => {
  const base = mkdtempSync(join(tmpdir(), 'paas-missing-image-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  const run = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const io: CliIo = {
      env: { PATH: process.env['PATH'], PAAS_ROOT: join(base, 'root'), PAAS_RUN: join(base, 'run') },
      out: (s) => (out += s),
      err: (s) => (err += s),
    };
    const code = await runCli(argv, io);
    return { code, out, err };
  };

  it('says to bootstrap a base image paas makes from the host, or to pull it', async () => {
    const r = await run('run', '--rm', '--pull', 'never', 'busybox', 'true');
    assert.equal(r.code, 125);
    assert.match(r.err, /No such image: busybox:latest\n/);
    assert.match(
      r.err,
      /To get it: 'paas pull busybox:latest' from a registry this host can reach, or make it from this host's own binaries: 'paas image bootstrap busybox'\n$/,
    );
    const node = await run('create', '--pull', 'never', 'node:20', 'true');
    assert.equal(node.code, 125);
    assert.match(node.err, /'paas image bootstrap node'\n$/);
  });

  it('says to pull an image it cannot make, after Docker’s words and the failed pull', async () => {
    const r = await run('run', '--rm', '127.0.0.1:1/shop:v1', 'true');
    assert.equal(r.code, 125);
    assert.match(r.err, /^Unable to find image '127\.0\.0\.1:1\/shop:v1' locally\n/);
    assert.match(r.err, /127\.0\.0\.1:1/);
    assert.match(
      r.err,
      /\nTo get it: 'paas pull 127\.0\.0\.1:1\/shop:v1' from a registry this host can reach \(with 'paas login' first if it asks\), or 'paas load -i FILE' from a saved archive\n$/,
    );
    assert.doesNotMatch(r.err, /bootstrap/);
  });

  it('offers bootstrap only for the official base images', () => {
    const hint = (name: string): string => howToGet(parseNormalizedReference(name));
    for (const name of ['busybox', 'redis:7', 'docker.io/library/postgres:15', 'python:3', 'debian:bookworm'])
      assert.match(hint(name), /'paas image bootstrap [a-z]+'$/, name);
    for (const name of ['someone/busybox', 'ghcr.io/library/node:20', 'alpine', '127.0.0.1:5000/busybox'])
      assert.doesNotMatch(hint(name), /bootstrap/, name);
  });
});
