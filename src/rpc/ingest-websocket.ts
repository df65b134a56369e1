/**
 * The server side of RFC 6455 WebSocket, as much as the ingest path needs (docs/protocol.md §Binary ingest):
 * the opening handshake, binary messages (fragmented or not) up to a size cap, ping/pong and the closing
 * handshake, no extensions or subprotocols. It is our own (not the `ws` package, which the project does not
 * depend on) so that reading can stop between two messages: a connection's requests in flight and its unread
 * answers are bounded by not parsing its next message (back-pressure), never by buffering.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { Socket } from 'node:net';

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Close codes (RFC 6455 §7.4.1) the ingest path uses; docs/protocol.md §Binary ingest lists when. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  TooBig: 1009,
} as const;

const Opcode = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;
const MAX_CONTROL_PAYLOAD = 125;
const CLOSE_GRACE_MS = 1000;
/** Fragments of one message, at most: empty ones add no bytes to the size bound. */
const MAX_FRAGMENTS = 1024;
/** Unsent bytes past which a ping is not answered. */
const MAX_PONG_BACKLOG_BYTES = 64 * 1024;

/**
 * Completes the opening handshake of `req` (RFC 6455 §4.2), or answers HTTP 400/426 and destroys the socket.
 * Returns whether the connection is now a WebSocket.
 */
