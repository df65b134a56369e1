/**
 * Finality certificates (core/finality-certificate.ts, docs/protocol.md §Finality certificate): the check with each of
 * its failures, the JSON form (wire/finality-json.ts), and receipts that carry one (core/receipt.ts). Built on the
 * `finality` vectors of docs/test-vectors.json (the validators' keys, the commit certificate of batch 0), with the
 * commit votes on batch 1 signed by ethers (Wallet.signTypedData) as an independent reference.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Wallet, type TypedDataField } from 'ethers';
import vectors from '../../docs/test-vectors.json' with { type: 'json' };
import { fromHex, toHex, type Bytes } from '../../src/core/bytes.ts';
import { buildCertificate, certificateFromJson, type Certificate } from '../../src/core/certificate.ts';
import { TYPED_DATA_TYPES, domainSeparator } from '../../src/core/eip712.ts';
import { checkFinalityCertificate, MAX_FINALITY_CHAIN, type FinalityCertificate } from '../../src/core/finality-certificate.ts';
import { headerHash, type Header } from '../../src/core/header.ts';
import { Membership } from '../../src/core/membership.ts';
import { checkReceipt, checkReceiptFinality } from '../../src/core/receipt.ts';
import { VoteKind, signVoteUnchecked, type Vote, type VoteContext } from '../../src/core/vote.ts';
import { finalityCertificateToJson, parseFinalReceipt, parseFinalityCertificate } from '../../src/wire/finality-json.ts';
import { headerToJson, parseHeader, parseReceipt } from '../../src/wire/json.ts';

const F = vectors.finality;
const logId = fromHex(vectors.domain.logId);
const separator = domainSeparator({ chainId: vectors.domain.chainId, logId });
const CTX: VoteContext = { logId, separator, membership: Membership.of(F.membership.addresses.map((a) => fromHex(a))) };
const KEYS = F.validators.map((v) => fromHex(v.privateKey));
const H0 = parseHeader(vectors.batches[0].header);
const H1 = parseHeader(vectors.batches[1].header);
const HASH0 = headerHash(separator, H0);
/** The vectors' commit certificate of batch 0, by validators 0, 1 and 3. */
const CC0 = certificateFromJson(F.certificates.find((c) => c.valid && c.json?.kind === 'commit' && c.json.height === 0)!.json);

const voteOn = (h: Header, kind: VoteKind = VoteKind.commit): Vote => ({ kind, view: h.view, height: h.height, headerHash: headerHash(separator, h) });
const certOn = (h: Header, signers: number[], kind: VoteKind = VoteKind.commit): Certificate =>
  buildCertificate(4, voteOn(h, kind), new Map(signers.map((i) => [i, signVoteUnchecked(CTX, voteOn(h, kind), KEYS[i]).signature])));
/** The finality certificate of height 0 through batch 1's commit certificate: `chain` = [header 1]. */
const viaChild = (child: Header = H1, cert: Certificate = certOn(child, [0, 1, 2])): FinalityCertificate =>
  ({ height: 0, header: H0, headerHash: HASH0, certificate: cert, chain: [child] });
const rejects = (fc: FinalityCertificate, code: string, ctx: VoteContext = CTX) =>
  assert.throws(() => checkFinalityCertificate(ctx, fc), { name: 'FinalityCertificateRejectedError', code });

