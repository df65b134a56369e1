/**
 * The binary ingest path (docs/protocol.md §Binary ingest): a WebSocket at `GET /ingest` on the JSON-RPC port,
 * over which a client streams signed submissions, pipelined, each answered by its receipt or an error (in any
 * order, matched by request id), with no JSON or hex on the way. Each submission goes to `node.append`, the very
 * call `sequencer_append` makes (on a replica it is forwarded to the primary, as sequencer_append's is).
 *
 * What a connection can make the node hold is bounded: the connection counts against the RPC server's caps and is
 * evictable while it has nothing in flight; at most `maxInFlight` of its requests are being sequenced at once and
 * each reserves its answer's bound from the server's write reserve (the one sequencer_append uses) until the answer
 * is written to the kernel; when either is spent, or its unsent answers pass `maxUnsentBytes` (a client that does
 * not read), the socket is not read further (back-pressure), and a client that still reads nothing within the
 * response timeout, or sends nothing for the idle timeout, loses the connection.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode } from '../core/errors.ts';
import { errorObject } from './dispatcher.ts';
import type { Receipt } from '../core/receipt.ts';
import type { Submission } from '../core/submission.ts';
import {
  decodeIngestSubmission, encodeErrorAnswer, encodeReceiptAnswer, MAX_INGEST_REQUEST_BYTES, peekRequestId, receiptAnswerBound, type IngestError,
} from '../wire/ingest-frames.ts';
import { acceptHandshake, CloseCode, WebSocketConnection } from './ingest-websocket.ts';
import type { UpgradeContext } from './server.ts';

export interface IngestLimits {
  /** Requests of one connection being sequenced at once; beyond it, the connection's socket is not read. */
  readonly maxInFlight: number;
  /** Answer bytes of one connection written but not yet taken by the kernel (its client reads slowly or not at all); beyond it, its socket is not read. */
  readonly maxUnsentBytes: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxInFlight: 1024,
  maxUnsentBytes: 1024 * 1024,
};

/** A server frame's header, at most. */
const FRAME_HEADER_BYTES = 10;

/** What the ingest path needs from a node: the append of sequencer_append. */
export interface IngestNode {
  append(s: Submission): Promise<Receipt>;
}

/** The `/ingest` upgrade route of the RPC server (src/rpc/server.ts `upgradeRoutes`). */
export function ingestRoute(node: IngestNode, limits: Partial<IngestLimits> = {}) {
  const caps: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...limits };
  return (req: http.IncomingMessage, socket: Socket, head: Buffer, ctx: UpgradeContext): void => {
    if (acceptHandshake(req, socket)) serveIngest(node, socket, head, ctx, caps);
  };
}

function serveIngest(node: IngestNode, socket: Socket, head: Buffer, ctx: UpgradeContext, caps: IngestLimits): void {
  const { writePool, limits } = ctx;
  let inFlight = 0;
  /** Write-reserve bytes this connection holds for answers not yet taken by the kernel. */
  let held = 0;
  let closed = false;
  let corked = false;
  let slowReader: NodeJS.Timeout | undefined;

  const release = (n: number): void => {
    if (closed) return; // given back at once on close
    held -= n;
    writePool.give(n);
  };
  /** Stops reading while a bound is reached, carries on once none is. */
  const regulate = (): void => {
    ctx.setBusy(inFlight > 0);
    const unsent = socket.writableLength > caps.maxUnsentBytes;
    if (unsent && !slowReader) {
      // A client that does not take its answers within the response deadline is cut off (its bytes come back).
      slowReader = setTimeout(() => socket.destroy(), limits.responseTimeoutMs);
    } else if (!unsent && slowReader) {
      clearTimeout(slowReader);
      slowReader = undefined;
    }
    if (unsent || inFlight >= caps.maxInFlight) ws.pauseReading();
    else ws.resumeReading();
  };
  /** Writes an answer; the answers of one tick (a batch's receipts) leave in one write. */
  const send = (answer: Uint8Array, reserved: number): void => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(() => {
        corked = false;
        socket.uncork();
      });
    }
    held += reserved;
    ws.send(answer, () => release(reserved));
  };
  const answerError = (requestId: number, error: IngestError): void => {
    const answer = encodeErrorAnswer(requestId, error);
    // Error answers are small and at most one per request read: reserved as they are sent.
    writePool.take(answer.byteLength);
    send(answer, answer.byteLength);
  };

  const onMessage = (message: Buffer): void => {
    const requestId = peekRequestId(message);
    if (requestId === undefined) return ws.close(CloseCode.InvalidPayload, 'a request starts with its 4-byte request id');
    let submission;
    try {
      submission = decodeIngestSubmission(message);
    } catch (e) {
      answerError(requestId, { code: ErrorCode.InvalidParams, message: `not a submission in its wire form: ${(e as Error).message}` });
      return regulate();
    }
    // Its answer's bound, from the write reserve, before anything is sequenced (a refusal changes nothing).
    const bound = receiptAnswerBound(submission.transactions.length) + FRAME_HEADER_BYTES;
    if (writePool.free < bound) {
      answerError(requestId, { code: ErrorCode.Overloaded, message: 'too many answers in flight, retry later' });
      return regulate();
    }
    writePool.take(bound);
    inFlight++;
    regulate();
    // A refusal, or a receipt that fails to encode, is answered as an error: every request gets one answer.
    void node.append(submission).then((receipt) => encodeReceiptAnswer(requestId, receipt)).catch(
      (e: unknown) => encodeErrorAnswer(requestId, errorObject(e, ctx.log)),
    ).then((answer) => {
      inFlight--;
      if (closed) return writePool.give(bound);
      // What the answer does not take of its bound is given back now, the rest once the kernel has it.
      writePool.give(bound - answer.byteLength);
      send(answer, answer.byteLength);
      regulate();
    }).catch((e: unknown) => ctx.log.error('ingest answer failed', { error: (e as Error)?.stack ?? String(e) }));
  };

  const ws = new WebSocketConnection(socket, head, MAX_INGEST_REQUEST_BYTES, {
    onMessage,
    onClose: () => {
      closed = true;
      writePool.give(held);
      held = 0;
      clearTimeout(slowReader);
      ctx.setBusy(false);
    },
  });
  socket.on('drain', regulate);
  // No traffic either way for the idle timeout (a silent client, or one that reads nothing while we wait): cut.
  socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
}
