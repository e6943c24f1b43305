import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ERROR_CODES, PaasError, codeForStatus, errorCode, httpStatus, isClientError, isPaasError } from './index';

class WidgetNotFoundError extends PaasError {
  constructor(
    readonly widget: string,
    cause?: unknown,
  ) {
    super('not_found', `No such widget: ${widget}`, { cause });
  }
}

describe('PaasError', () => {
  it('carries its class name, a code and the cause it came from', () => {
    const cause = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    const err = new WidgetNotFoundError('w1', cause);
    assert.ok(err instanceof Error && err instanceof PaasError && err instanceof WidgetNotFoundError);
    assert.equal(err.name, 'WidgetNotFoundError');
    assert.equal(err.code, 'not_found');
    assert.equal(err.cause, cause);
    assert.match(inspect(err), /WidgetNotFoundError: No such widget: w1[\s\S]*\[cause\]: Error: ENOENT/);
    assert.equal('cause' in new WidgetNotFoundError('w2'), false, 'no cause: none set, as Error does');
  });

  it('is told apart from other errors by code', () => {
    const err = new WidgetNotFoundError('w1');
    assert.equal(isPaasError(err), true);
    assert.equal(isPaasError(err, 'not_found'), true);
    assert.equal(isPaasError(err, 'conflict'), false);
    assert.equal(isPaasError(new Error('x')), false);
    assert.equal(errorCode(err), 'not_found');
    assert.equal(errorCode(new TypeError('x')), 'internal');
    assert.equal(errorCode('a string'), 'internal');
  });

  it('maps every code to an HTTP status; only 4xx and unsupported show their message', () => {
    for (const code of ERROR_CODES) {
      const status = httpStatus(code);
      assert.ok(status >= 400 && status < 600, code);
      assert.equal(isClientError(code), status < 500 || code === 'unsupported', code);
    }
    assert.equal(httpStatus('not_found'), 404);
    assert.equal(httpStatus('invalid_params'), 400);
    assert.equal(httpStatus('unprocessable'), 422);
    assert.equal(httpStatus('conflict'), 409);
    assert.equal(httpStatus('internal'), 500);
    assert.equal(isClientError('internal'), false);
    assert.equal(isClientError('data_loss'), false);
    assert.equal(isClientError('unavailable'), false);
  });

  it('reads another server’s status as the code it means, and maps each code back to its own status', () => {
    for (const code of ERROR_CODES) {
      if (['aborted', 'internal', 'data_loss'].includes(code)) continue;
      assert.equal(codeForStatus(httpStatus(code)), code, code);
    }
    assert.equal(codeForStatus(0), 'unavailable', 'no answer at all');
    assert.equal(codeForStatus(502), 'unavailable');
    assert.equal(codeForStatus(418), 'invalid_params');
  });
});
