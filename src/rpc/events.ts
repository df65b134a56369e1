/**
 * Server push over plain HTTP: `GET /events?fromHeight=N` is a Server-Sent Events stream (text/event-stream) of
 * the node's stored tip (docs/protocol.md §Events). Each event names a height the node now holds, not the batch
 * itself: a follower (the SDK's watchEntries) fetches and verifies the batches it lacks with sequencer_getBatch,
 * so the stream carries nothing it must trust and stays a few dozen bytes per batch.
 *
 *   event: tip
 *   data: {"height":12,"headerHash":"0x…","nextSeq":340}
 *
 * The first event is the tip at connection time when it is at or above `fromHeight` (0 by default); then one per
 * stored batch. Interleaved, a `final` event each time the node's final height rises (§Finality), and the final
 * height at connection time when there is one:
 *
 *   event: final
 *   data: {"height":11,"headerHash":"0x…"}
 *
 * Like `tip`, it announces, it is not evidence: a follower checks the height's certificate (sequencer_getCertificate).
 *
 * Bounded: at most `maxStreams` streams at once (HTTP 503 beyond), and a stream whose unsent bytes exceed
 * `maxBufferedBytes` (a consumer that stops reading) is closed; a comment line every `heartbeatMs` keeps idle
 * connections (and the server's idle timeout) alive.
 */
import type http from 'node:http';
import { toHex } from '../core/bytes.ts';
import type { Tip } from '../core/batch.ts';
import type { InfoJson } from '../wire/rpc-types.ts';
import { errorResponse } from './dispatcher.ts';

/** What the stream needs of a node. */
export interface TipSource {
  onBatchStored(listener: (tip: Tip) => void): () => void;
  /** Absent for a source without finality: its stream has no `final` events. */
  onFinalized?(listener: (height: number, headerHash: Uint8Array) => void): () => void;
  info(): Pick<InfoJson, 'height' | 'headerHash' | 'entries'> & Partial<Pick<InfoJson, 'finalizedHeight' | 'finalizedHeaderHash'>>;
}

export interface EventStreamLimits {
  readonly maxStreams: number;
  readonly maxBufferedBytes: number;
  readonly heartbeatMs: number;
}

export const DEFAULT_EVENT_STREAM_LIMITS: EventStreamLimits = { maxStreams: 64, maxBufferedBytes: 64 * 1024, heartbeatMs: 15_000 };

/** The JSON of one `tip` event (docs/protocol.md §Events). */
export interface TipEventJson {
  height: number;
  headerHash: string;
  nextSeq: number;
}

/** The JSON of one `final` event (docs/protocol.md §Events). */
export interface FinalEventJson {
  height: number;
  headerHash: string;
}

function event(tip: TipEventJson): string {
  return `event: tip\ndata: ${JSON.stringify(tip)}\n\n`;
}

function finalEvent(final: FinalEventJson): string {
  return `event: final\ndata: ${JSON.stringify(final)}\n\n`;
}

/** The GET handler of `/events` for `source`, with its own count of open streams. */
export function eventsRoute(source: TipSource, limits: EventStreamLimits = DEFAULT_EVENT_STREAM_LIMITS): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  let open = 0;
  // Every open stream announces the same tip: format it once, not once per stream.
  let announced: { tip: Tip; text: string } | undefined;
  const announce = (tip: Tip): string => {
    if (announced?.tip !== tip) announced = { tip, text: event({ height: tip.height, headerHash: toHex(tip.headerHash), nextSeq: tip.nextSeq }) };
    return announced.text;
  };
  return (req, res) => {
    const fromParam = new URL(req.url ?? '/', 'http://x').searchParams.get('fromHeight');
    const fromHeight = fromParam === null ? 0 : Number(fromParam);
    if (!Number.isSafeInteger(fromHeight) || fromHeight < 0) {
      const body = errorResponse(null, { code: -32602, message: 'fromHeight: expected a non-negative integer' });
      return res.writeHead(400, { 'content-type': 'application/json' }).end(body);
    }
    if (open >= limits.maxStreams) {
      const body = errorResponse(null, { code: -32006, message: `too many event streams (${limits.maxStreams}), poll or retry later` });
      return res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' }).end(body);
    }
    open++;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (text: string): void => {
      // A consumer that does not read falls behind by what its socket has not taken: past the bound, it is dropped
      // (it reconnects and catches up with getBatch; nothing is lost, as events only announce heights).
      if (res.writableLength > limits.maxBufferedBytes) return void res.destroy();
      res.write(text);
    };
    const info = source.info();
    if (info.height >= fromHeight) send(event({ height: info.height, headerHash: info.headerHash, nextSeq: info.entries }));
    // Each stream's final heights strictly rise, even if the node's announcement repeats the height read at connect.
    let finalSent = -1;
    const sendFinal = (height: number, headerHash: string): void => {
      if (height <= finalSent) return;
      finalSent = height;
      send(finalEvent({ height, headerHash }));
    };
    if (info.finalizedHeight !== undefined && info.finalizedHeaderHash) sendFinal(info.finalizedHeight, info.finalizedHeaderHash);
    const unsubscribe = source.onBatchStored((tip) => {
      if (tip.height >= fromHeight) send(announce(tip));
    });
    const unsubscribeFinal = source.onFinalized?.((height, headerHash) => sendFinal(height, toHex(headerHash))) ?? (() => {});
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), limits.heartbeatMs);
    res.once('close', () => {
      open--;
      unsubscribe();
      unsubscribeFinal();
      clearInterval(heartbeat);
    });
  };
}
