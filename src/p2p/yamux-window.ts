/**
 * Yamux flow control with fewer window updates. @chainsafe/libp2p-yamux answers every data frame it receives with a
 * window-update frame as soon as any of its receive window is used, so each gossip message costs a second frame
 * back (its own Noise encryption, TCP write, decryption and parsing on the sender): on a node that receives
 * thousands of small messages a second (votes) that is a large share of its CPU. Other yamux implementations (Go's
 * hashicorp/yamux, rust-yamux) send the update once at least half the window has been consumed; this does the
 * same. The sender never stalls for it: it may still send the unconsumed half while the update is due, and the
 * update, when sent, restores the whole window. Frames opening a stream (SYN, ACK) are still sent at once. Wire
 * format and semantics are unchanged (yamux spec: a window update may carry any delta).
 *
 * Applied once, to the library's stream class (its only way in: the muxer constructs the streams itself).
 */
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream';

/** The stream fields the rule reads (private in the library's typings). */
interface StreamWindow {
  readonly state: number;
  readonly recvWindow: number;
  readonly recvWindowCapacity: number;
}

/** StreamState.SYNSent and Established in the library: the states whose window updates carry no flag. */
const NO_FLAG_STATES = new Set([1, 3]);

let applied = false;

export function useHalfWindowUpdates(): void {
  if (applied) return;
  applied = true;
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate(this: StreamWindow): void };
  const sendWindowUpdate = proto.sendWindowUpdate;
  proto.sendWindowUpdate = function (this: StreamWindow): void {
    if (NO_FLAG_STATES.has(this.state) && this.recvWindowCapacity > this.recvWindow / 2) return;
    sendWindowUpdate.call(this);
  };
}
