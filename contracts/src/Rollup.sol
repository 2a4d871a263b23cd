// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Owned} from "./common/Owned.sol";
import {IBatchVerifier} from "./zk/IBatchVerifier.sol";

/// The L1 record of the L2 chain: batches of L2 blocks (their data as calldata or
/// EIP-4844 blobs), the output the proposer claims for each batch, and which
/// outputs are final.
///
/// Batches are contiguous ranges of L2 blocks and finalize in order. Batch 0 is the
/// genesis output, final from deployment.
/// - optimistic: a batch finalizes once `challengePeriod` seconds have passed since
///   it was submitted and it is not under challenge. The `challenger` (the dispute
///   game) can freeze a batch and, if the output was wrong, roll it back together
///   with every later batch.
/// - zk: a batch finalizes only with a proof the `verifier` accepts; without a
///   The verifier is fixed at deployment (`verifier`, with its key's hash
///   `vkHash`): nobody can swap it. One proof may finalize a range of batches;
///   only the range's last output is proven, so only it becomes `Finalized` and
///   the batches inside it `Superseded`.
contract Rollup is Owned {
    enum Mode {
        Optimistic,
        Zk
    }

    enum Status {
        None,
        Pending,
        Challenged,
        Finalized,
        /// zk: inside a range proven by one proof that did not pass through this
        /// batch's claimed root. Its blocks are final (the range's last output
        /// covers them); its own root is not, and nothing may be proven against it.
        Superseded
    }

    /// What a proposer claims for the end of a batch. Besides the state root and
    /// the block, the context the next block starts from: its base fee and the
    /// next bridge deposit nonce (the fraud-proof game starts the next batch's
    /// step machine from them, so they are disputed with the root).
    struct Output {
        bytes32 stateRoot;
        uint64 l2BlockNumber;
        bytes32 l2BlockHash;
        uint64 nextBaseFee;
        uint64 nextDepositNonce;
    }

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
    }

    Mode public immutable mode;
    uint64 public immutable challengePeriod;
    /// zk mode: keccak256 of the verifying key every verifier must check against.
    bytes32 public immutable vkHash;

    address public batcher;
    address public challenger;
    /// zk: the batch verifier, fixed at deployment.
    address public immutable verifier;

    Batch[] internal batches;
    /// The first batch not yet final.
    uint256 public nextToFinalize;

    event BatchSubmitted(
        uint256 indexed index, uint64 firstBlock, uint64 lastBlock, bytes32 dataCommitment, Output output, uint8 blobCount
    );
    event OutputFinalized(uint256 indexed index, uint64 l2BlockNumber, bytes32 stateRoot, bytes32 l2BlockHash);
    event BatchChallenged(uint256 indexed index, address indexed by);
    event ChallengeResolved(uint256 indexed index, bool outputValid);
    event BatchesRolledBack(uint256 indexed fromIndex, uint64 nextBlock);
    event BatcherChanged(address indexed previous, address indexed current);
    event ChallengerChanged(address indexed previous, address indexed current);
    event BatchesProven(uint256 indexed first, uint256 indexed last, bytes32 rangeCommitment);

    error NotBatcher(address caller);
    error NotChallenger(address caller);
    error WrongFirstBlock(uint64 expected, uint64 got);
    error EmptyRange(uint64 firstBlock, uint64 lastBlock);
    error OutputBlockMismatch(uint64 lastBlock, uint64 outputBlock);
    error EmptyData();
    error NoBlobs();
    error BlobCountMismatch(uint256 declared);
    error UnknownBatch(uint256 index);
    error NotNextToFinalize(uint256 expected, uint256 got);
    error NotPending(uint256 index, Status status);
    error ChallengePeriodNotOver(uint256 index, uint256 finalizesAt);
    error ChallengePeriodOver(uint256 index);
    error NotChallenged(uint256 index);
    error WrongMode(Mode mode);
    error InvalidProof(uint256 index);
    error NotFinalized(uint256 index);
    /// With a dispute game attached, an optimistic batch must be readable on L1:
    /// calldata in the uncompressed batch format (codec 0).
    error DisputableDataRequired();

    modifier onlyBatcher() {
        if (msg.sender != batcher) revert NotBatcher(msg.sender);
        _;
    }

    modifier onlyChallenger() {
        if (msg.sender != challenger) revert NotChallenger(msg.sender);
        _;
    }

    constructor(
        address owner_,
        address batcher_,
        Mode mode_,
        uint64 challengePeriod_,
        bytes32 genesisStateRoot,
        bytes32 genesisBlockHash,
        uint64 genesisNextBaseFee,
        address verifier_
    ) Owned(owner_) {
        if (batcher_ == address(0)) revert ZeroAddress("batcher");
        mode = mode_;
        challengePeriod = challengePeriod_;
        if (mode_ == Mode.Zk) {
            if (verifier_ == address(0)) revert ZeroAddress("verifier");
            vkHash = IBatchVerifier(verifier_).vkHash();
        } else if (verifier_ != address(0)) {
            revert WrongMode(mode_);
        }
        verifier = verifier_;
        batcher = batcher_;
        emit BatcherChanged(address(0), batcher_);
        batches.push(
            Batch({
                dataCommitment: bytes32(0),
                stateRoot: genesisStateRoot,
                l2BlockHash: genesisBlockHash,
                firstBlock: 0,
                lastBlock: 0,
                submittedAt: uint64(block.timestamp),
                l1Block: uint64(block.number),
                blobCount: 0,
                status: Status.Finalized,
                nextBaseFee: genesisNextBaseFee,
                nextDepositNonce: 0
            })
        );
        nextToFinalize = 1;
        emit OutputFinalized(0, 0, genesisStateRoot, genesisBlockHash);
    }

    // ---------------------------------------------------------------- batches

    /// A batch whose data is `data` (the versioned, compressed batch format).
    function submitBatch(uint64 firstBlock, uint64 lastBlock, bytes calldata data, Output calldata output)
        external
        onlyBatcher
        whenNotPaused
        returns (uint256 index)
    {
        if (data.length == 0) revert EmptyData();
        if (mode == Mode.Optimistic && challenger != address(0) && (data.length < 2 || data[1] != 0)) {
            revert DisputableDataRequired();
        }
        return _record(firstBlock, lastBlock, keccak256(data), 0, output);
    }

    /// A batch whose data is in this transaction's `blobCount` blobs; the commitment
    /// is the hash of their versioned hashes, in order.
    function submitBlobBatch(uint64 firstBlock, uint64 lastBlock, uint8 blobCount, Output calldata output)
        external
        onlyBatcher
        whenNotPaused
        returns (uint256 index)
    {
        if (blobCount == 0) revert NoBlobs();
        if (mode == Mode.Optimistic && challenger != address(0)) revert DisputableDataRequired();
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
        index = batches.length;
        batches.push(
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
                nextDepositNonce: output.nextDepositNonce
            })
        );
        emit BatchSubmitted(index, firstBlock, lastBlock, commitment, output, blobCount);
    }

    // ----------------------------------------------------------- finalization

    /// Optimistic mode: finalizes batch `index` (the next one in order) once its
    /// challenge period is over. Anyone may call it.
    function finalize(uint256 index) external whenNotPaused {
        if (mode != Mode.Optimistic) revert WrongMode(mode);
        Batch storage b = _next(index);
        if (b.status != Status.Pending) revert NotPending(index, b.status);
        uint256 finalizesAt = uint256(b.submittedAt) + challengePeriod;
        if (block.timestamp < finalizesAt) revert ChallengePeriodNotOver(index, finalizesAt);
        _finalize(index, b);
    }

    /// zk mode: finalizes batches `nextToFinalize..=last` with one validity proof
    /// of the state transition from the newest final root to batch `last`'s root,
    /// bound to exactly those batches' data (`rangeCommitment`). Batch `last`
    /// becomes `Finalized`; the batches before it in the range `Superseded` (their
    /// own claimed roots were not proven). Anyone may call it.
    function proveBatches(uint256 last, bytes calldata proof) external whenNotPaused {
        if (mode != Mode.Zk) revert WrongMode(mode);
        uint256 first = nextToFinalize;
        if (last >= batches.length) revert UnknownBatch(last);
        if (last < first) revert NotPending(last, batches[last].status);
        bytes32 pre = batches[first - 1].stateRoot;
        bytes32 commitment = rangeCommitment(first, last);
        if (!IBatchVerifier(verifier).verifyBatch(pre, batches[last].stateRoot, commitment, proof)) {
            revert InvalidProof(last);
        }
        for (uint256 i = first; i < last; i++) {
            Batch storage b = batches[i];
            if (b.status != Status.Pending) revert NotPending(i, b.status);
            b.status = Status.Superseded;
        }
        Batch storage lastBatch = batches[last];
        if (lastBatch.status != Status.Pending) revert NotPending(last, lastBatch.status);
        emit BatchesProven(first, last, commitment);
        _finalize(last, lastBatch);
    }

    /// What a proof of batches `first..=last` is bound to:
    /// `keccak256(first, last, dataCommitment_first, ..., dataCommitment_last)`.
    function rangeCommitment(uint256 first, uint256 last) public view returns (bytes32) {
        if (last >= batches.length) revert UnknownBatch(last);
        if (last < first) revert EmptyRange(uint64(first), uint64(last));
        bytes32[] memory commitments = new bytes32[](last - first + 1);
        for (uint256 i = first; i <= last; i++) {
            commitments[i - first] = batches[i].dataCommitment;
        }
        return keccak256(abi.encodePacked(first, last, commitments));
    }

    function _next(uint256 index) internal view returns (Batch storage) {
        if (index >= batches.length) revert UnknownBatch(index);
        if (index != nextToFinalize) revert NotNextToFinalize(nextToFinalize, index);
        return batches[index];
    }

    function _finalize(uint256 index, Batch storage b) internal {
        b.status = Status.Finalized;
        nextToFinalize = index + 1;
        emit OutputFinalized(index, b.lastBlock, b.stateRoot, b.l2BlockHash);
    }

    // ------------------------------------------------------------- challenges

    /// The dispute game freezes a pending batch within its challenge period.
    function challenge(uint256 index) external onlyChallenger {
        if (mode != Mode.Optimistic) revert WrongMode(mode);
        if (index >= batches.length) revert UnknownBatch(index);
        Batch storage b = batches[index];
        if (b.status != Status.Pending) revert NotPending(index, b.status);
        if (block.timestamp >= uint256(b.submittedAt) + challengePeriod) revert ChallengePeriodOver(index);
        b.status = Status.Challenged;
        emit BatchChallenged(index, msg.sender);
    }

    /// The dispute game's verdict. A valid output goes back to pending (it finalizes
    /// once its period is over); an invalid one is removed with every later batch,
    /// and the batcher resubmits from its first block.
    function resolveChallenge(uint256 index, bool outputValid) external onlyChallenger {
        if (index >= batches.length) revert UnknownBatch(index);
        Batch storage b = batches[index];
        if (b.status != Status.Challenged) revert NotChallenged(index);
        emit ChallengeResolved(index, outputValid);
        if (outputValid) {
            b.status = Status.Pending;
            return;
        }
        while (batches.length > index) {
            batches.pop();
        }
        emit BatchesRolledBack(index, nextBlock());
    }

    // ------------------------------------------------------------------ admin

    function setBatcher(address batcher_) external onlyOwner {
        if (batcher_ == address(0)) revert ZeroAddress("batcher");
        emit BatcherChanged(batcher, batcher_);
        batcher = batcher_;
    }

    function setChallenger(address challenger_) external onlyOwner {
        emit ChallengerChanged(challenger, challenger_);
        challenger = challenger_;
    }

    // ------------------------------------------------------------------ views

    /// The L2 block the next batch must start with.
    function nextBlock() public view returns (uint64) {
        return batches[batches.length - 1].lastBlock + 1;
    }

    function batchCount() external view returns (uint256) {
        return batches.length;
    }

    function getBatch(uint256 index) external view returns (Batch memory) {
        if (index >= batches.length) revert UnknownBatch(index);
        return batches[index];
    }

    /// The state root of a final batch; reverts for any other.
    function finalizedStateRoot(uint256 index) external view returns (bytes32) {
        if (index >= batches.length || batches[index].status != Status.Finalized) revert NotFinalized(index);
        return batches[index].stateRoot;
    }

    /// The newest final batch and its output.
    function latestFinalized() external view returns (uint256 index, Output memory output) {
        index = nextToFinalize - 1;
        Batch storage b = batches[index];
        output = Output({
            stateRoot: b.stateRoot,
            l2BlockNumber: b.lastBlock,
            l2BlockHash: b.l2BlockHash,
            nextBaseFee: b.nextBaseFee,
            nextDepositNonce: b.nextDepositNonce
        });
    }
}
