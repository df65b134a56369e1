/** Byte helpers shared by the codecs. Big-endian everywhere, as in docs/protocol.md. */

import { BaseError, InvalidArgumentError, InvariantError } from './errors.ts';

export type Bytes = Uint8Array;

export const ZERO32: Bytes = new Uint8Array(32);

/**
 * Node's Buffer where there is one: its native hex codec and memcmp are 3-10x faster than JavaScript on
 * payload-sized input, and the JSON codec converts every payload. The core also runs in browsers, which have
 * no Buffer; there the portable code below does the same job (test/browser/ checks it on the test vectors).
 */
const NodeBuffer = typeof Buffer === 'function' ? Buffer : undefined;

const HEX_DIGITS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** The value of each ASCII hex digit (either case), -1 for every other character code below 128. */
const HEX_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUES[i.toString(16).charCodeAt(0)] = HEX_VALUES[i.toString(16).toUpperCase().charCodeAt(0)] = i;

function hexValue(code: number): number {
  return code < 128 ? HEX_VALUES[code] : -1;
}

export function toHex(bytes: Uint8Array): string {
  if (NodeBuffer) return '0x' + NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  let hex = '0x';
  for (let i = 0; i < bytes.byteLength; i++) hex += HEX_DIGITS[bytes[i]];
  return hex;
}

/** Parses 0x-prefixed hex; `length` (in bytes) is enforced when given. Throws InvalidArgumentError on bad input. */
export function fromHex(hex: string, length?: number): Bytes {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || hex.charCodeAt(0) !== 48 /* 0 */ || hex.charCodeAt(1) !== 120 /* x */) {
    throw new InvalidArgumentError('expected 0x-prefixed hex with an even number of digits');
  }
  const out = NodeBuffer ? nodeHexDecode(NodeBuffer, hex) : portableHexDecode(hex);
  if (out === null) throw new InvalidArgumentError('expected 0x-prefixed hex with an even number of digits');
  if (length !== undefined && out.byteLength !== length) throw new InvalidArgumentError(`expected ${length} bytes, got ${out.byteLength}`);
  return out;
}

/** Buffer.from stops at the first non-hex digit, so a short result means invalid input (no regex on the hot path). */
function nodeHexDecode(buffer: typeof Buffer, hex: string): Bytes | null {
  const out = buffer.from(hex.slice(2), 'hex');
  return out.length * 2 === hex.length - 2 ? new Uint8Array(out.buffer, out.byteOffset, out.byteLength) : null;
}

function portableHexDecode(hex: string): Bytes | null {
  const out = new Uint8Array((hex.length - 2) / 2);
  for (let i = 0, j = 2; i < out.byteLength; i++, j += 2) {
    const high = hexValue(hex.charCodeAt(j));
    const low = hexValue(hex.charCodeAt(j + 1));
    if (high < 0 || low < 0) return null;
    out[i] = (high << 4) | low;
  }
  return out;
}

/** Lexicographic order of two byte strings: negative, zero or positive, as Buffer.compare. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (NodeBuffer) return NodeBuffer.compare(a, b);
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.byteLength - b.byteLength;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && compareBytes(a, b) === 0;
}

export function concatBytes(...parts: Uint8Array[]): Bytes {
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) { out.set(p, offset); offset += p.byteLength; }
  return out;
}

/** The bytes as a string with one character per byte: a cheap exact key for a Set or Map of byte strings. */
export function bytesKey(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/** Fixed-layout writer: the encoders know their sizes up front, so no growth logic is needed. */
export class Writer {
  readonly bytes: Bytes;
  readonly view: DataView;
  offset = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(v: number): this { this.view.setUint8(this.offset, v); this.offset += 1; return this; }
  u32(v: number): this { this.view.setUint32(this.offset, v); this.offset += 4; return this; }
  u64(v: bigint | number): this { this.view.setBigUint64(this.offset, BigInt(v)); this.offset += 8; return this; }
  raw(b: Uint8Array): this { this.bytes.set(b, this.offset); this.offset += b.byteLength; return this; }

  finish(): Bytes {
    if (this.offset !== this.bytes.byteLength) throw new InvariantError(`encoder size mismatch: wrote ${this.offset} of ${this.bytes.byteLength}`);
    return this.bytes;
  }
}

export class DecodeError extends BaseError {
  override name = 'DecodeError';
}

/** Bounds-checked reader; every read past the end throws DecodeError, never returns garbage. */
export class Reader {
  readonly bytes: Bytes;
  private readonly view: DataView;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }

  get remaining(): number { return this.bytes.byteLength - this.offset; }

  private need(n: number): void {
    if (n > this.remaining) throw new DecodeError(`truncated: need ${n} bytes at offset ${this.offset}, have ${this.remaining}`);
  }

  u8(): number { this.need(1); return this.view.getUint8(this.offset++); }
  u32(): number { this.need(4); const v = this.view.getUint32(this.offset); this.offset += 4; return v; }
  /** u64 as a JS number; values above 2^53-1 are refused (sequence numbers and heights never get there). */
  u64(): number {
    const v = this.u64big();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('u64 value above 2^53-1');
    return Number(v);
  }
  u64big(): bigint { this.need(8); const v = this.view.getBigUint64(this.offset); this.offset += 8; return v; }
  /** A view into the underlying buffer (no copy). */
  raw(n: number): Bytes { this.need(n); const v = this.bytes.subarray(this.offset, this.offset + n); this.offset += n; return v; }

  end(): void {
    if (this.remaining !== 0) throw new DecodeError(`${this.remaining} trailing bytes`);
  }
}

export function u64be(v: bigint | number): Bytes {
  return new Writer(8).u64(v).finish();
}
