import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, dump, parse } from './index';

const lines = (...l: string[]): string => l.join('\n') + '\n';

describe('parser: directives', () => {
  it('reads escape, syntax and check at the top, case-insensitively', () => {
    const tree = parse(lines('# Syntax = docker/dockerfile:1', '#ESCAPE=`', '# check=skip=all', 'FROM a'));
    assert.deepEqual(
      tree.directives.map((d) => [d.name, d.value, d.line]),
      [
        ['syntax', 'docker/dockerfile:1', 1],
        ['escape', '`', 2],
        ['check', 'skip=all', 3],
      ],
    );
    assert.equal(tree.escapeToken, '`');
  });

  it('stops looking after a plain comment, a blank line or an instruction', () => {
    assert.equal(parse(lines('# hello', '# escape=`', 'FROM a')).escapeToken, '\\');
    assert.equal(parse(lines('', '# escape=`', 'FROM a')).escapeToken, '\\');
    assert.equal(parse(lines('FROM a', '# escape=`')).escapeToken, '\\');
    assert.equal(parse(lines('# unknown=1', '# escape=`', 'FROM a')).escapeToken, '\\');
  });

  it('rejects a repeated directive and a bad escape token', () => {
    assert.throws(() => parse(lines('# escape=`', '# ESCAPE=\\', 'FROM a')), {
      message: 'Dockerfile:2:1: only one escape parser directive can be used',
    });
    assert.throws(() => parse(lines('# syntax=a', '# syntax=b', 'FROM a')), {
      message: 'Dockerfile:2:1: only one syntax parser directive can be used',
    });
    assert.throws(() => parse(lines('# escape=x', 'FROM a')), /Dockerfile:1:1: invalid escape token 'x'/);
  });
});

describe('parser: lines', () => {
  it('joins continuations, keeps continuation indentation, drops comments and blank lines', () => {
    const tree = parse(lines('FROM a', 'RUN a \\', '  # comment', '', '    b \\', '\tc'));
    assert.equal(dump(tree), '(from "a")\n(run "a     b \\tc")\n');
    assert.deepEqual([tree.children[1]?.startLine, tree.children[1]?.endLine], [2, 6]);
    assert.equal(tree.warnings.length, 1);
  });

  it('does not continue on an escaped escape, and continues on a lone one', () => {
    assert.equal(
      dump(parse(lines('FROM a', 'ENV A b\\\\', 'ENV B c'))),
      '(from "a")\n(env "A" "b\\\\\\\\" "")\n(env "B" "c" "")\n',
    );
    assert.equal(dump(parse(lines('FROM a', 'RUN x \\', '\\', 'y'))), '(from "a")\n(run "x y")\n');
  });

  it('uses the backtick as escape and continuation under escape=`', () => {
    const tree = parse(lines('# escape=`', 'FROM mcr.microsoft.com/windows', 'RUN dir `', '  c:\\windows'));
    assert.equal(dump(tree), '(from "mcr.microsoft.com/windows")\n(run "dir   c:\\\\windows")\n');
  });

  it('strips a byte-order mark, handles CRLF and a missing final newline', () => {
    assert.equal(dump(parse('\ufeffFROM a\r\nRUN b \\\r\n c\r\nCMD d')), '(from "a")\n(run "b  c")\n(cmd "d")\n');
  });

  it('records instruction columns, keywords as written and comments above', () => {
    const tree = parse(lines('# base image', 'FROM a', '   run  echo'));
    const run = tree.children[1];
    assert.equal(run?.column, 4);
    assert.equal(run?.keyword, 'run');
    assert.equal(run?.instruction, 'run');
    assert.deepEqual(tree.children[0]?.comments, ['base image']);
  });

  it('parses flags, a bare -- and quoted flag values', () => {
    const tree = parse(lines('FROM a', 'COPY --chown="a b" --link -- --x y'));
    assert.deepEqual(tree.children[1]?.flags, ['--chown=a b', '--link']);
    assert.deepEqual(tree.children[1]?.args, ['--x', 'y']);
  });

  it('nests ONBUILD and keeps unknown instructions for the typed layer', () => {
    const tree = parse(lines('FROM a', 'ONBUILD COPY --from=b . /', 'FOO bar'));
    assert.equal(dump(tree), '(from "a")\n(onbuild (copy ["--from=b"] "." "/"))\n(foo "")\n');
    assert.equal(tree.children[1]?.child?.column, 9);
  });

  it('falls back to the shell form on invalid JSON but rejects non-string arrays', () => {
    assert.equal(dump(parse('CMD ["a", \'b\']')), '(cmd "[\\"a\\", \'b\']")\n');
    assert.throws(() => parse('FROM a\nCMD ["a", 1]'), {
      message: 'Dockerfile:2:5: when using JSON array syntax, arrays must be comprised of strings only',
    });
  });

  it('quotes like Go: control characters, non-printables and unicode', () => {
    assert.equal(dump(parse('CMD ["\\u0001\\u00a0é😀\\u007f"]')), '(cmd "\\x01\\u00a0é😀\\x7f")\n');
  });
});

