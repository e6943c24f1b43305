import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageCommand, shellQuote } from './image-command';

describe('imageCommand', () => {
  it('joins the entrypoint and the command, bare words left bare', () => {
    assert.equal(imageCommand({ Entrypoint: ['node'], Cmd: ['server.js'] }), 'node server.js');
    assert.equal(
      imageCommand({ Cmd: ['gunicorn', '-b', '0.0.0.0:5000', 'app:app'] }),
      'gunicorn -b 0.0.0.0:5000 app:app',
    );
  });

  it('single-quotes words the shell would split or expand, quotes included', () => {
    assert.equal(imageCommand({ Cmd: ['sh', '-c', "echo 'hi there'"] }), `sh -c 'echo '\\''hi there'\\'''`);
    assert.equal(shellQuote('$HOME'), `'$HOME'`);
    assert.equal(shellQuote(''), `''`);
  });

  it('is empty for an image without entrypoint or command', () => {
    assert.equal(imageCommand(undefined), '');
    assert.equal(imageCommand({}), '');
  });
});
