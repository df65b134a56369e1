/**
 * Writes docs/test-vectors.json: deterministic protocol test vectors (docs/protocol.md §Test vectors).
 * Everything derives from fixed private keys and fixed inputs; ECDSA signatures are RFC 6979, so the output
 * is byte-for-byte reproducible. test/core/vectors.test.ts recomputes every value with the core and with
 * ethers, and fails when this file is stale.
 *
 *   node scripts/gen-vectors.ts            # (re)writes docs/test-vectors.json
 *   node scripts/gen-vectors.ts --check    # exits 1 if the file differs from what would be written
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { GENESIS_TIP, encodeBatch, sealBatch, type SealedBatch, type Tip } from '../src/core/batch.ts';
import { Membership } from '../src/core/membership.ts';
import type { LogRules } from '../src/core/rules.ts';
import { concatBytes, equalBytes, toHex, u64be, type Bytes } from '../src/core/bytes.ts';
import {
  DOMAIN_NAME, DOMAIN_TYPE, DOMAIN_VERSION, HEADER_TYPE, PEER_RECORD_TYPE, SUBMISSION_TYPE, domainSeparator, headerStructHash,
  peerRecordStructHash, submissionStructHash,
} from '../src/core/eip712.ts';
import { ENTRY_TAG, entryHash } from '../src/core/entry.ts';
import { keccak256 } from '../src/core/hash.ts';
import { encodeSignedHeader, HEADER_BYTES } from '../src/core/header.ts';
import { peerRecordDigest, signPeerRecord } from '../src/core/peer-record.ts';
import { buildReceipt } from '../src/core/receipt.ts';
import { headerToJson, receiptToJson } from '../src/wire/json.ts';
import { addressFromPrivateKey, sign } from '../src/core/signature.ts';
import { encodeSubmission, encodeTxList, submissionDigest, transactionsHash, type Submission } from '../src/core/submission.ts';
import {
  buildCertificate, certificateToJson, encodeCertificate, encodeTimeoutCertificate, highLock, timeoutCertificateToJson, type Certificate,
  type TimeoutCertificate,
} from '../src/core/certificate.ts';
import { TIMEOUT_TYPE, VOTE_TYPE, timeoutDigest, timeoutStructHash, voteStructHash, type TimeoutFields } from '../src/core/eip712.ts';
import { VoteKind, digestOfVote, encodeSignedVote, signVoteUnchecked, voteKindName, type Vote, type VoteContext } from '../src/core/vote.ts';

import { buildVoteProofVectors } from './vote-proof-vectors.ts';

export const VECTORS_PATH = new URL('../docs/test-vectors.json', import.meta.url);

const utf8 = (s: string): Bytes => new TextEncoder().encode(s);
const key = (byte: number): Bytes => new Uint8Array(32).fill(byte);

interface SubmissionInput {
  readonly signer: 'alice' | 'bob';
  readonly nonce: bigint;
  readonly expiry: number;
  readonly transactions: readonly Bytes[];
}

const KEYS = { primary: key(0x01), alice: key(0x02), bob: key(0x03) } as const;
const CHAIN_ID = 31337;
const LOG_ID_PREIMAGE = 'sequencer-devnet';

/** Submissions 0 and 1 go into batch 0 (entries 0..3), submission 2 into batch 1 (entries 4..5). */
const SUBMISSIONS: readonly SubmissionInput[] = [
  { signer: 'alice', nonce: 1n, expiry: 0, transactions: [utf8('hello')] },
  {
    signer: 'bob',
    nonce: 2n ** 63n + 5n,
    expiry: 1767225600,
    transactions: [new Uint8Array(0), new Uint8Array([0x00]), Uint8Array.from({ length: 256 }, (_, i) => i)],
  },
  { signer: 'alice', nonce: 2n, expiry: 0, transactions: [new Uint8Array([0x01, 0x02]), new Uint8Array([0xff])] },
];
const BATCHES = [
  { submissions: [0, 1], timestamp: 1767225000000 },
  { submissions: [2], timestamp: 1767225000500 },
] as const;
/** The primary's PeerRecord for a fixed libp2p peer id (docs/protocol.md §Status). */
const PEER_RECORD = { peerId: '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp', issuedAt: 1767225600 } as const;
/** Range proofs over batch 0: one entry (seq 2), and the range of submission 1 (seq 1..3). */
const RANGES = [[2, 3], [1, 4], [0, 1]] as const;

