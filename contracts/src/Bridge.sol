// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Owned} from "./common/Owned.sol";
import {IPoseidon} from "./poseidon/IPoseidon.sol";
import {StateProof} from "./lib/StateProof.sol";

interface IRollupOutputs {
    function finalizedStateRoot(uint256 index) external view returns (bytes32);
}

/// The L1 side of the bridge. Deposits lock ETH here and emit `DepositInitiated`,
/// which the sequencer turns into a system transaction at the start of an L2 block
/// (in L1 order, exactly once). Withdrawals are paid from here once the user shows,
/// with a sparse-Merkle storage proof, that the L2 `L2Withdrawals` predeploy recorded
/// the withdrawal in a state root the rollup has finalized. Nobody else can release
/// funds, and each withdrawal pays out once. The owner may pause deposits;
/// withdrawals are never paused.
contract Bridge is Owned {
    struct Withdrawal {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }

    /// The L2 predeploy that records withdrawals, and its `sentMessages` slot.
    address public constant L2_WITHDRAWALS = 0x4200000000000000000000000000000000000016;
    uint256 public constant SENT_MESSAGES_SLOT = 1;
    /// L1 contracts appear on L2 under an aliased address (as on OP Stack and
    /// Arbitrum), so an L1 contract cannot act as the L2 account at its own address.
    uint160 public constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);
    uint64 public constant MIN_DEPOSIT_GAS = 21_000;
    uint64 public constant MAX_DEPOSIT_GAS = 5_000_000;
    uint256 public constant MAX_DEPOSIT_DATA = 120_000;

    IRollupOutputs public immutable rollup;
    IPoseidon public immutable hasher;

    uint256 public depositNonce;
    /// The hash chain over the deposits' full records (the fault-proof program
    /// reads a batch's deposits through it): `depositAccumulators[0]` is 0 and
    /// `depositAccumulators[n + 1] = keccak256(depositAccumulators[n] ‖
    /// keccak256(record(n)))`, where `record(n) = abi.encodePacked(uint64 nonce,
    /// uint64 l1Block, address from, address to, uint256 value, uint64 gasLimit,
    /// bytes data)` is everything the L2 deposit transaction carries.
    mapping(uint256 count => bytes32) public depositAccumulators;
    mapping(bytes32 => bool) public finalizedWithdrawals;

    event DepositInitiated(
        uint256 indexed nonce, address indexed from, address indexed to, uint256 value, uint64 gasLimit, bytes data
    );
    event WithdrawalFinalized(bytes32 indexed withdrawalHash, address indexed target, uint256 value, uint256 batchIndex);

    error DepositGasOutOfRange(uint64 gasLimit, uint64 min, uint64 max);
    error DepositDataTooLarge(uint256 length, uint256 max);
    error AlreadyFinalized(bytes32 withdrawalHash);
    error InvalidWithdrawalProof(bytes32 withdrawalHash, uint256 batchIndex);
    error InsufficientGas(uint256 needed, uint256 left);
    error WithdrawalCallFailed(bytes32 withdrawalHash, bytes returnData);

    constructor(address owner_, IRollupOutputs rollup_, IPoseidon hasher_) Owned(owner_) {
        if (address(rollup_) == address(0)) revert ZeroAddress("rollup");
        if (address(hasher_) == address(0)) revert ZeroAddress("hasher");
        rollup = rollup_;
        hasher = hasher_;
    }

    // --------------------------------------------------------------- deposits

    /// Deposits `msg.value` to `to` on L2, calling it with `data` and `gasLimit` gas.
    function depositETH(address to, uint64 gasLimit, bytes calldata data) external payable whenNotPaused {
        if (gasLimit < MIN_DEPOSIT_GAS || gasLimit > MAX_DEPOSIT_GAS) {
            revert DepositGasOutOfRange(gasLimit, MIN_DEPOSIT_GAS, MAX_DEPOSIT_GAS);
        }
        if (data.length > MAX_DEPOSIT_DATA) revert DepositDataTooLarge(data.length, MAX_DEPOSIT_DATA);
        _deposit(to, gasLimit, data);
    }

    /// Plain ETH sent here is deposited to the sender's own L2 address.
    receive() external payable whenNotPaused {
        _deposit(msg.sender, MIN_DEPOSIT_GAS, "");
    }

    function _deposit(address to, uint64 gasLimit, bytes memory data) internal {
        address from = msg.sender;
        // solhint-disable-next-line avoid-tx-origin
        if (msg.sender != tx.origin) from = l2Alias(msg.sender);
        uint256 nonce = depositNonce;
        depositNonce = nonce + 1;
        bytes32 record = keccak256(
            abi.encodePacked(uint64(nonce), uint64(block.number), from, to, msg.value, gasLimit, data)
        );
        depositAccumulators[nonce + 1] = keccak256(abi.encodePacked(depositAccumulators[nonce], record));
        emit DepositInitiated(nonce, from, to, msg.value, gasLimit, data);
    }

    /// How many deposits L1 holds, and the hash chain over all of them (what
    /// `Rollup` records when a batch is posted).
    function depositHead() external view returns (uint64 count, bytes32 accumulator) {
        uint256 n = depositNonce;
        return (uint64(n), depositAccumulators[n]);
    }

    function l2Alias(address l1Address) public pure returns (address) {
        unchecked {
            return address(uint160(l1Address) + ALIAS_OFFSET);
        }
    }

    // ------------------------------------------------------------ withdrawals

    function hashWithdrawal(Withdrawal calldata w) public pure returns (bytes32) {
        return keccak256(abi.encode(w.nonce, w.sender, w.target, w.value, w.gasLimit, w.data));
    }

    /// The storage slot of withdrawal `h` in the L2 predeploy.
    function withdrawalSlot(bytes32 h) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(h, SENT_MESSAGES_SLOT)));
    }

    /// Pays out withdrawal `w` after checking, against the state root of final batch
    /// `batchIndex`, that the L2 predeploy recorded it (`siblings`: the node's
    /// `infra_getWithdrawalProof`). Anyone may submit it; it pays `w.target` once.
    /// A failing target call reverts the whole finalization, so it can be retried.
    function finalizeWithdrawal(Withdrawal calldata w, uint256 batchIndex, bytes32[] calldata siblings) external {
        bytes32 h = hashWithdrawal(w);
        if (finalizedWithdrawals[h]) revert AlreadyFinalized(h);
        bytes32 root = rollup.finalizedStateRoot(batchIndex);
        if (!StateProof.verifyStorage(hasher, root, L2_WITHDRAWALS, withdrawalSlot(h), 1, siblings)) {
            revert InvalidWithdrawalProof(h, batchIndex);
        }
        finalizedWithdrawals[h] = true;
        emit WithdrawalFinalized(h, w.target, w.value, batchIndex);
        // EIP-150 leaves 63/64 of the gas to the callee: ask for enough that the
        // target really gets `gasLimit`.
        uint256 needed = w.gasLimit + w.gasLimit / 63 + 5_000;
        if (gasleft() < needed) revert InsufficientGas(needed, gasleft());
        (bool ok, bytes memory ret) = w.target.call{value: w.value, gas: w.gasLimit}(w.data);
        if (!ok) revert WithdrawalCallFailed(h, ret);
    }
}