export function acceptHandshake(req: http.IncomingMessage, socket: Socket): boolean {
  const key = req.headers['sec-websocket-key'];
  const refuse = (status: string, why: string): false => {
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${why.length}\r\n\r\n${why}`);
    socket.destroySoon();
    return false;
  };
  if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse('400 Bad Request', 'expected a WebSocket upgrade (GET, Upgrade: websocket)');
  if (req.headers['sec-websocket-version'] !== '13') return refuse('426 Upgrade Required\r\nsec-websocket-version: 13', 'WebSocket version 13 only');
  if (typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) return refuse('400 Bad Request', 'bad Sec-WebSocket-Key');
  const accept = createHash('sha1').update(key + HANDSHAKE_GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
  return true;
}

/** The header of a server frame (never masked, always final) carrying `length` payload bytes. */
function frameHeader(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, length]);
  if (length < 65536) {
    const h = Buffer.allocUnsafe(4);
    h[0] = 0x80 | opcode; h[1] = 126; h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.allocUnsafe(10);
  h[0] = 0x80 | opcode; h[1] = 127; h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

/** XORs `data` in place with the 4-byte masking key at `key[0..3]` (RFC 6455 §5.3). */
function unmask(data: Buffer, key: Buffer): void {
  const n = data.length;
  let i = 0;
  if (n >= 8) {
    const k = key.readUInt32LE(0);
    for (; i + 4 <= n; i += 4) data.writeInt32LE(data.readInt32LE(i) ^ k, i);
  }
  for (; i < n; i++) data[i] ^= key[i & 3];
}

export interface WebSocketHandlers {
  /** A complete binary message (its bytes are the handler's). */
  onMessage(message: Buffer): void;
  /** The connection is gone (closed by either side, or destroyed); called once. */
  onClose(): void;
}

/**
 * One accepted WebSocket connection. `pauseReading` stops parsing between two messages (and stops reading the
 * socket), `resumeReading` carries on: what is buffered meanwhile is at most one socket read plus one partial message.
 */
export class WebSocketConnection {
  readonly socket: Socket;
  private readonly maxMessageBytes: number;
  private readonly handlers: WebSocketHandlers;
  /** Bytes received and not yet parsed, contiguous. */
  private pending: Buffer = Buffer.alloc(0);
  /**
   * Reads that arrived while the frame at the front of `pending` is still incomplete, joined to it only once
   * `need` bytes are there: so a frame trickled in small reads is copied once, not once per read.
   */
  private unjoined: Buffer[] = [];
  private unjoinedBytes = 0;
  /** Bytes `pending` must hold before parsing can make progress. */
  private need = 2;
  /** Fragments of a message whose final frame has not arrived yet. */
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private paused = false;
  private closing = false;
  private closed = false;

  constructor(socket: Socket, head: Buffer, maxMessageBytes: number, handlers: WebSocketHandlers) {
    this.socket = socket;
    this.maxMessageBytes = maxMessageBytes;
    this.handlers = handlers;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.unjoined.push(chunk);
      this.unjoinedBytes += chunk.length;
      if (this.pending.length + this.unjoinedBytes < this.need) return;
      this.pending = this.pending.length === 0 && this.unjoined.length === 1 ? chunk : Buffer.concat([this.pending, ...this.unjoined]);
      this.unjoined = [];
      this.unjoinedBytes = 0;
      this.parse();
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      this.closed = true;
      this.handlers.onClose();
    });
    if (head.length > 0) {
      this.pending = head;
      queueMicrotask(() => this.parse());
    }
  }

  get isOpen(): boolean {
    return !this.closing && !this.closed;
  }

  /** Sends one binary message. Returns false once the socket's buffer is over its high-water mark. */
  send(message: Uint8Array, onFlushed?: (error?: Error | null) => void): boolean {
    if (!this.isOpen) {
      onFlushed?.(new Error('connection closed'));
      return false;
    }
    this.socket.write(frameHeader(Opcode.Binary, message.byteLength));
    return this.socket.write(message, onFlushed);
  }

  /** Starts the closing handshake (RFC 6455 §7.1.2): the client answers with its close frame, then the socket ends. */
  close(code: number, reason: string): void {
    if (!this.isOpen) return;
    this.closing = true;
    this.paused = true;
    this.socket.pause();
    const text = Buffer.from(reason.slice(0, 100));
    const payload = Buffer.allocUnsafe(2 + text.length);
    payload.writeUInt16BE(code, 0);
    text.copy(payload, 2);
    this.socket.write(frameHeader(Opcode.Close, payload.length));
    // The client's close frame is not awaited: it has nothing more to say that we would act on. A client that
    // does not read loses the socket a moment later.
    this.socket.end(payload);
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  pauseReading(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.paused || !this.isOpen) return;
    this.paused = false;
    this.socket.resume();
    this.parse();
  }

  /** Parses every complete frame in `pending`, until it runs out or reading is paused. */
  private parse(): void {
    this.need = 2;
    while (!this.paused && this.isOpen) {
      const p = this.pending;
      if (p.length < 2) return void (this.need = 2);
      const fin = (p[0] & 0x80) !== 0;
      const opcode = p[0] & 0x0f;
      if ((p[0] & 0x70) !== 0) return this.close(CloseCode.ProtocolError, 'reserved bits set: no extension was negotiated');
      if ((p[1] & 0x80) === 0) return this.close(CloseCode.ProtocolError, 'client frames must be masked');
      let length = p[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (p.length < 4) return void (this.need = 4);
        length = p.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (p.length < 10) return void (this.need = 10);
        const long = p.readBigUInt64BE(2);
        length = long > BigInt(this.maxMessageBytes) ? Infinity : Number(long);
        offset = 10;
      }
      const control = opcode >= 0x8;
      if (control && (!fin || length > MAX_CONTROL_PAYLOAD)) return this.close(CloseCode.ProtocolError, 'bad control frame');
      if (!control && this.fragmentBytes + length > this.maxMessageBytes) {
        return this.close(CloseCode.TooBig, `message larger than ${this.maxMessageBytes} bytes`);
      }
      if (p.length < offset + 4 + length) return void (this.need = offset + 4 + length); // bounded by the check above
      const key = p.subarray(offset, offset + 4);
      const payload = p.subarray(offset + 4, offset + 4 + length);
      this.pending = p.subarray(offset + 4 + length);
      unmask(payload, key);
      if (control) {
        this.control(opcode, payload);
        continue;
      }
      if (opcode === Opcode.Text) return this.close(CloseCode.UnsupportedData, 'binary messages only');
      const continuation = opcode === Opcode.Continuation;
      if (opcode !== Opcode.Binary && !continuation) return this.close(CloseCode.ProtocolError, `unknown opcode ${opcode}`);
      if (continuation !== this.fragments.length > 0) return this.close(CloseCode.ProtocolError, 'bad fragmentation');
      if (!fin || continuation) {
        // Empty fragments add no bytes: their number is bounded on its own.
        if (this.fragments.length >= MAX_FRAGMENTS) return this.close(CloseCode.TooBig, `message in more than ${MAX_FRAGMENTS} fragments`);
        this.fragments.push(Buffer.from(payload)); // a copy: `pending` may be a view of a larger read
        this.fragmentBytes += length;
        if (!fin) continue;
        const whole = Buffer.concat(this.fragments);
        this.fragments = [];
        this.fragmentBytes = 0;
        this.handlers.onMessage(whole);
      } else {
        this.handlers.onMessage(payload);
      }
    }
  }

  private control(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.Ping) {
      // A client that pings without reading is not answered past a small backlog (RFC 6455 §5.5.3 allows answering
      // only the latest ping): pongs would otherwise pile up in memory for as long as it keeps sending.
      if (this.socket.writableLength > MAX_PONG_BACKLOG_BYTES) return;
      this.socket.write(frameHeader(Opcode.Pong, payload.length));
      this.socket.write(payload);
    } else if (opcode === Opcode.Close) {
      this.close(CloseCode.Normal, '');
    } else if (opcode !== Opcode.Pong) {
      this.close(CloseCode.ProtocolError, `unknown opcode ${opcode}`);
    }
  }
}
