import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, DockerIgnore } from './index';

function check(patterns: string, table: Record<string, boolean>): void {
  const ignore = DockerIgnore.parse(patterns);
  for (const [path, expected] of Object.entries(table)) {
    assert.equal(ignore.matches(path), expected, `${JSON.stringify(patterns)} on ${path}`);
  }
}

describe('DockerIgnore', () => {
  it('parses comments, blank lines, leading slashes, cleaning and a BOM', () => {
    const ignore = DockerIgnore.parse(
      '\ufefftest1\n/test2\n/a/file/here\n\nlastfile\n# comment\n! /inverted/abs/path\n ./x/../y/ \n',
    );
    assert.deepEqual(
      ignore.patterns.map((p) => (p.exclusion ? '!' : '') + p.pattern),
      ['test1', 'test2', 'a/file/here', 'lastfile', '!inverted/abs/path', 'y'],
    );
  });

  it('matches a plain name only at the top level', () => check('foo', { foo: true, 'foo/bar': true, 'a/foo': false }));
  it('excludes what is under an excluded directory', () => check('node_modules', { 'node_modules/x/y.js': true }));
  it('keeps the context root', () => check('*', { '.': false, '': false, a: true }));
  it('* does not cross directories', () => check('*.md', { 'README.md': true, 'docs/a.md': false }));
  it('*/ matches one level', () => check('*/*.md', { 'docs/a.md': true, 'README.md': false, 'a/b/c.md': false }));
  it('? matches one character but not /', () => check('a?c', { abc: true, ac: false, 'a/c': false }));
  it('** matches any depth', () => check('**/*.go', { 'a.go': true, 'x/y/z.go': true, 'x/y.txt': false }));
  it('** in the middle', () => check('a/**/b', { 'a/b': true, 'a/x/y/b': true, 'b/a/b': false }));
  it('trailing ** matches everything below', () =>
    check('dist/**', { 'dist/a': true, 'dist/a/b': true, dister: false }));
  it('a leading / is the context root', () => check('/secret', { secret: true, 'a/secret': false }));
  it('character classes and ranges', () => check('file[0-9].txt', { 'file1.txt': true, 'filex.txt': false }));
  it('negated classes', () => check('[^a]*', { bcd: true, abc: false }));
  it('escapes', () => check('a\\*b', { 'a*b': true, axb: false }));
  it('regexp characters are literal', () => check('a.(b)+', { 'a.(b)+': true, 'aX(b)+': false }));
  it('! re-includes, later patterns win', () => {
    check('*.md\n!README.md', { 'a.md': true, 'README.md': false });
    check('!README.md\n*.md', { 'README.md': true });
  });
  it('! inside an excluded directory', () => {
    check('docs\n!docs/keep.md', { 'docs/drop.md': true, 'docs/keep.md': false, docs: true });
  });
  it('re-excludes after an exception', () => {
    check('a\n!a/b\na/b/c', { 'a/x': true, 'a/b/y': false, 'a/b/c': true, 'a/b/c/d': true });
  });
  it('cleans the path it is asked about', () => check('a/b', { './a/b': true, '/a/b': true, 'a/x/../b': true }));
  it('comments only at the very start of a line', () => check(' #x\n#y', { '#x': true, '#y': false }));

  it('tells whether an excluded directory must still be walked', () => {
    const ignore = DockerIgnore.parse('*\n!src/**/*.ts\n!docs/README.md');
    assert.equal(ignore.hasExceptions, true);
    assert.equal(ignore.allowsDescendant('src'), true);
    assert.equal(ignore.allowsDescendant('src/deep/er'), true);
    assert.equal(ignore.allowsDescendant('docs'), true);
    assert.equal(ignore.allowsDescendant('docs/sub'), false);
    assert.equal(ignore.allowsDescendant('node_modules'), false);
    assert.equal(DockerIgnore.parse('node_modules').allowsDescendant('node_modules'), false);
    assert.equal(DockerIgnore.parse('a\n!*/keep').allowsDescendant('a'), true);
  });

  it('rejects a lone ! and malformed patterns with the line', () => {
    assert.throws(() => DockerIgnore.parse('a\n!\n'), { message: '.dockerignore:2:1: illegal exclusion pattern: "!"' });
    assert.throws(() => DockerIgnore.parse('[abc'), /\.dockerignore:1:1: syntax error in pattern/);
    assert.throws(() => DockerIgnore.parse('x\ny\\'), DockerfileError);
    assert.throws(() => DockerIgnore.parse('[]a]'), DockerfileError);
  });
});
