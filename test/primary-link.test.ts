/**
 * A replica forwards appends only to a peer that proved it holds the primary's key (a PeerRecord for its own,
 * Noise-authenticated, peer id), and never hands a peer's error text to a client as its answer. Real nodes and
 * real libp2p hosts on loopback: the impostors are hosts the test runs, speaking the real protocols.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { toHex } from '../src/core/bytes.ts';
import { ErrorCode } from '../src/core/errors.ts';
import { signPeerRecord } from '../src/core/peer-record.ts';
import { checkReceipt } from '../src/core/receipt.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { createHost, type Host } from '../src/p2p/host.ts';
import { APPEND_PROTOCOL, STATUS_PROTOCOL, encodeJson, type Status } from '../src/wire/p2p-messages.ts';
import { parseReceipt } from '../src/wire/json.ts';
import { RpcError } from '../src/client/rpc-client.ts';
import { requestStatus } from '../src/roles/log-service.ts';
import {
  CHAIN_ID, LOG_ID, OUTSIDER_KEY, PRIMARY_KEY, SEPARATOR, client, clientSigner, startPrimary, startReplica, tempDir, waitFor,
} from './helpers/network.ts';
import type { ReceiptJson } from '../src/wire/rpc-types.ts';
import { silentLogger } from '../src/core/logger.ts';
import { HeaderWatch } from '../src/roles/header-watch.ts';
import { ReplicaRole } from '../src/roles/replica-role.ts';
import { LogStore } from '../src/storage/log-store.ts';
import { PRIMARY_RULES } from './helpers/equivocator.ts';

const tx = (s: string) => new TextEncoder().encode(s);
const signer = clientSigner();
const PRIMARY = addressFromPrivateKey(PRIMARY_KEY);
let nonce = 1n;

interface Impostor {
  readonly host: Host;
  /** Appends it was asked to sequence. */
  appends: number;
  statusAnswers: number;
}

/**
 * A libp2p host that answers status as the primary (with whatever record `record` makes for its peer id) and
 * every forwarded append with an invented error.
 */
async function startImpostor(t: TestContext, bootstrap: string[], record: (peerId: string) => Promise<Status['peerRecord']> | Status['peerRecord'],
  reply: Record<string, unknown> = { error: { code: ErrorCode.NonceReplayed, message: 'IMPOSTOR: nonce used, pay 0xbad to unlock it' } }): Promise<Impostor> {
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: bootstrap, maxMessageBytes: 4_000_000, log: () => {} });
  t.after(() => host.stop());
  const impostor: Impostor = { host, appends: 0, statusAnswers: 0 };
  await host.handleRequests(STATUS_PROTOCOL, async () => {
    impostor.statusAnswers++;
    const status: Status = {
      mode: 'primary', address: toHex(PRIMARY), primary: toHex(PRIMARY), logId: toHex(LOG_ID), height: 1_000_000,
      highestHeader: null, peerRecord: await record(host.peerId), finalCertificate: null, lockCertificate: null, voteHeights: [],
    };
    return [encodeJson(status)];
  }, { maxRequestBytes: 64 });
  await host.handleRequests(APPEND_PROTOCOL, () => {
    impostor.appends++;
    return [encodeJson(reply)];
  }, { maxRequestBytes: 4_000_000 });
  return impostor;
}

async function appendVia(node: Parameters<typeof client>[0], text: string): Promise<ReceiptJson> {
  return client(node).append(signer.sign({ nonce: nonce++, transactions: [tx(text)] }));
}

test('impostors that claim to be the primary without its key never receive a forwarded append', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  const alone = await startReplica(join(dir.path, 'alone'), []);
  t.after(async () => { await Promise.all([replica.stop(), alone.stop(), primary.stop()]); await dir.remove(); });
  const primaryPeer = (await client(primary).info()).peerId as string;
  await waitFor(async () => (await client(replica).info()).connectedPeers.includes(primaryPeer), 10_000, 'replica connected to the primary');
  // The primary's genuine record, as anyone connected to it can fetch it.
  const probe = await startImpostor(t, primary.multiaddrs(), () => null);
  await waitFor(() => probe.host.connectedPeers().includes(primaryPeer), 10_000, 'probe connected to the primary');
  // The status request is an empty frame: anything else is refused with a stream reset, not answered.
  const nonEmpty = async () => {
    for await (const frame of probe.host.request(primaryPeer, STATUS_PROTOCOL, new Uint8Array([0x7b, 0x7d]), { maxFrameBytes: 4096, maxFrames: 1 })) return frame;
    return undefined;
  };
  await assert.rejects(nonEmpty(), 'a non-empty status request is refused');
  const genuine = (await requestStatus(probe.host, primaryPeer)).peerRecord!;
  assert.equal(genuine.peerId, primaryPeer);

  // They dial the replica after the primary, so each is the last peer to claim the primary's role.
  const targets = [...replica.multiaddrs(), ...alone.multiaddrs()];
  const impostors = [
    await startImpostor(t, targets, () => null), // no record at all
    await startImpostor(t, targets, (peerId) => {
      const r = signPeerRecord(SEPARATOR, LOG_ID, peerId, Math.floor(Date.now() / 1000), OUTSIDER_KEY); // its own peer id, another key
      return { peerId: r.peerId, issuedAt: r.issuedAt, signature: toHex(r.signature) };
    }),
    await startImpostor(t, targets, () => genuine), // the real primary's record, replayed from another peer id
    await startImpostor(t, targets, (peerId) => ({ ...genuine, peerId })), // the real signature over another peer id
  ];
  await waitFor(() => impostors.every((i) => i.statusAnswers >= 2), 10_000, 'both replicas asked every impostor for its status');

  // Appends through the replica reach the real primary and come back with valid receipts.
  for (let i = 0; i < 4; i++) {
    const receipt = await appendVia(replica, `via the replica ${i}`);
    assert.equal(checkReceipt({ logId: LOG_ID, separator: SEPARATOR, primary: PRIMARY }, parseReceipt(receipt), [tx(`via the replica ${i}`)]), null);
    assert.equal((await client(primary).getBatch(receipt.height)).headerHash, receipt.headerHash, 'sequenced by the real primary');
  }
  // With only impostors connected, the answer is the replica's own "primary unavailable", not an impostor's story.
  const err = await appendVia(alone, 'nowhere to go').catch((e) => e);
  assert.ok(err instanceof RpcError, String(err));
  assert.equal(err.code, ErrorCode.PrimaryUnavailable);
  assert.doesNotMatch(JSON.stringify({ message: err.message, data: err.data }), /IMPOSTOR|0xbad/);
  assert.deepEqual(impostors.map((i) => i.appends), [0, 0, 0, 0], 'no impostor was ever sent an append');
  assert.equal((await client(alone).info()).entries, 0);
});

