// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPoseidon} from "../poseidon/IPoseidon.sol";
import {StateProof} from "../lib/StateProof.sol";
import {Rlp} from "./Rlp.sol";
import {L2Tx} from "./L2Tx.sol";
import {GameTypes} from "./GameTypes.sol";

interface IDepositRecord {
    function depositHashes(uint256 nonce) external view returns (bytes32);
}

/// The one-step decision of the dispute game (docs/fraud-proofs.md): executes one
/// step of a batch on L1 for ETH transfers, deposits and block ends, against
/// sparse-Merkle proofs of the accounts it touches. Steps that run contract code
/// revert `NotDecidableOnL1` (the game's arbiter decides them).
contract OneStep {
    uint64 internal constant TX_GAS = 21_000;
    /// EIP-7825 (Osaka): the most gas one transaction may carry.
    uint64 internal constant TX_GAS_CAP = 1 << 24;

    IDepositRecord public immutable bridge;
    IPoseidon public immutable hasher;
    GameTypes.Config public config;

    error BadPayload(string reason);
    error BadWitness(string reason);
    /// The step runs contract code (or a transaction type) L1 does not execute in
    /// this version: the arbiter decides it.
    error NotDecidableOnL1(string reason);

    constructor(IDepositRecord bridge_, IPoseidon hasher_, GameTypes.Config memory config_) {
        bridge = bridge_;
        hasher = hasher_;
        config = config_;
    }

    /// Decodes a transaction for `step` (external so a malformed one is caught).
    function decodeTx(bytes calldata raw) external pure returns (L2Tx.Tx memory) {
        return L2Tx.decode(raw);
    }

    /// Block `blockIndex` of the payload: its deposit count and transactions.
    function _block(bytes memory payload, uint64 blockIndex, uint64 blocks)
        internal
        pure
        returns (uint256 deposits, Rlp.Item[] memory txs)
    {
        Rlp.Item[] memory top = Rlp.items(payload, Rlp.item(payload, 0));
        if (top.length != 3) revert BadPayload("not [first, parent, blocks]");
        Rlp.Item[] memory list = Rlp.items(payload, top[2]);
        if (list.length != blocks) revert BadPayload("block count differs from the recorded range");
        Rlp.Item[] memory blk = Rlp.items(payload, list[blockIndex]);
        if (blk.length != 3) revert BadPayload("not [timestamp, deposits, txs]");
        deposits = Rlp.toUint(payload, blk[1]);
        txs = Rlp.items(payload, blk[2]);
    }

    /// One step of the batch from `pre`.
    function step(
        GameTypes.StepState calldata pre,
        bytes calldata data,
        uint64 blocks,
        GameTypes.Account[] calldata accounts,
        GameTypes.Deposit calldata deposit
    ) public view returns (GameTypes.StepState memory post) {
        post = pre;
        post.step = pre.step + 1;
        if (data.length < 2 || uint8(data[0]) != 1) revert BadPayload("unknown batch version");
        if (uint8(data[1]) != 0) {
            revert NotDecidableOnL1("compressed batch data: L1 cannot read its transactions");
        }
        if (pre.blockIndex >= blocks) {
            // Past the last block there is no step: any claimed transition is wrong.
            post.stateRoot = bytes32(uint256(0xdead));
            return post;
        }
        bytes memory payload = data[2:];
        (uint256 deposits, Rlp.Item[] memory txs) = _block(payload, pre.blockIndex, blocks);
        if (pre.txIndex < deposits) {
            _depositStep(post, accounts, deposit);
        } else if (pre.txIndex < deposits + txs.length) {
            Rlp.Item memory t = txs[pre.txIndex - deposits];
            if (t.isList) revert BadPayload("a transaction is not a byte string");
            _txStep(post, Rlp.slice(payload, t.offset, t.offset + t.length), accounts);
        } else if (pre.txIndex == deposits + txs.length) {
            _endStep(post, accounts);
            return post;
        } else {
            post.stateRoot = bytes32(uint256(0xdead));
            return post;
        }
        post.txIndex = pre.txIndex + 1;
    }

    /// Applies account `a` (read at the current root) with its new nonce and
    /// balance; an account that stays absent and empty writes nothing.
    function _write(GameTypes.StepState memory s, GameTypes.Account calldata a, uint64 nonce, uint256 balance) internal view {
        uint256 key = StateProof.accountKey(hasher, a.addr);
        uint256 oldValue = a.proof.hasLeaf && a.proof.leafKey == key
            ? StateProof.accountValueHash(hasher, a.nonce, a.balance, a.codeHash)
            : 0;
        if (oldValue == 0) {
            // Absent: the proof must show it, and the pre-values be empty.
            if (a.nonce != 0 || a.balance != 0 || a.codeHash != bytes32(0)) {
                revert BadWitness("absent account with values");
            }
            if (nonce == 0 && balance == 0) {
                // Touched but empty: removed, so nothing is written (EIP-161). Still
                // check the absence proof against the root.
                StateProof.update(hasher, s.stateRoot, key, 0, 1, a.proof);
                return;
            }
        }
        uint256 newValue = StateProof.accountValueHash(hasher, nonce, balance, a.codeHash);
        s.stateRoot = StateProof.update(hasher, s.stateRoot, key, oldValue, newValue, a.proof);
    }

    /// Checks the values `a` claims against the tree with root `root` (inclusion,
    /// or absence with all-zero values): a step that reads an account without
    /// writing it (a refused transaction) must not take unproven values.
    function _verify(bytes32 root, GameTypes.Account calldata a) internal view {
        uint256 key = StateProof.accountKey(hasher, a.addr);
        if (a.proof.hasLeaf && a.proof.leafKey == key) {
            uint256 v = StateProof.accountValueHash(hasher, a.nonce, a.balance, a.codeHash);
            StateProof.update(hasher, root, key, v, 1, a.proof);
        } else {
            if (a.nonce != 0 || a.balance != 0 || a.codeHash != bytes32(0)) {
                revert BadWitness("absent account with values");
            }
            StateProof.update(hasher, root, key, 0, 1, a.proof);
        }
    }

    function _hasCode(GameTypes.Account calldata a) internal pure returns (bool) {
        return a.codeHash != bytes32(0) && a.codeHash != StateProof.EMPTY_CODE_HASH;
    }

    function _txStep(GameTypes.StepState memory s, bytes memory raw, GameTypes.Account[] calldata accounts) internal view {
        L2Tx.Tx memory t;
        try this.decodeTx(raw) returns (L2Tx.Tx memory decoded) {
            t = decoded;
        } catch (bytes memory reason) {
            if (bytes4(reason) == L2Tx.UnsupportedTxType.selector) {
                revert NotDecidableOnL1("transaction type");
            }
            return; // undecodable or a bad signature: the L2 drops it
        }
        if (t.create || t.dataLength != 0 || t.accessListLength != 0) {
            revert NotDecidableOnL1("the transaction runs code or carries data");
        }
        if (accounts.length != 3) revert BadWitness("a transfer reads sender, recipient, fee recipient");
        GameTypes.Account calldata sender = accounts[0];
        if (sender.addr != t.sender) revert BadWitness("account 0 is not the sender");
        if (accounts[1].addr != t.to) revert BadWitness("account 1 is not the recipient");
        if (accounts[2].addr != config.feeRecipient) revert BadWitness("account 2 is not the fee recipient");
        if (t.to != sender.addr && _hasCode(accounts[1])) {
            revert NotDecidableOnL1("the recipient has code");
        }
        if (t.to == config.feeRecipient || sender.addr == config.feeRecipient) {
            revert NotDecidableOnL1("the fee recipient takes part in the transfer");
        }
        _verify(s.stateRoot, sender);
        // What revm refuses: the step changes nothing.
        if (t.chainId != 0 && t.chainId != config.l2ChainId) return;
        if (_hasCode(sender)) return; // EIP-3607
        if (t.nonce != sender.nonce || sender.nonce == type(uint64).max) return;
        if (t.gasLimit < TX_GAS || t.gasLimit > TX_GAS_CAP) return;
        if (t.gasLimit > config.gasLimit - s.gasUsed) return;
        if (t.maxFeePerGas < s.baseFee || t.maxPriorityFeePerGas > t.maxFeePerGas) return;
        uint256 maxCost = t.gasLimit * t.maxFeePerGas + t.value;
        if (sender.balance < maxCost) return;

        uint256 tip = t.maxFeePerGas - s.baseFee;
        if (t.txType == 2 && t.maxPriorityFeePerGas < tip) tip = t.maxPriorityFeePerGas;
        uint256 price = s.baseFee + tip;
        uint256 fee = TX_GAS * price;
        if (t.to == sender.addr) {
            _write(s, sender, sender.nonce + 1, sender.balance - fee);
        } else {
            _write(s, sender, sender.nonce + 1, sender.balance - fee - t.value);
            GameTypes.Account calldata to = accounts[1];
            _write(s, to, to.nonce, to.balance + t.value);
        }
        GameTypes.Account calldata fr = accounts[2];
        _write(s, fr, fr.nonce, fr.balance + TX_GAS * tip);
        s.gasUsed += TX_GAS;
        s.baseFees += TX_GAS * uint256(s.baseFee);
    }

    function _depositStep(GameTypes.StepState memory s, GameTypes.Account[] calldata accounts, GameTypes.Deposit calldata d) internal view {
        bytes32 recorded = bridge.depositHashes(s.depositNonce);
        if (recorded == bytes32(0)) {
            // The batch applies a deposit L1 never made: no such step.
            s.stateRoot = bytes32(uint256(0xdead));
            return;
        }
        if (keccak256(abi.encode(d.from, d.to, d.value, d.gasLimit, d.data)) != recorded) {
            revert BadWitness("not the recorded deposit");
        }
        if (accounts.length != 2 || accounts[0].addr != d.from || accounts[1].addr != d.to) {
            revert BadWitness("a deposit reads from, then to");
        }
        s.depositNonce += 1;
        GameTypes.Account calldata from = accounts[0];
        bool runs = d.gasLimit >= TX_GAS && !_hasCode(from);
        if (runs && (d.data.length != 0 || (d.to != d.from && _hasCode(accounts[1])))) {
            revert NotDecidableOnL1("the deposit calls code or carries data");
        }
        uint256 minted = from.balance + d.value;
        if (!runs || d.to == d.from) {
            _write(s, from, from.nonce + 1, minted);
        } else {
            _write(s, from, from.nonce + 1, minted - d.value);
            GameTypes.Account calldata to = accounts[1];
            _write(s, to, to.nonce, to.balance + d.value);
        }
        if (runs) s.gasUsed += TX_GAS;
    }

    function _endStep(GameTypes.StepState memory s, GameTypes.Account[] calldata accounts) internal view {
        if (s.baseFees != 0) {
            if (accounts.length != 1 || accounts[0].addr != config.feeRecipient) {
                revert BadWitness("a block end reads the fee recipient");
            }
            GameTypes.Account calldata fr = accounts[0];
            _write(s, fr, fr.nonce, fr.balance + s.baseFees);
        }
        s.baseFee = nextBaseFee(s.baseFee, s.gasUsed);
        s.blockIndex += 1;
        s.txIndex = 0;
        s.gasUsed = 0;
        s.baseFees = 0;
    }

    /// EIP-1559 as the L2 computes it (alloy's `calc_next_block_base_fee`, then the
    /// chain's minimum).
    function nextBaseFee(uint64 baseFee, uint64 gasUsed) public view returns (uint64) {
        uint256 target = config.gasLimit / config.baseFeeElasticity;
        uint256 next = baseFee;
        if (target == 0) return baseFee;
        if (gasUsed > target) {
            uint256 up = uint256(baseFee) * (gasUsed - target) / (target * config.baseFeeDenominator);
            next = baseFee + (up == 0 ? 1 : up);
        } else if (gasUsed < target) {
            uint256 down = uint256(baseFee) * (target - gasUsed) / (target * config.baseFeeDenominator);
            next = down > baseFee ? 0 : baseFee - down;
        }
        if (next < config.minBaseFee) next = config.minBaseFee;
        return uint64(next);
    }
}
