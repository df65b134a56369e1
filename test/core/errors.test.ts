/** The error root (core/errors.ts): BaseError's fields, and errorFromRpc for codes the SDK does not map to a class. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadSignatureError, BaseError, ErrorCode, SequencerError, errorFromRpc } from '../../src/core/errors.ts';

test('errorFromRpc: standard and unknown codes give a SequencerError; data that is not an object is kept under `value`', () => {
  const methodNotFound = errorFromRpc(ErrorCode.MethodNotFound, 'method not found: x');
  assert.equal(methodNotFound.constructor, SequencerError);
  assert.equal(methodNotFound.code, -32601);
  assert.equal(methodNotFound.data, undefined);
  const unknown = errorFromRpc(-32099, 'from a newer node', 'text');
  assert.equal(unknown.constructor, SequencerError);
  assert.deepEqual(unknown.data, { value: 'text' });
  const known = errorFromRpc(ErrorCode.BadSignature, 'bad signature: whatever the node said');
  assert.ok(known instanceof BadSignatureError);
  assert.equal(known.name, 'BadSignatureError');
  assert.equal(known.message, 'bad signature: whatever the node said');
});

test('BaseError: the code defaults to the name (also one set as a field), cause and details are kept', () => {
  const cause = new Error('disk');
  class ExampleError extends BaseError {
    override name = 'ExampleError';
  }
  const e = new ExampleError('short', { details: { height: 3 }, cause });
  assert.equal(e.code, 'ExampleError');
  assert.equal(e.cause, cause);
  assert.deepEqual(e.details, { height: 3 });
  assert.equal(new BaseError('x', { code: 'X' }).code, 'X');
  assert.equal(new BadSignatureError('r').code, ErrorCode.BadSignature);
});