describe('checkFinalityCertificate', () => {
  test('the vectors\' commit certificate of batch 0 proves height 0 final (empty chain)', () => {
    checkFinalityCertificate(CTX, { height: 0, header: H0, headerHash: HASH0, certificate: CC0, chain: [] });
  });

  test('a commit certificate of batch 1, signed with ethers, proves height 0 through the chain [header 1]', async () => {
    const types: Record<string, TypedDataField[]> = { Vote: [...TYPED_DATA_TYPES.Vote] };
    const domain = { name: vectors.domain.name, version: vectors.domain.version, chainId: vectors.domain.chainId, salt: vectors.domain.logId };
    const value = { logId: vectors.domain.logId, membershipHash: F.membership.membershipHash, view: H1.view, height: H1.height, headerHash: vectors.batches[1].headerHash, kind: 2 };
    const signatures = new Map<number, Bytes>();
    for (const i of [1, 2, 3]) signatures.set(i, fromHex(await new Wallet(F.validators[i].privateKey).signTypedData(domain, types, value)));
    const cert = buildCertificate(4, voteOn(H1), signatures);
    assert.equal(toHex(cert.signers), '0x0e');
    checkFinalityCertificate(CTX, viaChild(H1, cert));
  });

  test('a lock certificate is not a finality certificate', () => {
    rejects({ height: 0, header: H0, headerHash: HASH0, certificate: certOn(H0, [0, 1, 2], VoteKind.lock), chain: [] }, 'finality-not-commit');
  });

  test('wrong hashes: headerHash not the header\'s, a certificate for another header, view or height', () => {
    rejects({ height: 0, header: H0, headerHash: fromHex(vectors.batches[1].headerHash), certificate: CC0, chain: [] }, 'finality-header-hash');
    rejects({ height: 0, header: H0, headerHash: HASH0, certificate: certOn(H1, [0, 1, 2]), chain: [] }, 'finality-header-hash');
    rejects(viaChild(H1, CC0), 'finality-header-hash'); // the certificate of the first header, not of the chain's last
    const cert = buildCertificate(4, { ...voteOn(H0), view: 1 }, new Map([0, 1, 2].map((i) => [i, signVoteUnchecked(CTX, { ...voteOn(H0), view: 1 }, KEYS[i]).signature])));
    rejects({ height: 0, header: H0, headerHash: HASH0, certificate: cert, chain: [] }, 'finality-header-hash');
  });

  test('a broken chain link: the child does not name the header as its parent (its own certificate is good)', () => {
    const orphan = { ...H1, prevHeaderHash: fromHex(vectors.batches[1].headerHash) };
    rejects(viaChild(orphan), 'finality-link');
  });

  test('heights: not consecutive from `height`, or `height` not the header\'s', () => {
    const skipping = { ...H1, height: 2 };
    rejects(viaChild(skipping), 'finality-heights');
    rejects({ height: 1, header: H0, headerHash: HASH0, certificate: CC0, chain: [] }, 'finality-heights');
  });

  test('too few signers, a stranger\'s signature, another validator set: the certificate\'s own failure, as its cause', () => {
    const two = certOn(H0, [0, 1]);
    assert.throws(() => checkFinalityCertificate(CTX, { height: 0, header: H0, headerHash: HASH0, certificate: two, chain: [] }), (e: Error & { code?: string; details?: Record<string, unknown>; cause?: { code?: string } }) => {
      assert.equal(e.code, 'finality-certificate');
      assert.equal(e.details?.certificateCode, 'certificate-quorum');
      assert.equal(e.cause?.code, 'certificate-quorum');
      return true;
    });
    const forged = { ...CC0, signatures: [CC0.signatures[0], CC0.signatures[1], signVoteUnchecked(CTX, voteOn(H0), fromHex(F.outsider.privateKey)).signature] };
    rejects({ height: 0, header: H0, headerHash: HASH0, certificate: forged, chain: [] }, 'finality-certificate');
    const three = { ...CTX, membership: Membership.of(CTX.membership.validators.slice(0, 3)) };
    rejects({ height: 0, header: H0, headerHash: HASH0, certificate: CC0, chain: [] }, 'finality-certificate', three);
  });

  test('headers of another log; a chain longer than the bound', () => {
    rejects({ height: 0, header: H0, headerHash: HASH0, certificate: CC0, chain: [] }, 'finality-log', { ...CTX, logId: new Uint8Array(32).fill(7) });
    const long = Array.from({ length: MAX_FINALITY_CHAIN + 1 }, (_, i) => ({ ...H1, height: i + 1 }));
    rejects({ height: 0, header: H0, headerHash: HASH0, certificate: CC0, chain: long }, 'finality-chain-length');
  });
});

