/** Byte helpers shared by the codecs. Big-endian everywhere, as in docs/protocol.md. */

export type Bytes = Uint8Array;

export const ZERO32: Bytes = new Uint8Array(32);

export function toHex(bytes: Uint8Array): string {
  return '0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Parses 0x-prefixed hex; `length` (in bytes) is enforced when given. Throws RangeError on bad input. */
export function fromHex(hex: string, length?: number): Bytes {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || hex.charCodeAt(0) !== 48 /* 0 */ || hex.charCodeAt(1) !== 120 /* x */) {
    throw new RangeError('expected 0x-prefixed hex with an even number of digits');
  }
  // Buffer.from stops at the first non-hex digit, so a short result means invalid input (no regex on the hot path).
  const out = Buffer.from(hex.slice(2), 'hex');
  if (out.length * 2 !== hex.length - 2) throw new RangeError('expected 0x-prefixed hex with an even number of digits');
  if (length !== undefined && out.length !== length) throw new RangeError(`expected ${length} bytes, got ${out.length}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

export function concatBytes(...parts: Uint8Array[]): Bytes {
  return new Uint8Array(Buffer.concat(parts));
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
    if (this.offset !== this.bytes.byteLength) throw new Error(`encoder size mismatch: wrote ${this.offset} of ${this.bytes.byteLength}`);
    return this.bytes;
  }
}

export class DecodeError extends Error {
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
