// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title SequencerBond
/// @notice Bonds for permissioned-log sequencers, slashable on proof of equivocation.
///
/// A sequencer (the primary of a log) signs every batch header as EIP-712 typed data:
///
///   EIP712Domain(string name,string version,uint256 chainId,bytes32 salt)
///     name = "Sequencer", version = "1", chainId = the log's chain, salt = the log id
///   BatchHeader(bytes32 logId,uint64 height,uint64 view,uint64 firstSeq,uint32 count,
///               bytes32 prevHeaderHash,bytes32 headHash,bytes32 entriesRoot,uint64 timestamp)
///
/// headerHash = keccak256(0x1901 || domainSeparator || structHash), signed as 65 bytes r||s||v.
///
/// Two signed headers that cannot both be honest are an equivocation proof:
///   kind 1 (conflict): same logId, height and view, different digests;
///   kind 2 (fork):     same logId and view, b.height == a.height + 1, b.prevHeaderHash != digest(a).
/// A log with several validators (quorum finality) has every validator bond with `register(logId)` from its own
/// address, and proves misbehaviour of validators with their EIP-712 votes and timeouts:
///
///   Vote(bytes32 logId,bytes32 membershipHash,uint64 view,uint64 height,bytes32 headerHash,uint8 kind)
///   Timeout(bytes32 logId,bytes32 membershipHash,uint64 view,uint64 lockView,uint64 lockHeight,bytes32 lockHash)
///
///   kind 3 (vote conflict):    votes a, b of one log and set, same view and height, different headerHash;
///   kind 4 (vote fork):        lock votes a (h), b (h+1) of one view, and the header `child` b voted for, whose
///                              prevHeaderHash is not a.headerHash;
///   kind 5 (lock lie):         commit vote c, timeout t with t.view >= c.view and t's lock below (c.view, c.height)
///                              or none (lockHash = 0);
///   kind 6 (timeout conflict): timeouts a, b of one log and set, same view, different digests.
/// Anyone may submit one. The bond of the signer for that log is confiscated: `rewardBps` of it goes to
/// the reporter (msg.sender), the rest is BURNED BY LOCKING: it stays in this contract forever (there is
/// no owner and no function that can move it; `totalBurned` counts it). `rewardBps` is at most
/// MAX_REWARD_BPS, so a sequencer that reports itself from another address still loses at least half.
///
/// A withdrawal waits at least MIN_WITHDRAWAL_DELAY after it is requested, and the bond stays slashable
/// until `withdraw` runs. Nodes stop trusting a sequencer's headers once a withdrawal is requested, so the
/// delay is the window in which every equivocation anyone could have acted on can still be reported.
///
/// The domain is rebuilt on chain from block.chainid and the header's own logId, so a header signed for
/// another chain or another log recovers to some unrelated address and the proof fails (SignerMismatch
/// or NotBonded).
///
/// Note: the Solidity field for the header's `view` is `viewNumber`, because `view` is a reserved word in
/// Solidity. The EIP-712 type string (and therefore every digest) still says `view`. ABI encoding is
/// positional, so off-chain code only needs the name when it passes the struct as a keyed object.
contract SequencerBond {
    // ------------------------------------------------------------------------------------------ types

    struct Header {
        bytes32 logId;
        uint64 height;
        uint64 viewNumber;
        uint64 firstSeq;
        uint32 count;
        bytes32 prevHeaderHash;
        bytes32 headHash;
        bytes32 entriesRoot;
        uint64 timestamp;
    }

    /// A validator's vote on a header (kind 1 lock, 2 commit); `viewNumber` is the EIP-712 field `view`.
    struct Vote {
        bytes32 logId;
        bytes32 membershipHash;
        uint64 viewNumber;
        uint64 height;
        bytes32 headerHash;
        uint8 kind;
    }

    /// A validator leaving view `viewNumber` while holding the lock (lockView, lockHeight, lockHash); no lock = zeros.
    struct Timeout {
        bytes32 logId;
        bytes32 membershipHash;
        uint64 viewNumber;
        uint64 lockView;
        uint64 lockHeight;
        bytes32 lockHash;
    }

    /// One slot: amount (wei), time at which a requested withdrawal may be executed (0 = none pending),
    /// and whether this (sequencer, log) pair has ever been slashed (permanent).
    struct Bond {
        uint128 amount;
        uint64 withdrawableAt;
        bool slashed;
    }

    // ------------------------------------------------------------------------------------- constants

    uint8 public constant KIND_CONFLICT = 1;
    uint8 public constant KIND_FORK = 2;
    uint8 public constant KIND_VOTE_CONFLICT = 3;
    uint8 public constant KIND_VOTE_FORK = 4;
    uint8 public constant KIND_LOCK_LIE = 5;
    uint8 public constant KIND_TIMEOUT_CONFLICT = 6;
    uint8 private constant VOTE_LOCK = 1;
    uint8 private constant VOTE_COMMIT = 2;
    uint16 public constant BPS = 10_000;
    /// Largest reporter share: a self-report (from another address) always costs the sequencer half its bond.
    uint16 public constant MAX_REWARD_BPS = 5_000;
    /// Shortest withdrawal delay. It must outlast detection, gossip and getting a slash mined even while the
    /// L2's sequencer censors it (forced inclusion through L1 takes up to 24 h on Arbitrum, 12 h on OP Stack).
    uint256 public constant MIN_WITHDRAWAL_DELAY = 2 days;

    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,bytes32 salt)");
    bytes32 public constant HEADER_TYPEHASH = keccak256(
        "BatchHeader(bytes32 logId,uint64 height,uint64 view,uint64 firstSeq,uint32 count,bytes32 prevHeaderHash,bytes32 headHash,bytes32 entriesRoot,uint64 timestamp)"
    );
    bytes32 public constant VOTE_TYPEHASH = keccak256(
        "Vote(bytes32 logId,bytes32 membershipHash,uint64 view,uint64 height,bytes32 headerHash,uint8 kind)"
    );
    bytes32 public constant TIMEOUT_TYPEHASH = keccak256(
        "Timeout(bytes32 logId,bytes32 membershipHash,uint64 view,uint64 lockView,uint64 lockHeight,bytes32 lockHash)"
    );
    bytes32 private constant NAME_HASH = keccak256("Sequencer");
    bytes32 private constant VERSION_HASH = keccak256("1");

    /// secp256k1n / 2: signatures with a larger s are the malleated twin of a canonical one.
    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    // ----------------------------------------------------------------------------------------- state

    uint256 public immutable minBond;
    uint256 public immutable withdrawalDelay;
    uint256 public immutable rewardBps;

    /// A slashed bond stays flagged for good, so one (sequencer, log) is paid for at most once: no per-proof
    /// record is needed (any proof names its signer and log, whose flag then refuses it).
    mapping(address sequencer => mapping(bytes32 logId => Bond)) private _bonds;
    /// Wei confiscated and not paid out as rewards; locked in this contract forever.
    uint256 public totalBurned;

    // ---------------------------------------------------------------------------------------- events

    event Registered(address indexed sequencer, bytes32 indexed logId, uint256 amount, uint256 total);
    event WithdrawalRequested(address indexed sequencer, bytes32 indexed logId, uint256 withdrawableAt);
    event WithdrawalCancelled(address indexed sequencer, bytes32 indexed logId);
    event Withdrawn(address indexed sequencer, bytes32 indexed logId, uint256 amount);
    event Slashed(
        address indexed sequencer,
        bytes32 indexed logId,
        uint8 kind,
        bytes32 digestA,
        bytes32 digestB,
        address indexed reporter,
        uint256 reward,
        uint256 burned
    );

    // ---------------------------------------------------------------------------------------- errors

    error InvalidRewardBps(uint256 rewardBps);
    error InvalidWithdrawalDelay(uint256 withdrawalDelay);
    error BondTooSmall(uint256 total, uint256 minBond);
    error BondTooLarge();
    error WithdrawalPending(uint256 withdrawableAt);
    error NoWithdrawalRequested();
    error WithdrawalNotReady(uint256 withdrawableAt);
    error TransferFailed();
    error BadKind(uint8 kind);
    error LogMismatch(bytes32 logIdA, bytes32 logIdB);
    error ViewMismatch(uint64 viewA, uint64 viewB);
    error NotConflicting();
    error BadSignatureLength(uint256 length);
    error BadV(uint8 v);
    error MalleableSignature();
    error BadSignature();
    error SignerMismatch(address signerA, address signerB);
    error MembershipMismatch(bytes32 membershipHashA, bytes32 membershipHashB);
    error BadVoteKind(uint8 kind);
    error ChildMismatch();
    error NotBonded(address sequencer, bytes32 logId);
    error AlreadySlashed(address sequencer, bytes32 logId);

    // ----------------------------------------------------------------------------------- constructor

    /// @param minBond_ minimum total bond (wei) of a registered sequencer
    /// @param withdrawalDelay_ seconds between requestWithdrawal and withdraw, in [MIN_WITHDRAWAL_DELAY, 2^32);
    ///        the bond stays slashable until withdraw
    /// @param rewardBps_ share of a slashed bond paid to the reporter, in basis points (<= MAX_REWARD_BPS)
    constructor(uint256 minBond_, uint256 withdrawalDelay_, uint256 rewardBps_) {
        if (rewardBps_ > MAX_REWARD_BPS) revert InvalidRewardBps(rewardBps_);
        // the upper bound keeps block.timestamp + withdrawalDelay far inside the uint64 `withdrawableAt` slot
        if (withdrawalDelay_ < MIN_WITHDRAWAL_DELAY || withdrawalDelay_ > type(uint32).max) {
            revert InvalidWithdrawalDelay(withdrawalDelay_);
        }
        minBond = minBond_;
        withdrawalDelay = withdrawalDelay_;
        rewardBps = rewardBps_;
    }

    // ----------------------------------------------------------------------------------------- bonds

    /// @notice Bond msg.value for `logId` as msg.sender, or top up an existing bond.
    function register(bytes32 logId) external payable {
        Bond storage bond = _bonds[msg.sender][logId];
        if (bond.slashed) revert AlreadySlashed(msg.sender, logId);
        if (bond.withdrawableAt != 0) revert WithdrawalPending(bond.withdrawableAt);
        uint256 total = uint256(bond.amount) + msg.value;
        if (msg.value == 0 || total < minBond) revert BondTooSmall(total, minBond);
        if (total > type(uint128).max) revert BondTooLarge();
        bond.amount = uint128(total);
        emit Registered(msg.sender, logId, msg.value, total);
    }

    /// @notice Start the withdrawal delay. The bond stays slashable until `withdraw` pays it out.
    function requestWithdrawal(bytes32 logId) external {
        Bond storage bond = _bonds[msg.sender][logId];
        if (bond.amount == 0) revert NotBonded(msg.sender, logId);
        if (bond.withdrawableAt != 0) revert WithdrawalPending(bond.withdrawableAt);
        uint256 readyAt = block.timestamp + withdrawalDelay;
        bond.withdrawableAt = uint64(readyAt);
        emit WithdrawalRequested(msg.sender, logId, readyAt);
    }

    /// @notice Abandon a pending withdrawal (the bond stays in place).
    function cancelWithdrawal(bytes32 logId) external {
        Bond storage bond = _bonds[msg.sender][logId];
        if (bond.withdrawableAt == 0) revert NoWithdrawalRequested();
        bond.withdrawableAt = 0;
        emit WithdrawalCancelled(msg.sender, logId);
    }

    /// @notice Pay out the whole bond once the delay has passed.
    function withdraw(bytes32 logId) external {
        Bond storage bond = _bonds[msg.sender][logId];
        uint256 readyAt = bond.withdrawableAt;
        if (readyAt == 0) revert NoWithdrawalRequested();
        if (block.timestamp < readyAt) revert WithdrawalNotReady(readyAt);
        uint256 amount = bond.amount;
        // effects before the interaction
        bond.amount = 0;
        bond.withdrawableAt = 0;
        emit Withdrawn(msg.sender, logId, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // -------------------------------------------------------------------------------------- slashing

    /// @notice Confiscate the bond of a sequencer that signed two incompatible headers.
    /// @param kind 1 = conflict (same height and view), 2 = fork (b extends height a+1 but not a)
    function slash(uint8 kind, Header calldata a, bytes calldata sigA, Header calldata b, bytes calldata sigB)
        external
    {
        (bytes32 digestA, bytes32 digestB, address sequencer) = _verifyProof(kind, a, sigA, b, sigB);
        _confiscate(sequencer, a.logId, kind, digestA, digestB);
    }

    /// Checks that (a, b) is an equivocation of `kind` by one signer; returns both digests and the signer.
    function _verifyProof(uint8 kind, Header calldata a, bytes calldata sigA, Header calldata b, bytes calldata sigB)
        private
        view
        returns (bytes32 digestA, bytes32 digestB, address signer)
    {
        if (kind != KIND_CONFLICT && kind != KIND_FORK) revert BadKind(kind);
        if (a.logId != b.logId) revert LogMismatch(a.logId, b.logId);
        if (a.viewNumber != b.viewNumber) revert ViewMismatch(a.viewNumber, b.viewNumber);

        bytes32 separator = _domainSeparator(a.logId, block.chainid);
        digestA = _digest(separator, a);
        digestB = _digest(separator, b);

        if (kind == KIND_CONFLICT) {
            if (a.height != b.height || digestA == digestB) revert NotConflicting();
        } else {
            if (uint256(b.height) != uint256(a.height) + 1 || b.prevHeaderHash == digestA) revert NotConflicting();
        }

        signer = _recoverSame(digestA, sigA, digestB, sigB);
    }

    /// @notice Confiscate the bond of a validator that voted for two different headers at one (view, height).
    function slashVoteConflict(Vote calldata a, bytes calldata sigA, Vote calldata b, bytes calldata sigB) external {
        _requireContext(a.logId, a.membershipHash, b.logId, b.membershipHash);
        _requireVoteKind(a.kind);
        _requireVoteKind(b.kind);
        if (a.viewNumber != b.viewNumber || a.height != b.height || a.headerHash == b.headerHash) revert NotConflicting();
        (bytes32 digestA, bytes32 digestB, address signer) = _recoverPair(_voteDigest(a), sigA, _voteDigest(b), sigB);
        _confiscate(signer, a.logId, KIND_VOTE_CONFLICT, digestA, digestB);
    }

    /// @notice Confiscate the bond of a validator whose lock votes at heights h and h+1 of one view are not on one
    /// chain: `child` is the header b voted for, and it does not extend the header a voted for.
    function slashVoteFork(
        Vote calldata a,
        bytes calldata sigA,
        Vote calldata b,
        bytes calldata sigB,
        Header calldata child
    ) external {
        _requireContext(a.logId, a.membershipHash, b.logId, b.membershipHash);
        if (a.kind != VOTE_LOCK) revert BadVoteKind(a.kind);
        if (b.kind != VOTE_LOCK) revert BadVoteKind(b.kind);
        if (a.viewNumber != b.viewNumber || uint256(b.height) != uint256(a.height) + 1) revert NotConflicting();
        if (
            child.logId != a.logId || child.viewNumber != b.viewNumber || child.height != b.height
                || _digest(_domainSeparator(a.logId, block.chainid), child) != b.headerHash
        ) revert ChildMismatch();
        if (child.prevHeaderHash == a.headerHash) revert NotConflicting();
        (bytes32 digestA, bytes32 digestB, address signer) = _recoverPair(_voteDigest(a), sigA, _voteDigest(b), sigB);
        _confiscate(signer, a.logId, KIND_VOTE_FORK, digestA, digestB);
    }

    /// @notice Confiscate the bond of a validator that, after a commit vote c, timed out a view >= c's reporting
    /// a lock below (c.view, c.height), or none.
    function slashLockLie(Vote calldata c, bytes calldata sigC, Timeout calldata t, bytes calldata sigT) external {
        _requireContext(c.logId, c.membershipHash, t.logId, t.membershipHash);
        if (c.kind != VOTE_COMMIT || t.viewNumber < c.viewNumber) revert NotConflicting();
        bool lower = t.lockHash == bytes32(0) || t.lockView < c.viewNumber
            || (t.lockView == c.viewNumber && t.lockHeight < c.height);
        if (!lower) revert NotConflicting();
        (bytes32 digestC, bytes32 digestT, address signer) = _recoverPair(_voteDigest(c), sigC, _timeoutDigest(t), sigT);
        _confiscate(signer, c.logId, KIND_LOCK_LIE, digestC, digestT);
    }

    /// @notice Confiscate the bond of a validator that signed two different timeouts for one view.
    function slashTimeoutConflict(Timeout calldata a, bytes calldata sigA, Timeout calldata b, bytes calldata sigB)
        external
    {
        _requireContext(a.logId, a.membershipHash, b.logId, b.membershipHash);
        if (a.viewNumber != b.viewNumber) revert NotConflicting();
        bytes32 digestA = _timeoutDigest(a);
        bytes32 digestB = _timeoutDigest(b);
        if (digestA == digestB) revert NotConflicting();
        address signer = _recoverSame(digestA, sigA, digestB, sigB);
        _confiscate(signer, a.logId, KIND_TIMEOUT_CONFLICT, digestA, digestB);
    }

    /// Both statements are of one log and one validator set (a signature made for another set is worthless here).
    function _requireContext(bytes32 logIdA, bytes32 membershipA, bytes32 logIdB, bytes32 membershipB) private pure {
        if (logIdA != logIdB) revert LogMismatch(logIdA, logIdB);
        if (membershipA != membershipB) revert MembershipMismatch(membershipA, membershipB);
    }

    function _requireVoteKind(uint8 kind) private pure {
        if (kind != VOTE_LOCK && kind != VOTE_COMMIT) revert BadVoteKind(kind);
    }

    function _recoverPair(bytes32 digestA, bytes calldata sigA, bytes32 digestB, bytes calldata sigB)
        private
        pure
        returns (bytes32, bytes32, address)
    {
        return (digestA, digestB, _recoverSame(digestA, sigA, digestB, sigB));
    }

    /// The one address that signed both digests (strict recovery of each), else SignerMismatch.
    function _recoverSame(bytes32 digestA, bytes calldata sigA, bytes32 digestB, bytes calldata sigB)
        private
        pure
        returns (address signer)
    {
        signer = _recover(digestA, sigA);
        address signerB = _recover(digestB, sigB);
        if (signer != signerB) revert SignerMismatch(signer, signerB);
    }

    /// Zeroes the bond and flags it slashed for good, pays the reporter, locks the rest.
    function _confiscate(address sequencer, bytes32 logId, uint8 kind, bytes32 digestA, bytes32 digestB) private {
        Bond storage bond = _bonds[sequencer][logId];
        if (bond.slashed) revert AlreadySlashed(sequencer, logId);
        uint256 amount = bond.amount;
        if (amount == 0) revert NotBonded(sequencer, logId);

        uint256 reward = amount * rewardBps / BPS;
        uint256 burned = amount - reward;

        // effects
        bond.amount = 0;
        bond.withdrawableAt = 0;
        bond.slashed = true;
        totalBurned += burned;
        emit Slashed(sequencer, logId, kind, digestA, digestB, msg.sender, reward, burned);

        // interaction
        if (reward != 0) {
            (bool ok,) = msg.sender.call{value: reward}("");
            if (!ok) revert TransferFailed();
        }
    }

    // ----------------------------------------------------------------------------------------- views

    function bondOf(address sequencer, bytes32 logId) external view returns (uint256) {
        return _bonds[sequencer][logId].amount;
    }

    function bondInfo(address sequencer, bytes32 logId)
        external
        view
        returns (uint256 amount, uint256 withdrawableAt, bool slashed)
    {
        Bond storage bond = _bonds[sequencer][logId];
        return (bond.amount, bond.withdrawableAt, bond.slashed);
    }

    /// @notice The EIP-712 domain separator of `logId` on this chain.
    function domainSeparator(bytes32 logId) external view returns (bytes32) {
        return _domainSeparator(logId, block.chainid);
    }

    /// @notice The EIP-712 domain separator of `logId` on any chain.
    function domainSeparatorFor(bytes32 logId, uint256 chainId) external pure returns (bytes32) {
        return _domainSeparator(logId, chainId);
    }

    /// @notice EIP-712 struct hash of a header.
    function structHash(Header calldata h) external pure returns (bytes32) {
        return _structHash(h);
    }

    /// @notice headerHash of `h` for chain `chainId` (domain salt = h.logId): what the sequencer signs.
    function headerDigest(Header calldata h, uint256 chainId) external pure returns (bytes32) {
        return _digest(_domainSeparator(h.logId, chainId), h);
    }

    /// @notice The address that signed `h` (for this chain), with the same checks `slash` applies.
    function recoverSigner(Header calldata h, bytes calldata sig) external view returns (address) {
        return _recover(_digest(_domainSeparator(h.logId, block.chainid), h), sig);
    }

    /// @notice The EIP-712 digest a validator signs for `v` on chain `chainId` (domain salt = v.logId).
    function voteDigest(Vote calldata v, uint256 chainId) external pure returns (bytes32) {
        return _voteDigestFor(v, chainId);
    }

    /// @notice The EIP-712 digest a validator signs for `t` on chain `chainId` (domain salt = t.logId).
    function timeoutDigest(Timeout calldata t, uint256 chainId) external pure returns (bytes32) {
        return _timeoutDigestFor(t, chainId);
    }

    /// @notice The address that signed `v` (for this chain), with the same checks the slashing functions apply.
    function recoverVoteSigner(Vote calldata v, bytes calldata sig) external view returns (address) {
        return _recover(_voteDigest(v), sig);
    }

    /// @notice The address that signed `t` (for this chain), with the same checks the slashing functions apply.
    function recoverTimeoutSigner(Timeout calldata t, bytes calldata sig) external view returns (address) {
        return _recover(_timeoutDigest(t), sig);
    }

    // ------------------------------------------------------------------------------------- internals

    function _voteDigest(Vote calldata v) private view returns (bytes32) {
        return _voteDigestFor(v, block.chainid);
    }

    function _timeoutDigest(Timeout calldata t) private view returns (bytes32) {
        return _timeoutDigestFor(t, block.chainid);
    }

    /// structHash = keccak256(abi.encode(VOTE_TYPEHASH, fields in type-string order)): uint8 kind is one word, as
    /// EIP-712 encodeData has it.
    function _voteDigestFor(Vote calldata v, uint256 chainId) private pure returns (bytes32) {
        bytes32 structHash_ =
            keccak256(abi.encode(VOTE_TYPEHASH, v.logId, v.membershipHash, v.viewNumber, v.height, v.headerHash, v.kind));
        return keccak256(abi.encodePacked(hex"1901", _domainSeparator(v.logId, chainId), structHash_));
    }

    function _timeoutDigestFor(Timeout calldata t, uint256 chainId) private pure returns (bytes32) {
        bytes32 structHash_ = keccak256(
            abi.encode(TIMEOUT_TYPEHASH, t.logId, t.membershipHash, t.viewNumber, t.lockView, t.lockHeight, t.lockHash)
        );
        return keccak256(abi.encodePacked(hex"1901", _domainSeparator(t.logId, chainId), structHash_));
    }

    function _domainSeparator(bytes32 logId, uint256 chainId) private pure returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chainId, logId));
    }

    function _structHash(Header calldata h) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                HEADER_TYPEHASH,
                h.logId,
                h.height,
                h.viewNumber,
                h.firstSeq,
                h.count,
                h.prevHeaderHash,
                h.headHash,
                h.entriesRoot,
                h.timestamp
            )
        );
    }

    function _digest(bytes32 separator, Header calldata h) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", separator, _structHash(h)));
    }

    /// Strict ecrecover: 65 bytes r||s||v, v in {27, 28}, s in the lower half order, nonzero result.
    function _recover(bytes32 digest, bytes calldata sig) private pure returns (address signer) {
        if (sig.length != 65) revert BadSignatureLength(sig.length);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(sig.offset)
            s := calldataload(add(sig.offset, 32))
            v := byte(0, calldataload(add(sig.offset, 64)))
        }
        if (v != 27 && v != 28) revert BadV(v);
        if (uint256(s) > HALF_N) revert MalleableSignature();
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert BadSignature();
    }
}
