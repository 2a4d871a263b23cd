// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Owned} from "./common/Owned.sol";
import {IBatchVerifier} from "./zk/IBatchVerifier.sol";
import {IClaimSource} from "./fpvm/IClaimSource.sol";

/// What the rollup reads of the bridge: how many deposits L1 holds and the hash
/// chain over them (`Bridge.depositHead`), and the chain after the first `count`.
interface IDepositHead {
    function depositHead() external view returns (uint64 count, bytes32 accumulator);
    function depositAccumulators(uint256 count) external view returns (bytes32);
}

/// What the rollup reads of its fault game (`FaultGame`).
interface IFaultGameConfig {
    function source() external view returns (IClaimSource);
    function maxClockDuration() external view returns (uint64);
    function maxGameDuration() external view returns (uint256);
}

/// The L1 record of the L2 chain: batches of L2 blocks (their data as calldata or
/// EIP-4844 blobs), the output the proposer claims for each batch, and which
/// outputs are final.
///
/// Batches are contiguous ranges of L2 blocks and finalize in order. Batch 0 is the
/// genesis output, final from deployment. Every posted batch is also a *claim*
/// with an id never reused (ids count every batch ever posted; a batch posted
/// again after a rollback is a new claim at the same index).
/// - optimistic: the proposer bonds each output (`outputBond`). Anyone may dispute
///   a claim within `challengePeriod` of its posting by opening a game on it in
///   the `game` (`FaultGame`: the RISC-V fault-proof program decides the claim,
///   one instruction on L1). A game the challenger wins invalidates the claim
///   and rolls back its batch and every later one (one counter lowered, whatever
///   their number) and pays half the output bond to the game's creator (the other
///   half stays locked here); a game the
///   defender wins says nothing. A batch finalizes once its period has passed and
///   every game opened on it has ended (a game ends within the game's
///   `maxGameDuration`: twice its clock, at most the challenge period, plus its
///   clock extensions, in all at most twice the challenge period; so finalization
///   comes at most three challenge periods after posting); the bond then returns
///   to the proposer.
/// - zk: a batch finalizes only with a proof the `verifier` accepts. The verifier
///   is fixed at deployment (`verifier`, with its key's hash `vkHash`): nobody can
///   swap it. One proof may finalize a range of batches; only the range's last
///   output is proven, so only it becomes `Finalized` and the batches inside it
///   `Superseded`.
///
/// Owner powers: pausing stops new batches only (finalization, games and bonds
/// go on); the batcher changes only after `batcherDelay`; nothing else.
contract Rollup is Owned, IClaimSource {
    enum Mode {
        Optimistic,
        Zk
    }

    enum Status {
        None,
        Pending,
        /// A game on this claim was won by the challenger: its output is wrong.
        Invalid,
        Finalized,
        /// zk: inside a range proven by one proof that did not pass through this
        /// batch's claimed root. Its blocks are final (the range's last output
        /// covers them); its own root is not, and nothing may be proven against it.
        Superseded
    }

    /// What a proposer claims for the end of a batch. Besides the state root and
    /// the block, the context the next block starts from: its base fee and the
    /// next bridge deposit nonce (the fault-proof program reads them as the next
    /// batch's pre-output, so they are disputed with the root).
    struct Output {
        bytes32 stateRoot;
        uint64 l2BlockNumber;
        bytes32 l2BlockHash;
        uint64 nextBaseFee;
        uint64 nextDepositNonce;
    }

    /// One claim: a batch as posted and its claimed output.
    struct Batch {
        bytes32 dataCommitment;
        bytes32 stateRoot;
        bytes32 l2BlockHash;
        uint64 firstBlock;
        uint64 lastBlock;
        uint64 submittedAt;
        uint64 l1Block;
        uint8 blobCount; // 0: data in calldata
        Status status;
        uint64 nextBaseFee;
        uint64 nextDepositNonce;
        /// Its batch index.
        uint64 index;
        /// The claim whose output this batch starts from (the batch before it).
        uint64 parent;
        /// How many deposits L1 held when it was posted (optimistic: at most
        /// `maxBatchDeposits` past the pre-output's next nonce), and the
        /// bridge's hash chain over them.
        uint64 depositCount;
        bytes32 depositAccumulator;
        address proposer;
        /// Games opened on this claim and not yet resolved.
        uint64 openGames;
        /// The output bond still held (paid out at finalization or invalidation).
        uint128 bond;
    }

    /// Calldata batches are capped so that loading one into the preimage oracle
    /// (one transaction carrying the same bytes) fits the per-transaction gas cap
    /// (EIP-7825, 2^24) at EIP-7623's floor of 40 gas per non-zero byte.
    uint256 public constant MAX_CALLDATA = 400_000;
    /// `Bridge.MAX_DEPOSIT_GAS`: the most gas one deposit may ask for.
    uint256 public constant MAX_DEPOSIT_GAS = 5_000_000;
    /// `Bridge.MIN_DEPOSIT_GAS`: the least gas one deposit asks for.
    uint256 public constant MIN_DEPOSIT_GAS = 21_000;
    /// `infra_stf::BLOCK_GAS`: what the batch gas budget charges a block for itself.
    uint256 public constant BLOCK_GAS = 1_000;
    /// Added to three challenge periods (the latest an output posted before a
    /// batcher change is announced can finalize) in `batcherDelay`: time for
    /// users to leave once the change is announced.
    uint64 public constant EXIT_WINDOW = 7 days;

    Mode public immutable mode;
    uint64 public immutable challengePeriod;
    /// zk mode: keccak256 of the verifying key every verifier must check against.
    bytes32 public immutable vkHash;
    /// zk: the batch verifier, fixed at deployment.
    address public immutable verifier;
    /// optimistic: the fault game disputing claims, fixed at deployment.
    address public immutable game;
    /// optimistic: the bond each output is posted with.
    uint256 public immutable outputBond;
    /// The bridge whose deposit chain each batch records.
    IDepositHead public immutable bridge;
    /// How long a batcher change waits: `3 * challengePeriod + EXIT_WINDOW`.
    uint64 public immutable batcherDelay;
    /// The most deposits one batch can apply: each asks for at least
    /// `MIN_DEPOSIT_GAS` of the batch gas budget (chain input bytes 69..77),
    /// which a valid batch's deposits stay within (the bridge, fixed at
    /// deployment, refuses a deposit asking for less).
    uint64 public immutable maxBatchDeposits;

    address public batcher;
    address public pendingBatcher;
    uint64 public batcherChangeAt;

    /// Local input 4 of every claim: the chain as the fault-proof program reads it
    /// (`crates/stf/src/claim.rs`, `ClaimChain::encode`).
    bytes public chainInput;

    /// Every claim, by id (0: the genesis output).
    Batch[] internal claims;
    /// The claim at each batch index; entries at `batchCount` and after are stale.
    uint64[] internal batchClaims;
    /// How many batches the chain has (a rollback lowers it).
    uint256 public batchCount;
    /// The first batch not yet final.
    uint256 public nextToFinalize;
    /// Bonds owed, withdrawn with `claimCredit`.
    mapping(address => uint256) public credit;
    /// The halves of invalidated outputs' bonds, locked in this contract for good.
    uint256 public burned;

    event BatchSubmitted(
        uint256 indexed index,
        uint64 firstBlock,
        uint64 lastBlock,
        bytes32 dataCommitment,
        Output output,
        uint8 blobCount,
        uint256 indexed claimId,
        uint64 depositCount,
        bytes32 depositAccumulator
    );
    event OutputFinalized(uint256 indexed index, uint64 l2BlockNumber, bytes32 stateRoot, bytes32 l2BlockHash);
    event GameOpened(uint256 indexed index, uint256 indexed claimId, uint256 gameId);
    event GameEnded(uint256 indexed index, uint256 indexed claimId, uint256 gameId, bool challengerWins);
    event BatchesRolledBack(uint256 indexed fromIndex, uint64 nextBlock);
    event BatcherChangeProposed(address indexed current, address indexed proposed, uint64 effectiveAt);
    event BatcherChanged(address indexed previous, address indexed current);
    event BatchesProven(uint256 indexed first, uint256 indexed last, bytes32 rangeCommitment);
    event BondCredited(uint256 indexed claimId, address indexed to, uint256 amount);
    event CreditClaimed(address indexed to, uint256 amount);

    error NotBatcher(address caller);
    error NotGame(address caller);
    error WrongFirstBlock(uint64 expected, uint64 got);
    error EmptyRange(uint64 firstBlock, uint64 lastBlock);
    error OutputBlockMismatch(uint64 lastBlock, uint64 outputBlock);
    error EmptyData();
    error DataTooLarge(uint256 length, uint256 max);
    error NoBlobs();
    error BlobCountMismatch(uint256 declared);
    error WrongBond(uint256 sent, uint256 required);
    error UnknownBatch(uint256 index);
    error UnknownClaim(uint256 claimId);
    /// The claim's batch was rolled back: it is no longer part of the chain.
    error NotLive(uint256 claimId);
    error NotNextToFinalize(uint256 expected, uint256 got);
    error NotPending(uint256 index, Status status);
    error ChallengePeriodNotOver(uint256 index, uint256 finalizesAt);
    error ChallengePeriodOver(uint256 index);
    /// Games opened on the batch have not all ended.
    error GamesOpen(uint256 index, uint256 open);
    error WrongMode(Mode mode);
    error InvalidProof(uint256 index);
    error NotFinalized(uint256 index);
    /// The game disputes another source's claims.
    error GameSourceMismatch(address source);
    /// A game's clock must be at most half the challenge period.
    error ClockTooLong(uint64 maxClockDuration, uint64 challengePeriod);
    /// A game must end within twice the challenge period.
    error GameTooLong(uint256 maxGameDuration, uint64 challengePeriod);
    error BadChainInput(uint256 length);
    error BadGenesis();
    error NoBatcherChange();
    error BatcherChangeNotDue(uint64 effectiveAt);
    error BondStillHeld(uint256 claimId);
    error NoCredit(address to);
    error TransferFailed();

    modifier onlyBatcher() {
        if (msg.sender != batcher) revert NotBatcher(msg.sender);
        _;
    }

    modifier onlyGame() {
        if (msg.sender != game || game == address(0)) revert NotGame(msg.sender);
        _;
    }

    /// Optimistic: `verifier_` is zero; `game_` is a `FaultGame` whose source is this
    /// contract (deployed first, at this contract's address computed in advance),
    /// with a clock of at most half `challengePeriod_` and a `maxGameDuration` of at
    /// most twice it; `outputBond_` > 0.
    /// zk: `game_` is zero and `outputBond_` 0.
    constructor(
        address owner_,
        address batcher_,
        Mode mode_,
        uint64 challengePeriod_,
        Output memory genesis,
        address verifier_,
        address game_,
        uint256 outputBond_,
        IDepositHead bridge_,
        bytes memory chainInput_
    ) Owned(owner_) {
        if (batcher_ == address(0)) revert ZeroAddress("batcher");
        if (address(bridge_) == address(0)) revert ZeroAddress("bridge");
        // 77 bytes (`ClaimChain::encode`): byte 68 is the curve, 0 BN254, 1
        // BLS12-381 (any other value would make every game's program panic, so
        // no claim could be disputed). The gas limit (bytes 8..16) must hold the
        // largest deposit, and the batch gas budget (bytes 69..77) any block a
        // sequencer builds (a full block, deposits up to half the gas limit or
        // one largest deposit, the block's own charge), else batches carrying
        // such blocks could never be valid.
        if (chainInput_.length != 77 || uint8(chainInput_[68]) > 1) revert BadChainInput(chainInput_.length);
        {
            uint256 gasLimit = _u64At(chainInput_, 8);
            uint256 deposits = gasLimit / 2 > MAX_DEPOSIT_GAS ? gasLimit / 2 : MAX_DEPOSIT_GAS;
            if (gasLimit < MAX_DEPOSIT_GAS || _u64At(chainInput_, 69) < gasLimit + deposits + BLOCK_GAS) {
                revert BadChainInput(chainInput_.length);
            }
        }
        maxBatchDeposits = uint64(_u64At(chainInput_, 69) / MIN_DEPOSIT_GAS);
        // The genesis output is block 0 with no deposits applied (the program
        // checks batch 1's pre-output against it).
        if (genesis.l2BlockNumber != 0 || genesis.nextDepositNonce != 0) revert BadGenesis();
        mode = mode_;
        challengePeriod = challengePeriod_;
        if (mode_ == Mode.Zk) {
            if (verifier_ == address(0)) revert ZeroAddress("verifier");
            if (game_ != address(0) || outputBond_ != 0) revert WrongMode(mode_);
            vkHash = IBatchVerifier(verifier_).vkHash();
        } else {
            if (verifier_ != address(0)) revert WrongMode(mode_);
            if (game_ == address(0)) revert ZeroAddress("game");
            if (outputBond_ == 0 || outputBond_ > type(uint128).max) revert WrongBond(outputBond_, 1);
            address source = address(IFaultGameConfig(game_).source());
            if (source != address(this)) revert GameSourceMismatch(source);
            uint64 clock = IFaultGameConfig(game_).maxClockDuration();
            if (uint256(clock) * 2 > challengePeriod_) revert ClockTooLong(clock, challengePeriod_);
            uint256 duration = IFaultGameConfig(game_).maxGameDuration();
            if (duration > 2 * uint256(challengePeriod_)) revert GameTooLong(duration, challengePeriod_);
        }
        verifier = verifier_;
        game = game_;
        outputBond = outputBond_;
        bridge = bridge_;
        batcherDelay = 3 * challengePeriod_ + EXIT_WINDOW;
        chainInput = chainInput_;
        batcher = batcher_;
        emit BatcherChanged(address(0), batcher_);
        claims.push(
            Batch({
                dataCommitment: bytes32(0),
                stateRoot: genesis.stateRoot,
                l2BlockHash: genesis.l2BlockHash,
                firstBlock: 0,
                lastBlock: 0,
                submittedAt: uint64(block.timestamp),
                l1Block: uint64(block.number),
                blobCount: 0,
                status: Status.Finalized,
                nextBaseFee: genesis.nextBaseFee,
                nextDepositNonce: 0,
                index: 0,
                parent: 0,
                depositCount: 0,
                depositAccumulator: bytes32(0),
                proposer: address(0),
                openGames: 0,
                bond: 0
            })
        );
        batchClaims.push(0);
        batchCount = 1;
        nextToFinalize = 1;
        emit OutputFinalized(0, 0, genesis.stateRoot, genesis.l2BlockHash);
    }

    // ---------------------------------------------------------------- batches

    /// A batch whose data is `data` (the versioned, compressed batch format), at
    /// most `MAX_CALLDATA` bytes. Optimistic: `msg.value` is `outputBond`.
    function submitBatch(uint64 firstBlock, uint64 lastBlock, bytes calldata data, Output calldata output)
        external
        payable
        onlyBatcher
        whenNotPaused
        returns (uint256 index)
    {
        if (data.length == 0) revert EmptyData();
        if (data.length > MAX_CALLDATA) revert DataTooLarge(data.length, MAX_CALLDATA);
        return _record(firstBlock, lastBlock, keccak256(data), 0, output);
    }

    /// A batch whose data is in this transaction's `blobCount` blobs; the commitment
    /// is the hash of their versioned hashes, in order. Optimistic: `msg.value` is
    /// `outputBond`.
    function submitBlobBatch(uint64 firstBlock, uint64 lastBlock, uint8 blobCount, Output calldata output)
        external
        payable
        onlyBatcher
        whenNotPaused
        returns (uint256 index)
    {
        if (blobCount == 0) revert NoBlobs();
        bytes32[] memory hashes = new bytes32[](blobCount);
        for (uint256 i = 0; i < blobCount; i++) {
            hashes[i] = blobhash(i);
            if (hashes[i] == bytes32(0)) revert BlobCountMismatch(blobCount);
        }
        if (blobhash(blobCount) != bytes32(0)) revert BlobCountMismatch(blobCount);
        return _record(firstBlock, lastBlock, keccak256(abi.encodePacked(hashes)), blobCount, output);
    }

    function _record(
        uint64 firstBlock,
        uint64 lastBlock,
        bytes32 commitment,
        uint8 blobCount,
        Output calldata output
    ) internal returns (uint256 index) {
        uint64 expected = nextBlock();
        if (firstBlock != expected) revert WrongFirstBlock(expected, firstBlock);
        if (lastBlock < firstBlock) revert EmptyRange(firstBlock, lastBlock);
        if (output.l2BlockNumber != lastBlock) revert OutputBlockMismatch(lastBlock, output.l2BlockNumber);
        uint256 required = mode == Mode.Optimistic ? outputBond : 0;
        if (msg.value != required) revert WrongBond(msg.value, required);
        index = batchCount;
        // The deposits the claim reads (local input 5): those L1 holds, but in
        // optimistic mode no more than a batch can apply past its pre-output's
        // nonce, so the program's walk back over the chain to that nonce is
        // bounded whatever backlog of unapplied deposits the sequencer leaves.
        // (A pre-output lying about its nonce is a wrong claim, disputed and
        // rolled back with this one. In zk mode no program walks the chain and
        // no game checks a batch inside a proven range: L1's head is recorded.)
        (uint64 depositCount, bytes32 depositAccumulator) = bridge.depositHead();
        uint256 most = uint256(claims[batchClaims[index - 1]].nextDepositNonce) + maxBatchDeposits;
        if (mode == Mode.Optimistic && depositCount > most) {
            depositCount = uint64(most);
            depositAccumulator = bridge.depositAccumulators(most);
        }
        uint256 claimId = claims.length;
        claims.push(
            Batch({
                dataCommitment: commitment,
                stateRoot: output.stateRoot,
                l2BlockHash: output.l2BlockHash,
                firstBlock: firstBlock,
                lastBlock: lastBlock,
                submittedAt: uint64(block.timestamp),
                l1Block: uint64(block.number),
                blobCount: blobCount,
                status: Status.Pending,
                nextBaseFee: output.nextBaseFee,
                nextDepositNonce: output.nextDepositNonce,
                index: uint64(index),
                parent: batchClaims[index - 1],
                depositCount: depositCount,
                depositAccumulator: depositAccumulator,
                proposer: msg.sender,
                openGames: 0,
                bond: uint128(msg.value)
            })
        );
        if (index < batchClaims.length) {
            batchClaims[index] = uint64(claimId);
        } else {
            batchClaims.push(uint64(claimId));
        }
        batchCount = index + 1;
        emit BatchSubmitted(
            index, firstBlock, lastBlock, commitment, output, blobCount, claimId, depositCount, depositAccumulator
        );
    }

    // ----------------------------------------------------------- finalization

    /// Optimistic mode: finalizes batch `index` (the next one in order) once its
    /// challenge period is over and every game opened on it has ended; its bond
    /// is credited back to its proposer. Anyone may call it.
    function finalize(uint256 index) external {
        if (mode != Mode.Optimistic) revert WrongMode(mode);
        (uint256 claimId, Batch storage b) = _next(index);
        if (b.status != Status.Pending) revert NotPending(index, b.status);
        uint256 finalizesAt = uint256(b.submittedAt) + challengePeriod;
        if (block.timestamp < finalizesAt) revert ChallengePeriodNotOver(index, finalizesAt);
        if (b.openGames != 0) revert GamesOpen(index, b.openGames);
        _finalize(index, b);
        _payBond(claimId, b, b.proposer);
    }

    /// zk mode: finalizes batches `nextToFinalize..=last` with one validity proof
    /// of the state transition from the newest final root to batch `last`'s root,
    /// bound to exactly those batches' data (`rangeCommitment`). Batch `last`
    /// becomes `Finalized`; the batches before it in the range `Superseded` (their
    /// own claimed roots were not proven). Anyone may call it.
    function proveBatches(uint256 last, bytes calldata proof) external {
        if (mode != Mode.Zk) revert WrongMode(mode);
        uint256 first = nextToFinalize;
        if (last >= batchCount) revert UnknownBatch(last);
        if (last < first) revert NotPending(last, _batch(last).status);
        bytes32 pre = _batch(first - 1).stateRoot;
        bytes32 commitment = rangeCommitment(first, last);
        Batch storage lastBatch = _batch(last);
        if (!IBatchVerifier(verifier).verifyBatch(pre, lastBatch.stateRoot, commitment, proof)) {
            revert InvalidProof(last);
        }
        for (uint256 i = first; i < last; i++) {
            Batch storage b = _batch(i);
            if (b.status != Status.Pending) revert NotPending(i, b.status);
            b.status = Status.Superseded;
        }
        if (lastBatch.status != Status.Pending) revert NotPending(last, lastBatch.status);
        emit BatchesProven(first, last, commitment);
        _finalize(last, lastBatch);
    }

    /// What a proof of batches `first..=last` is bound to:
    /// `keccak256(first, last, dataCommitment_first, ..., dataCommitment_last)`.
    function rangeCommitment(uint256 first, uint256 last) public view returns (bytes32) {
        if (last >= batchCount) revert UnknownBatch(last);
        if (last < first) revert EmptyRange(uint64(first), uint64(last));
        bytes32[] memory commitments = new bytes32[](last - first + 1);
        for (uint256 i = first; i <= last; i++) {
            commitments[i - first] = _batch(i).dataCommitment;
        }
        return keccak256(abi.encodePacked(first, last, commitments));
    }

    function _next(uint256 index) internal view returns (uint256 claimId, Batch storage) {
        if (index >= batchCount) revert UnknownBatch(index);
        if (index != nextToFinalize) revert NotNextToFinalize(nextToFinalize, index);
        claimId = batchClaims[index];
        return (claimId, claims[claimId]);
    }

    function _finalize(uint256 index, Batch storage b) internal {
        b.status = Status.Finalized;
        nextToFinalize = index + 1;
        emit OutputFinalized(index, b.lastBlock, b.stateRoot, b.l2BlockHash);
    }

    function _payBond(uint256 claimId, Batch storage b, address to) internal {
        uint256 amount = b.bond;
        if (amount == 0) return;
        b.bond = 0;
        credit[to] += amount;
        emit BondCredited(claimId, to, amount);
    }

    // ------------------------------------------------------------------ games

    /// Claim `claimId`'s inputs: 1 the output of the batch before it, 2 its
    /// output (each `abi.encode(Output)`), 3 its range, data commitment and blob
    /// count (`abi.encodePacked(uint64, uint64, bytes32, uint8)`), 4 `chainInput`,
    /// 5 the deposits L1 held when it was posted (`abi.encodePacked(uint64 count,
    /// bytes32 accumulator)`). Fixed once the claim is posted; reverts for an
    /// unknown claim (and for 0, the genesis output).
    function localInputs(uint256 claimId) public view returns (bytes[] memory inputs) {
        if (claimId == 0 || claimId >= claims.length) revert UnknownClaim(claimId);
        Batch storage b = claims[claimId];
        inputs = new bytes[](5);
        inputs[0] = _encodeOutput(claims[b.parent]);
        inputs[1] = _encodeOutput(b);
        inputs[2] = abi.encodePacked(b.firstBlock, b.lastBlock, b.dataCommitment, b.blobCount);
        inputs[3] = chainInput;
        inputs[4] = abi.encodePacked(b.depositCount, b.depositAccumulator);
    }

    /// The big-endian uint64 at `offset` of `b` (the caller checked the length).
    function _u64At(bytes memory b, uint256 offset) private pure returns (uint64 v) {
        for (uint256 i = 0; i < 8; i++) {
            v = (v << 8) | uint64(uint8(b[offset + i]));
        }
    }

    function _encodeOutput(Batch storage b) internal view returns (bytes memory) {
        return abi.encode(
            Output({
                stateRoot: b.stateRoot,
                l2BlockNumber: b.lastBlock,
                l2BlockHash: b.l2BlockHash,
                nextBaseFee: b.nextBaseFee,
                nextDepositNonce: b.nextDepositNonce
            })
        );
    }

    /// Game `gameId` opens on claim `claimId`: the claim must be live, pending and inside its challenge period.
    function openGame(uint256 claimId, uint256 gameId) external onlyGame returns (bytes[] memory) {
        if (claimId == 0 || claimId >= claims.length) revert UnknownClaim(claimId);
        Batch storage b = claims[claimId];
        if (!isLive(claimId)) revert NotLive(claimId);
        if (b.status != Status.Pending) revert NotPending(b.index, b.status);
        if (block.timestamp >= uint256(b.submittedAt) + challengePeriod) revert ChallengePeriodOver(b.index);
        b.openGames += 1;
        emit GameOpened(b.index, claimId, gameId);
        return localInputs(claimId);
    }

    /// Game `gameId` on claim `claimId` ended. A challenger win marks the claim invalid, pays half its output bond to `creator`
    /// and, if its batch is still part of the chain, rolls it back with every
    /// later batch. Never reverts for a game `openGame` admitted.
    function gameResolved(uint256 claimId, uint256 gameId, bool challengerWins, address creator) external onlyGame {
        Batch storage b = claims[claimId];
        b.openGames -= 1;
        emit GameEnded(b.index, claimId, gameId, challengerWins);
        if (!challengerWins) return;
        // A claim with a game open cannot have finalized (finalize waits for it).
        b.status = Status.Invalid;
        // Half the bond to the game's creator, half locked here for good: a
        // proposer racing its own wrong output with a game from another key
        // loses at least half its bond whoever wins the race.
        uint256 half = b.bond / 2;
        burned += b.bond - half;
        b.bond = uint128(half);
        _payBond(claimId, b, creator);
        if (isLive(claimId)) {
            batchCount = b.index;
            emit BatchesRolledBack(b.index, nextBlock());
        }
    }

    /// Credits the bond of a claim whose batch was rolled back by an earlier
    /// batch's invalidation back to its proposer, once no game on it is open (a
    /// game still open could invalidate it and take the bond). Anyone may call it.
    function refundBond(uint256 claimId) external {
        if (claimId == 0 || claimId >= claims.length) revert UnknownClaim(claimId);
        Batch storage b = claims[claimId];
        if (isLive(claimId) || b.openGames != 0 || b.status == Status.Invalid) revert BondStillHeld(claimId);
        _payBond(claimId, b, b.proposer);
    }

    /// Pays out the caller's credit (output bonds).
    function claimCredit() external {
        uint256 amount = credit[msg.sender];
        if (amount == 0) revert NoCredit(msg.sender);
        credit[msg.sender] = 0;
        emit CreditClaimed(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ------------------------------------------------------------------ admin

    /// Announces a batcher change; it takes effect `batcherDelay` later
    /// (`acceptBatcher`). A new proposal replaces the pending one and restarts the delay.
    function proposeBatcher(address batcher_) external onlyOwner {
        if (batcher_ == address(0)) revert ZeroAddress("batcher");
        uint64 effectiveAt = uint64(block.timestamp) + batcherDelay;
        pendingBatcher = batcher_;
        batcherChangeAt = effectiveAt;
        emit BatcherChangeProposed(batcher, batcher_, effectiveAt);
    }

    function cancelBatcherChange() external onlyOwner {
        if (pendingBatcher == address(0)) revert NoBatcherChange();
        pendingBatcher = address(0);
        batcherChangeAt = 0;
        emit BatcherChangeProposed(batcher, address(0), 0);
    }

    /// Makes the announced batcher current once its delay has passed. Anyone may call it.
    function acceptBatcher() external {
        address next = pendingBatcher;
        if (next == address(0)) revert NoBatcherChange();
        if (block.timestamp < batcherChangeAt) revert BatcherChangeNotDue(batcherChangeAt);
        emit BatcherChanged(batcher, next);
        batcher = next;
        pendingBatcher = address(0);
        batcherChangeAt = 0;
    }

    // ------------------------------------------------------------------ views

    /// Whether claim `claimId` is part of the chain (its batch not rolled back).
    function isLive(uint256 claimId) public view returns (bool) {
        if (claimId >= claims.length) return false;
        uint256 index = claims[claimId].index;
        return index < batchCount && batchClaims[index] == claimId;
    }

    /// The L2 block the next batch must start with.
    function nextBlock() public view returns (uint64) {
        return _batch(batchCount - 1).lastBlock + 1;
    }

    function claimCount() external view returns (uint256) {
        return claims.length;
    }

    /// The claim id of batch `index`.
    function claimOf(uint256 index) external view returns (uint256) {
        if (index >= batchCount) revert UnknownBatch(index);
        return batchClaims[index];
    }

    function getBatch(uint256 index) external view returns (Batch memory) {
        return _batch(index);
    }

    function getClaim(uint256 claimId) external view returns (Batch memory) {
        if (claimId >= claims.length) revert UnknownClaim(claimId);
        return claims[claimId];
    }

    /// The state root of a final batch; reverts for any other.
    function finalizedStateRoot(uint256 index) external view returns (bytes32) {
        if (index >= batchCount || _batch(index).status != Status.Finalized) revert NotFinalized(index);
        return _batch(index).stateRoot;
    }

    /// The newest final batch and its output.
    function latestFinalized() external view returns (uint256 index, Output memory output) {
        index = nextToFinalize - 1;
        Batch storage b = _batch(index);
        output = Output({
            stateRoot: b.stateRoot,
            l2BlockNumber: b.lastBlock,
            l2BlockHash: b.l2BlockHash,
            nextBaseFee: b.nextBaseFee,
            nextDepositNonce: b.nextDepositNonce
        });
    }

    function _batch(uint256 index) internal view returns (Batch storage) {
        if (index >= batchCount) revert UnknownBatch(index);
        return claims[batchClaims[index]];
    }
}