/**
 * The validator set of the finality vectors (docs/protocol.md §Vote, §Certificate): the primary's key first, so the
 * header vectors are view-0 leader headers, then three more. n = 4, f = 1, quorum 3.
 */
const VALIDATOR_KEYS = [key(0x01), key(0x11), key(0x12), key(0x13)] as const;
/** Signs votes in the negative certificate vectors: a key outside the set. */
const OUTSIDER_KEY = key(0x04);

/** The s of a low-s signature mirrored to n - s (v flipped): the same signature in its refused, malleable form. */
function highS(signature: Bytes): Bytes {
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const out = Uint8Array.from(signature);
  const s = BigInt(toHex(signature.subarray(32, 64)));
  out.set(fromHexWord(N - s), 32);
  out[64] = 55 - signature[64];
  return out;
}
function fromHexWord(v: bigint): Bytes {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

/** Votes, certificates and timeouts of the finality protocol over batch 0. */
function buildFinalityVectors(logId: Bytes, separator: Bytes, batch0Hash: Bytes): Record<string, unknown> {
  const addresses = VALIDATOR_KEYS.map((k) => addressFromPrivateKey(k));
  const membership = Membership.of(addresses);
  const ctx: VoteContext = { logId, separator, membership };
  const voteOn = (kind: VoteKind, view = 0): Vote => ({ kind, view, height: 0, headerHash: batch0Hash });
  const fieldsOf = (v: Vote) => ({ logId, membershipHash: membership.hash, view: v.view, height: v.height, headerHash: v.headerHash, kind: v.kind });

  const votes = [VoteKind.lock, VoteKind.commit].flatMap((kind) => VALIDATOR_KEYS.map((k, validator) => {
    const signed = signVoteUnchecked(ctx, voteOn(kind), k);
    return {
      validator, kind: voteKindName(kind), view: 0, height: 0, headerHash: toHex(batch0Hash),
      structHash: toHex(voteStructHash(fieldsOf(signed))), digest: toHex(digestOfVote(ctx, signed)),
      signature: toHex(signed.signature), encoded: toHex(encodeSignedVote(signed)),
    };
  }));
  const sig = (kind: VoteKind, validator: number, view = 0): Bytes => signVoteUnchecked(ctx, voteOn(kind, view), VALIDATOR_KEYS[validator]).signature;
  const certificateOf = (kind: VoteKind, signers: readonly number[]): Certificate =>
    buildCertificate(membership.n, voteOn(kind), new Map(signers.map((i) => [i, sig(kind, i)])));
  const cc = certificateOf(VoteKind.commit, [0, 1, 3]);
  const qc = certificateOf(VoteKind.lock, [0, 1, 2, 3]);
  const withSignatures = (c: Certificate, signatures: Bytes[]): Certificate => ({ ...c, signatures });
  const valid = [
    { name: 'commit certificate of batch 0 by validators 0, 1, 3', certificate: cc },
    { name: 'lock certificate of batch 0 by all four validators', certificate: qc },
  ].map(({ name, certificate }) => ({ name, valid: true, encoded: toHex(encodeCertificate(certificate)), json: certificateToJson(certificate) }));
  const ccBytes = encodeCertificate(cc);
  const bitBeyondN = Uint8Array.from(ccBytes);
  bitBeyondN[50] |= 0x10;
  const invalid: { name: string; encoded: Bytes; error: string }[] = [
    { name: 'two signers (below the quorum of 3)', encoded: encodeCertificate(certificateOf(VoteKind.commit, [0, 1])), error: 'certificate-quorum' },
    { name: 'bit 4 set with n = 4 (and a fourth signature)', encoded: concatBytes(bitBeyondN, sig(VoteKind.commit, 2)), error: 'certificate-malformed' },
    { name: 'signatures of 0 and 1 swapped', encoded: encodeCertificate(withSignatures(cc, [cc.signatures[1], cc.signatures[0], cc.signatures[2]])), error: 'certificate-signer-order' },
    { name: "validator 0's signature under bits 0 and 1", encoded: encodeCertificate(withSignatures(cc, [cc.signatures[0], cc.signatures[0], cc.signatures[2]])), error: 'certificate-duplicate-signer' },
    { name: "validator 2's signature under bit 1", encoded: encodeCertificate(withSignatures(cc, [cc.signatures[0], sig(VoteKind.commit, 2), cc.signatures[2]])), error: 'certificate-wrong-signer' },
    { name: 'validator 1 signature is high-s', encoded: encodeCertificate(withSignatures(cc, [cc.signatures[0], highS(cc.signatures[1]), cc.signatures[2]])), error: 'certificate-signature' },
    { name: 'bit 1 signed by a key outside the set', encoded: encodeCertificate(withSignatures(cc, [cc.signatures[0], signVoteUnchecked(ctx, voteOn(VoteKind.commit), OUTSIDER_KEY).signature, cc.signatures[2]])), error: 'certificate-not-member' },
    { name: "validator 1's commit vote of view 1 in a view-0 certificate", encoded: encodeCertificate(withSignatures(cc, [cc.signatures[0], sig(VoteKind.commit, 1, 1), cc.signatures[2]])), error: 'certificate-not-member' },
    { name: "validator 1's lock vote in a commit certificate", encoded: encodeCertificate(withSignatures(cc, [cc.signatures[0], sig(VoteKind.lock, 1), cc.signatures[2]])), error: 'certificate-not-member' },
    { name: 'one trailing byte', encoded: concatBytes(ccBytes, new Uint8Array(1)), error: 'certificate-malformed' },
    { name: 'kind 3', encoded: concatBytes(Uint8Array.of(3), ccBytes.subarray(1)), error: 'certificate-malformed' },
    { name: 'n = 5 for a set of 4', encoded: concatBytes(ccBytes.subarray(0, 49), Uint8Array.of(5), ccBytes.subarray(50)), error: 'certificate-membership' },
  ];

  const timeoutOf = (validator: number, lock: Certificate | null) => {
    const fields: TimeoutFields = {
      logId, membershipHash: membership.hash, view: 0,
      lockView: lock?.view ?? 0, lockHeight: lock?.height ?? 0, lockHash: lock?.headerHash ?? new Uint8Array(32),
    };
    const digest = timeoutDigest(separator, fields);
    const signature = sign(digest, VALIDATOR_KEYS[validator]);
    return {
      entry: { lock: lock === null ? null : { view: lock.view, height: lock.height, headerHash: lock.headerHash }, signature },
      json: {
        validator, view: 0, lockView: fields.lockView, lockHeight: fields.lockHeight, lockHash: toHex(fields.lockHash),
        structHash: toHex(timeoutStructHash(fields)), digest: toHex(digest), signature: toHex(signature),
      },
    };
  };
  const timeouts = [timeoutOf(1, null), timeoutOf(2, qc), timeoutOf(3, qc)];
  const tc: TimeoutCertificate = { view: 0, n: membership.n, signers: Uint8Array.of(0x0e), entries: timeouts.map((t) => t.entry) };
  const high = highLock(tc);

  return {
    validators: VALIDATOR_KEYS.map((k, i) => ({ privateKey: toHex(k), address: toHex(addresses[i]) })),
    outsider: { privateKey: toHex(OUTSIDER_KEY), address: toHex(addressFromPrivateKey(OUTSIDER_KEY)) },
    membership: {
      addresses: addresses.map(toHex), membershipHash: toHex(membership.hash), n: membership.n, f: membership.f, quorum: membership.quorum,
      leaderOf: [0, 1, 2, 3, 4].map((v) => toHex(membership.leaderOf(v))),
    },
    votes,
    certificates: [...valid, ...invalid.map((c) => ({ name: c.name, valid: false, encoded: toHex(c.encoded), error: c.error }))],
    timeouts: timeouts.map((t) => t.json),
    tc: {
      name: 'TC(0) by validators 1 (lock ⊥), 2 and 3 (lock: the lock certificate of batch 0)',
      encoded: toHex(encodeTimeoutCertificate(tc)), json: timeoutCertificateToJson(tc),
      highLock: high === null ? null : { view: high.view, height: high.height, headerHash: toHex(high.headerHash) },
    },
  };
}

function tipJson(t: Tip): Record<string, unknown> {
  return { height: t.height, headerHash: toHex(t.headerHash), nextSeq: t.nextSeq, headHash: toHex(t.headHash), timestamp: t.timestamp };
}

export function buildVectors(): Record<string, unknown> {
  const addresses = {
    primary: addressFromPrivateKey(KEYS.primary), alice: addressFromPrivateKey(KEYS.alice), bob: addressFromPrivateKey(KEYS.bob),
  };
  const logId = keccak256(utf8(LOG_ID_PREIMAGE));
  const separator = domainSeparator({ chainId: CHAIN_ID, logId });
  const rules: LogRules = {
    logId, separator, membership: Membership.single(addresses.primary),
    isAllowed: (s) => equalBytes(s, addresses.alice) || equalBytes(s, addresses.bob),
  };

  const subs: Submission[] = [];
  const digests: Bytes[] = [];
  const submissionsJson = SUBMISSIONS.map((input) => {
    const sender = addresses[input.signer];
    const txHash = transactionsHash(input.transactions);
    const structHash = submissionStructHash(sender, input.nonce, input.expiry, txHash);
    const unsigned: Submission = { sender, nonce: input.nonce, expiry: input.expiry, transactions: input.transactions, signature: new Uint8Array(65) };
    const digest = submissionDigest(separator, unsigned);
    const s: Submission = { ...unsigned, signature: sign(digest, KEYS[input.signer]) };
    subs.push(s);
    digests.push(digest);
    return {
      signer: input.signer,
      sender: toHex(sender),
      nonce: input.nonce.toString(),
      expiry: input.expiry,
      transactions: input.transactions.map(toHex),
      txList: toHex(encodeTxList(input.transactions)),
      transactionsHash: toHex(txHash),
      structHash: toHex(structHash),
      digest: toHex(digest),
      signature: toHex(s.signature),
      encoded: toHex(encodeSubmission(s)),
    };
  });

  const entriesJson: Record<string, unknown>[] = [];
  const batchesJson: Record<string, unknown>[] = [];
  const sealedBatches: SealedBatch[] = [];
  let tip: Tip = GENESIS_TIP;
  for (const spec of BATCHES) {
    const prevTip = tip;
    const sealed = sealBatch(rules, tip, spec.submissions.map((i) => ({ submission: subs[i], digest: digests[i] })), spec.timestamp, KEYS.primary);
    sealedBatches.push(sealed);
    let prev = prevTip.headHash;
    let seq = prevTip.nextSeq;
    for (const i of spec.submissions) {
      const s = subs[i];
      for (const payload of s.transactions) {
        const preimage = concatBytes(new Uint8Array([ENTRY_TAG]), prev, u64be(seq), s.sender, digests[i], payload);
        const hash = entryHash(prev, seq, s.sender, digests[i], payload);
        entriesJson.push({
          seq, submission: i, prevEntryHash: toHex(prev), sender: toHex(s.sender), submissionDigest: toHex(digests[i]),
          payload: toHex(payload), preimage: toHex(preimage), entryHash: toHex(hash),
        });
        prev = hash;
        seq++;
      }
    }
    const h = sealed.batch.header;
    const signedHeader = encodeSignedHeader(sealed.batch);
    batchesJson.push({
      submissions: spec.submissions,
      prevTip: tipJson(prevTip),
      header: headerToJson(h),
      headerEncoded: toHex(signedHeader.subarray(0, HEADER_BYTES)),
      structHash: toHex(headerStructHash(h)),
      headerHash: toHex(sealed.headerHash),
      signature: toHex(sealed.batch.signature),
      encoded: toHex(encodeBatch(sealed.batch)),
      tip: tipJson(sealed.tip),
    });
    tip = sealed.tip;
  }

  const b0 = sealedBatches[0];
  const rangeProofsJson = RANGES.map(([lo, hi]) => ({
    batch: 0,
    size: b0.tree.size,
    lo,
    hi,
    leaves: Array.from({ length: hi - lo }, (_, i) => toHex(b0.tree.leaf(lo + i))),
    proof: b0.tree.rangeProof(lo, hi).map(toHex),
    root: toHex(b0.tree.root),
  }));

  const r = buildReceipt(b0.batch, b0.tree, (i) => b0.tree.leaf(i), GENESIS_TIP.headHash, {
    digest: digests[1], sender: subs[1].sender, nonce: subs[1].nonce, firstSeq: 1, count: subs[1].transactions.length,
  });
  const receiptJson = { batch: 0, submission: 1, ...receiptToJson(r, b0.headerHash) };

  const record = signPeerRecord(separator, logId, PEER_RECORD.peerId, PEER_RECORD.issuedAt, KEYS.primary);
  const peerRecordJson = {
    signer: 'primary',
    logId: toHex(logId),
    peerId: record.peerId,
    issuedAt: record.issuedAt,
    structHash: toHex(peerRecordStructHash(logId, record.peerId, record.issuedAt)),
    digest: toHex(peerRecordDigest(separator, logId, record.peerId, record.issuedAt)),
    signature: toHex(record.signature),
  };

  return {
    description: 'Sequencer protocol test vectors; see docs/protocol.md. Generated by scripts/gen-vectors.ts, checked by test/core/vectors.test.ts.',
    conventions: 'Byte strings are 0x-prefixed lower-case hex. u64 values that may exceed 2^53-1 (nonce) are decimal strings; other integers are JSON numbers.',
    keys: Object.fromEntries((Object.keys(KEYS) as (keyof typeof KEYS)[]).map((k) => [k, { privateKey: toHex(KEYS[k]), address: toHex(addresses[k]) }])),
    allowlist: [toHex(addresses.alice), toHex(addresses.bob)],
    types: {
      EIP712Domain: DOMAIN_TYPE,
      Submission: SUBMISSION_TYPE,
      BatchHeader: HEADER_TYPE,
      domainTypeHash: toHex(keccak256(utf8(DOMAIN_TYPE))),
      submissionTypeHash: toHex(keccak256(utf8(SUBMISSION_TYPE))),
      batchHeaderTypeHash: toHex(keccak256(utf8(HEADER_TYPE))),
      PeerRecord: PEER_RECORD_TYPE,
      peerRecordTypeHash: toHex(keccak256(utf8(PEER_RECORD_TYPE))),
      Vote: VOTE_TYPE,
      voteTypeHash: toHex(keccak256(utf8(VOTE_TYPE))),
      Timeout: TIMEOUT_TYPE,
      timeoutTypeHash: toHex(keccak256(utf8(TIMEOUT_TYPE))),
    },
    domain: {
      name: DOMAIN_NAME,
      version: DOMAIN_VERSION,
      chainId: CHAIN_ID,
      logIdPreimage: LOG_ID_PREIMAGE,
      logId: toHex(logId),
      separator: toHex(separator),
    },
    submissions: submissionsJson,
    entries: entriesJson,
    batches: batchesJson,
    rangeProofs: rangeProofsJson,
    receipt: receiptJson,
    peerRecord: peerRecordJson,
    finality: buildFinalityVectors(logId, separator, sealedBatches[0].headerHash),
    proofs: buildVoteProofVectors({
      chainId: CHAIN_ID, logId, separator, validatorKeys: VALIDATOR_KEYS, batch0: sealedBatches[0].batch.header, batch1: sealedBatches[1].batch.header,
    }),
  };
}

export function renderVectors(): string {
  return JSON.stringify(buildVectors(), null, 2) + '\n';
}

if (import.meta.main) {
  const text = renderVectors();
  if (process.argv.includes('--check')) {
    let current = '';
    try { current = readFileSync(VECTORS_PATH, 'utf8'); } catch { /* missing */ }
    if (current !== text) {
      console.error('docs/test-vectors.json is stale: run node scripts/gen-vectors.ts');
      process.exit(1);
    }
    console.log('docs/test-vectors.json is up to date');
  } else {
    writeFileSync(VECTORS_PATH, text);
    console.log(`wrote ${VECTORS_PATH.pathname}`);
  }
}
