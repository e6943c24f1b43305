/**
 * Whatever the input, parsing fails only with DockerfileError: random bytes, random mixes of
 * Dockerfile tokens, and every prefix of real Dockerfiles (truncated uploads, editors mid-save).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, DockerIgnore, dump, instructions, parse, substitute } from './index';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function onlyDockerfileErrors(text: string): void {
  try {
    const tree = parse(text);
    dump(tree);
    instructions(tree, { buildArgs: { A: '1' } });
  } catch (err) {
    if (!(err instanceof DockerfileError)) {
      assert.fail(`${String(err)} for input ${JSON.stringify(text)}`);
    }
  }
}

const TOKENS = [
  'FROM ',
  'RUN ',
  'COPY ',
  'ADD ',
  'ENV ',
  'ARG ',
  'ONBUILD ',
  'HEALTHCHECK ',
  'SHELL ',
  'LABEL ',
  'CMD ',
  'EXPOSE ',
  'VOLUME ',
  'WORKDIR ',
  'USER ',
  'STOPSIGNAL ',
  'MAINTAINER ',
  'ENTRYPOINT ',
  'CPOY ',
  'AS ',
  '--from=',
  '--mount=',
  'type=cache,target=/x',
  '--chmod=',
  '--link',
  '--interval=',
  'NONE',
  'CMD',
  '<<EOF',
  '<<-"EOF"',
  'EOF',
  '\t',
  ' ',
  '\n',
  '\\\n',
  '`',
  '\\',
  '#',
  '# escape=`\n',
  '# syntax=x\n',
  '$',
  '${',
  '}',
  ':-',
  ':+',
  ':?',
  '#',
  '%',
  '/',
  '"',
  "'",
  '[',
  ']',
  '","',
  '=',
  'a',
  '1',
  '\u00a0',
  '😀',
  '\r\n',
];

const REAL = [
  '# syntax=docker/dockerfile:1',
  'ARG GO=1.22',
  'FROM --platform=$BUILDPLATFORM golang:${GO} AS build',
  'WORKDIR /src',
  'ENV CGO_ENABLED=0 GOFLAGS="-trimpath"',
  'COPY --link go.mod go.sum ./',
  'RUN --mount=type=cache,target=/root/go/pkg/mod go mod download',
  'COPY . .',
  'RUN <<-EOF',
  '\tgo build -o /out/app ./cmd/app',
  'EOF',
  'FROM gcr.io/distroless/static AS final',
  'COPY --from=build --chmod=0755 /out/app /app',
  'HEALTHCHECK --interval=30s CMD ["/app", "health"]',
  'USER 65532:65532',
  'EXPOSE 8080/tcp',
  'ONBUILD RUN echo "${X:-y}"',
  'ENTRYPOINT ["/app"]',
  '',
].join('\n');

describe('fuzz: every failure is a DockerfileError', () => {
  it('random bytes', () => {
    const next = random(1);
    for (let i = 0; i < 400; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(next() * 200) }, () => Math.floor(next() * 256)));
      onlyDockerfileErrors(bytes.toString('utf8'));
      onlyDockerfileErrors(bytes.toString('latin1'));
    }
  });

  it('random token soup', () => {
    const next = random(2);
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const n = Math.floor(next() * 30);
      for (let j = 0; j < n; j++) text += TOKENS[Math.floor(next() * TOKENS.length)];
      onlyDockerfileErrors(text);
      onlyDockerfileErrors('FROM a\n' + text);
    }
  });

  it('every prefix of a real Dockerfile', () => {
    for (let i = 0; i <= REAL.length; i++) onlyDockerfileErrors(REAL.slice(0, i));
  });

  it('substitute and .dockerignore on token soup', () => {
    const next = random(3);
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const n = Math.floor(next() * 12);
      for (let j = 0; j < n; j++) text += TOKENS[Math.floor(next() * TOKENS.length)];
      for (const fn of [() => substitute(text, { a: '' }), () => DockerIgnore.parse(text).matches('a/b')]) {
        try {
          fn();
        } catch (err) {
          if (!(err instanceof DockerfileError)) assert.fail(`${String(err)} for ${JSON.stringify(text)}`);
        }
      }
    }
  });
});