test('the primary\'s error answers are restated by the replica: its own message, the primary\'s text only in data', async (t) => {
  const dir = await tempDir();
  // A peer that does hold the primary's key (it proves it), but whose answers say whatever it likes.
  const sign = (peerId: string): Status['peerRecord'] => {
    const r = signPeerRecord(SEPARATOR, LOG_ID, peerId, Math.floor(Date.now() / 1000), PRIMARY_KEY);
    return { peerId: r.peerId, issuedAt: r.issuedAt, signature: toHex(r.signature) };
  };
  const invented = 'IMPOSTOR: nonce used, pay 0xbad to unlock it';
  const replayed = await startImpostor(t, [], sign, { error: { code: ErrorCode.NonceReplayed, message: invented, data: { pay: '0xbad' } } });
  const odd = await startImpostor(t, [], sign, { error: { code: -32099, message: invented } });
  const garbage = await startImpostor(t, [], sign, { result: { nonsense: true } });
  t.after(() => dir.remove());

  for (const [name, keyHolder] of Object.entries({ replayed, odd, garbage })) {
    const replica = await startReplica(join(dir.path, name), keyHolder.host.multiaddrs());
    try {
      await waitFor(() => keyHolder.statusAnswers >= 1, 10_000, 'replica asked for the status');
      const s = signer.sign({ nonce: nonce++, transactions: [tx(name)] });
      const err = await client(replica).append(s).catch((e) => e);
      assert.ok(err instanceof RpcError, String(err));
      assert.equal(keyHolder.appends, 1, 'forwarded to the peer that proved the key');
      assert.doesNotMatch(err.message, /IMPOSTOR|0xbad/);
      if (name === 'replayed') {
        assert.equal(err.code, ErrorCode.NonceReplayed);
        assert.equal(err.message, `nonce ${s.nonce} was already used by ${toHex(s.sender)}`);
        assert.deepEqual(err.data, { sender: toHex(s.sender), nonce: s.nonce.toString(), primaryMessage: invented });
      } else {
        assert.equal(err.code, ErrorCode.PrimaryUnavailable, `${name}: an answer a primary never gives is "primary unavailable"`);
      }
    } finally {
      await replica.stop();
    }
  }
});

test('a replica role asks the peers connected before it was made, not only those that connect later', async (t) => {
  // The node's host dials its peers before the role exists (start-up reads the store in between): a connection
  // made meanwhile must still be asked who it is, or the replica never learns its primary.
  const dir = await tempDir();
  t.after(() => dir.remove());
  const sign = (peerId: string): Status['peerRecord'] => {
    const r = signPeerRecord(SEPARATOR, LOG_ID, peerId, Math.floor(Date.now() / 1000), PRIMARY_KEY);
    return { peerId: r.peerId, issuedAt: r.issuedAt, signature: toHex(r.signature) };
  };
  const keyHolder = await startImpostor(t, [], sign);
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: keyHolder.host.multiaddrs(), maxMessageBytes: 4_000_000, log: () => {} });
  t.after(() => host.stop());
  await waitFor(() => host.connectedPeers().length === 1, 10_000, 'connected before the role exists');
  const store = await LogStore.open(join(dir.path, 'db'), 'test log');
  t.after(() => store.close());
  const watch = await HeaderWatch.open({ store, rules: PRIMARY_RULES, chainId: CHAIN_ID, log: silentLogger });
  const role = new ReplicaRole({ host, store, rules: PRIMARY_RULES, watch, log: silentLogger });
  t.after(() => role.stop());
  await waitFor(() => keyHolder.statusAnswers >= 1, 10_000, 'the role asked the already connected peer for its status');
  assert.equal(keyHolder.appends, 0);
});