describe('parser: heredocs', () => {
  it('reads a heredoc body and extends the line range over it', () => {
    const tree = parse(lines('FROM a', 'RUN <<EOF', 'echo $HOME', 'EOF', 'CMD x'));
    const run = tree.children[1];
    assert.deepEqual(run?.heredocs, [
      { name: 'EOF', fileDescriptor: 0, expand: true, chomp: false, content: 'echo $HOME\n' },
    ]);
    assert.deepEqual([run?.startLine, run?.endLine], [2, 4]);
    assert.equal(tree.children[2]?.startLine, 5);
  });

  it('supports <<- (tabs before the terminator), quoted delimiters and file descriptors', () => {
    const tree = parse(lines('FROM a', 'RUN <<-"A" 3<<\'B\' <<C', '\tone', '\tA', 'two', 'B', 'three', 'C'));
    const docs = tree.children[1]?.heredocs ?? [];
    assert.deepEqual(
      docs.map((d) => [d.name, d.fileDescriptor, d.expand, d.chomp, d.content]),
      [
        ['A', 0, false, true, '\tone\n'],
        ['B', 3, false, false, 'two\n'],
        ['C', 0, true, false, 'three\n'],
      ],
    );
  });

  it('treats a partly quoted delimiter as quoted, and COPY <<EOF /file', () => {
    const tree = parse(lines('FROM a', 'COPY <<E"O"F /file', 'x', 'EOF'));
    assert.deepEqual(tree.children[1]?.heredocs[0]?.expand, false);
    assert.deepEqual(tree.children[1]?.args, ['<<E"O"F', '/file']);
  });

  it('does not look for heredocs in exec form, quoted text or other instructions', () => {
    assert.equal(parse(lines('FROM a', 'RUN ["cat", "<<EOF"]', 'CMD x')).children.length, 3);
    assert.equal(parse(lines('FROM a', 'RUN echo "<<EOF"', 'CMD x')).children.length, 3);
    assert.equal(parse(lines('FROM a', 'LABEL a=<<EOF', 'CMD x')).children.length, 3);
  });

  it('reads heredocs of ONBUILD triggers', () => {
    const tree = parse(lines('FROM a', 'ONBUILD RUN <<EOF', 'hi', 'EOF'));
    assert.equal(tree.children[1]?.heredocs[0]?.content, 'hi\n');
  });

  it('fails on an unterminated heredoc with its line and column', () => {
    assert.throws(() => parse(lines('FROM a', 'RUN cat <<EOF', 'never ends')), {
      message: 'Dockerfile:2:9: unterminated heredoc EOF',
    });
  });
});

describe('parser: empty input', () => {
  it('says an empty Dockerfile is empty, naming the file', () => {
    assert.throws(() => parse('', { file: 'app/Dockerfile' }), {
      message: 'the Dockerfile (app/Dockerfile) cannot be empty',
    });
    assert.throws(() => parse('# only\n# comments\n'), { message: 'Dockerfile:2:1: file with no instructions' });
  });

  it('fails with DockerfileError, not a TypeError, on a non-string', () => {
    assert.throws(() => parse(undefined as unknown as string), DockerfileError);
  });
});