describe('finality certificate JSON', () => {
  test('round-trips, and the parsed form checks', () => {
    const fc = viaChild();
    const json = JSON.parse(JSON.stringify(finalityCertificateToJson(fc)));
    assert.deepEqual(Object.keys(json), ['height', 'header', 'headerHash', 'certificate', 'chain']);
    assert.deepEqual(json.chain, [headerToJson(H1)]);
    assert.deepEqual(parseFinalityCertificate(json), fc);
    checkFinalityCertificate(CTX, parseFinalityCertificate(json));
  });

  test('strict: a missing or unknown field, in the certificate and its headers; short hex; too long a chain', () => {
    const json = () => JSON.parse(JSON.stringify(finalityCertificateToJson(viaChild())));
    const cases: [string, (j: Record<string, any>) => void, RegExp][] = [
      ['missing chain', (j) => { delete j.chain; }, /certificate\.chain: missing/],
      ['unknown field', (j) => { j.extra = 1; }, /certificate\.extra: unknown field/],
      ['unknown header field', (j) => { j.chain[0].extra = 1; }, /certificate\.chain\[0\]\.extra: unknown field/],
      ['missing certificate field', (j) => { delete j.certificate.n; }, /certificate\.certificate\.n: missing/],
      ['short hash', (j) => { j.headerHash = j.headerHash.slice(0, 10); }, /certificate\.headerHash/],
      ['short signature', (j) => { j.certificate.signatures[0] = '0x00'; }, /signatures\[0\]/],
      ['negative height', (j) => { j.height = -1; }, /certificate\.height/],
      ['lock kind name misspelt', (j) => { j.certificate.kind = 'final'; }, /kind/],
      ['chain too long', (j) => { j.chain = Array(MAX_FINALITY_CHAIN + 1).fill(j.chain[0]); }, /at most/],
    ];
    for (const [name, mutate, message] of cases) {
      const j = json();
      mutate(j);
      assert.throws(() => parseFinalityCertificate(j), { name: 'InvalidParamsError', message }, name);
    }
  });
});

describe('receipts with a finality certificate', () => {
  const { batch: _b, submission: _s, ...receiptJson } = vectors.receipt;
  const receipt = parseReceipt(receiptJson);
  const fc: FinalityCertificate = { height: 0, header: H0, headerHash: HASH0, certificate: CC0, chain: [] };
  const rules = { logId, separator, membership: CTX.membership };

  test('soft without a certificate; final with one that checks and names the receipt\'s header', () => {
    assert.deepEqual(checkReceiptFinality(rules, receipt), { reason: null, finality: 'soft' });
    assert.deepEqual(checkReceiptFinality(rules, { ...receipt, certificate: fc }), { reason: null, finality: 'final' });
    assert.deepEqual(checkReceiptFinality(rules, { ...receipt, certificate: viaChild() }), { reason: null, finality: 'final' });
    assert.equal(checkReceipt(rules, { ...receipt, certificate: fc }), null);
  });

  test('a certificate that does not check, or is for another height or header, makes the receipt invalid', () => {
    const bad = { ...fc, certificate: certOn(H0, [0, 1]) };
    assert.match(checkReceipt(rules, { ...receipt, certificate: bad }) ?? '', /^finality certificate: commit certificate: 2 signers, the quorum is 3/);
    assert.deepEqual(checkReceiptFinality(rules, { ...receipt, certificate: bad }).finality, 'soft');
    const ofChild: FinalityCertificate = { height: 1, header: H1, headerHash: headerHash(separator, H1), certificate: certOn(H1, [0, 1, 2]), chain: [] };
    assert.equal(checkReceipt(rules, { ...receipt, certificate: ofChild }), 'finality certificate of height 1, the receipt is at 0');
    // A client that knows only the primary judges against the one-member set: a 4-validator certificate is not for it.
    assert.match(checkReceipt({ logId, separator, primary: CTX.membership.validators[0] }, { ...receipt, certificate: fc }) ?? '', /certificate for 4 validators, the set has 1/);
  });

  test('parseFinalReceipt splits the receipt from its certificate; `finality` is only shape-checked', () => {
    const json = { ...receiptJson, finality: 'final', certificate: finalityCertificateToJson(fc) };
    const parsed = parseFinalReceipt(JSON.parse(JSON.stringify(json)));
    assert.deepEqual(parsed.receipt, receipt);
    assert.deepEqual(parsed.certificate, fc);
    assert.equal(parseFinalReceipt({ ...receiptJson, finality: 'soft', certificate: null }).certificate, null);
    assert.throws(() => parseFinalReceipt({ ...receiptJson, finality: 'replaced' }), { name: 'InvalidParamsError' });
    assert.throws(() => parseFinalReceipt({ ...receiptJson, certificates: null }), { name: 'InvalidParamsError', message: /certificates: unknown field/ });
  });
});
