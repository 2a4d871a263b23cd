// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Rollup} from "../Rollup.sol";
import {IPoseidon} from "../poseidon/IPoseidon.sol";
import {StateProof} from "../lib/StateProof.sol";
import {Rlp} from "./Rlp.sol";
import {L2Tx} from "./L2Tx.sol";

interface IDepositRecord {
    function depositHashes(uint256 nonce) external view returns (bytes32);
}

/// The optimistic rollup's dispute game (docs/fraud-proofs.md): bonds, bisection
/// over the step states of a disputed batch with a deadline per move, and the
/// one-step decision on L1 for ETH transfers, deposits and block ends. Steps that
/// run contract code are decided by the `arbiter`; without a decision the
/// proposer's claim stands.
contract DisputeGame {
    /// The state after a step of a batch (see docs/fraud-proofs.md).
    struct StepState {
        bytes32 stateRoot;
        uint64 step;
        uint64 blockIndex;
        uint64 txIndex;
        uint64 depositNonce;
        uint64 baseFee;
        uint64 gasUsed;
        uint256 baseFees;
    }

    /// An account as the step reads it, with its proof against the root at that
    /// point of the step (after the writes before it).
    struct Account {
        address addr;
        uint64 nonce;
        uint256 balance;
        bytes32 codeHash;
        StateProof.Proof proof;
    }

    /// A deposit's content (its hash must be the bridge's record).
    struct Deposit {
        address from;
        address to;
        uint256 value;
        uint64 gasLimit;
        bytes data;
    }

    struct Config {
        uint256 l2ChainId;
        address feeRecipient;
        uint64 gasLimit;
        uint64 baseFeeDenominator;
        uint64 baseFeeElasticity;
        uint64 minBaseFee;
        uint256 minStake;
        uint256 slashingPenaltyPct;
        uint64 moveTimeout;
        address arbiter;
    }

    enum Status {
        None,
        AwaitingDefence,
        Bisecting,
        AwaitingStep,
        ProposerWon,
        ChallengerWon
    }

    struct Game {
        uint256 batch;
        address proposer;
        address challenger;
        uint256 proposerStake;
        uint256 challengerStake;
        uint64 lo;
        uint64 hi;
        bytes32 loHash;
        bytes32 hiHash;
        bytes32 midHash;
        bool proposerToMove;
        uint64 deadline;
        Status status;
    }

    uint64 internal constant TX_GAS = 21_000;
    /// EIP-7825 (Osaka): the most gas one transaction may carry.
    uint64 internal constant TX_GAS_CAP = 1 << 24;

    Rollup public immutable rollup;
    IDepositRecord public immutable bridge;
    IPoseidon public immutable hasher;
    Config public config;

    mapping(address => uint256) public bondOf;
    mapping(address => uint256) public lockedOf;
    Game[] internal games;
    /// Per batch: the open game's id + 1 (0: none).
    mapping(uint256 => uint256) public openGame;

    event Bonded(address indexed who, uint256 amount);
    event Unbonded(address indexed who, uint256 amount);
    event GameOpened(uint256 indexed game, uint256 indexed batch, address proposer, address challenger);
    event Defended(uint256 indexed game, uint64 steps, bytes32 finalHash);
    event Bisected(uint256 indexed game, uint64 mid, bytes32 midHash);
    event Responded(uint256 indexed game, bool agree, uint64 lo, uint64 hi);
    event StepDecided(uint256 indexed game, uint64 step, bytes32 computedHash, bool proposerRight);
    event GameResolved(uint256 indexed game, uint256 indexed batch, bool proposerWon, uint256 slashed);

    error NotEnoughBond(uint256 free, uint256 needed);
    error GameOpen(uint256 batch, uint256 game);
    error UnknownGame(uint256 game);
    error WrongStatus(uint256 game, Status status);
    error NotYourMove(address caller);
    error DeadlinePassed(uint64 deadline);
    error DeadlineNotPassed(uint64 deadline);
    error BadFinalState(string reason);
    error BadPreState();
    error BadPayload(string reason);
    error BadWitness(string reason);
    /// The step runs contract code (or a transaction type) L1 does not execute in
    /// this version: the arbiter decides it.
    error NotDecidableOnL1(string reason);
    error NotArbiter(address caller);
    error TransferFailed();

    constructor(Rollup rollup_, IDepositRecord bridge_, IPoseidon hasher_, Config memory config_) {
        rollup = rollup_;
        bridge = bridge_;
        hasher = hasher_;
        config = config_;
    }

    // ------------------------------------------------------------------ bonds

    function bond() external payable {
        bondOf[msg.sender] += msg.value;
        emit Bonded(msg.sender, msg.value);
    }

    function unbond(uint256 amount) external {
        uint256 free = bondOf[msg.sender] - lockedOf[msg.sender];
        if (amount > free) revert NotEnoughBond(free, amount);
        bondOf[msg.sender] -= amount;
        emit Unbonded(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    function freeBond(address who) public view returns (uint256) {
        return bondOf[who] - lockedOf[who];
    }

    // ------------------------------------------------------------------- game

    function stateHash(StepState memory s) public pure returns (bytes32) {
        return keccak256(abi.encode(s));
    }

    /// The state batch `index` starts from: the previous output's root and context.
    function initialState(uint256 index) public view returns (StepState memory s) {
        Rollup.Batch memory prev = rollup.getBatch(index - 1);
        s.stateRoot = prev.stateRoot;
        s.depositNonce = prev.nextDepositNonce;
        s.baseFee = prev.nextBaseFee;
    }

    function gameCount() external view returns (uint256) {
        return games.length;
    }

    function getGame(uint256 id) public view returns (Game memory) {
        if (id >= games.length) revert UnknownGame(id);
        return games[id];
    }

    /// Disputes the output of pending batch `index` (within its challenge period):
    /// locks `minStake` of the caller's bond and of the proposer's (the batcher).
    function challenge(uint256 index) external returns (uint256 id) {
        if (openGame[index] != 0) revert GameOpen(index, openGame[index] - 1);
        uint256 stake = config.minStake;
        uint256 free = freeBond(msg.sender);
        if (free < stake) revert NotEnoughBond(free, stake);
        address proposer = rollup.batcher();
        uint256 proposerStake = freeBond(proposer);
        if (proposerStake > stake) proposerStake = stake;
        lockedOf[msg.sender] += stake;
        lockedOf[proposer] += proposerStake;
        rollup.challenge(index);
        id = games.length;
        games.push(
            Game({
                batch: index,
                proposer: proposer,
                challenger: msg.sender,
                proposerStake: proposerStake,
                challengerStake: stake,
                lo: 0,
                hi: 0,
                loHash: stateHash(initialState(index)),
                hiHash: bytes32(0),
                midHash: bytes32(0),
                proposerToMove: true,
                deadline: uint64(block.timestamp) + config.moveTimeout,
                status: Status.AwaitingDefence
            })
        );
        openGame[index] = id + 1;
        emit GameOpened(id, index, proposer, msg.sender);
    }

    function _move(Game storage g, uint256 id, Status status, bool proposer) internal view {
        if (g.status != status) revert WrongStatus(id, g.status);
        if (block.timestamp > g.deadline) revert DeadlinePassed(g.deadline);
        if (msg.sender != (proposer ? g.proposer : g.challenger)) revert NotYourMove(msg.sender);
        if (g.proposerToMove != proposer) revert NotYourMove(msg.sender);
    }

    /// The proposer reveals the final step state its output claims.
    function defend(uint256 id, StepState calldata last) external {
        Game storage g = games[id];
        _move(g, id, Status.AwaitingDefence, true);
        Rollup.Batch memory b = rollup.getBatch(g.batch);
        if (last.stateRoot != b.stateRoot) revert BadFinalState("stateRoot is not the claimed root");
        if (last.baseFee != b.nextBaseFee) revert BadFinalState("baseFee is not the claimed next base fee");
        if (last.depositNonce != b.nextDepositNonce) {
            revert BadFinalState("depositNonce is not the claimed next deposit nonce");
        }
        if (last.blockIndex != b.lastBlock - b.firstBlock + 1) revert BadFinalState("not after the last block");
        if (last.txIndex != 0 || last.gasUsed != 0 || last.baseFees != 0 || last.step == 0) {
            revert BadFinalState("not a block boundary");
        }
        g.hi = last.step;
        g.hiHash = stateHash(last);
        emit Defended(id, last.step, g.hiHash);
        _next(g);
    }

    /// After a narrowing: one step left (the challenger proves it) or the
    /// proposer's next midpoint.
    function _next(Game storage g) internal {
        if (g.hi - g.lo == 1) {
            g.status = Status.AwaitingStep;
            g.proposerToMove = false;
        } else {
            g.status = Status.Bisecting;
            g.proposerToMove = true;
        }
        g.deadline = uint64(block.timestamp) + config.moveTimeout;
    }

    /// The proposer's state hash after step `(lo + hi) / 2`.
    function bisect(uint256 id, bytes32 midHash) external {
        Game storage g = games[id];
        _move(g, id, Status.Bisecting, true);
        g.midHash = midHash;
        g.proposerToMove = false;
        g.deadline = uint64(block.timestamp) + config.moveTimeout;
        emit Bisected(id, (g.lo + g.hi) / 2, midHash);
    }

    /// The challenger agrees with the proposer's midpoint (the fault is after it)
    /// or not (it is at or before it).
    function respond(uint256 id, bool agree) external {
        Game storage g = games[id];
        _move(g, id, Status.Bisecting, false);
        uint64 mid = (g.lo + g.hi) / 2;
        if (agree) {
            g.lo = mid;
            g.loHash = g.midHash;
        } else {
            g.hi = mid;
            g.hiHash = g.midHash;
        }
        emit Responded(id, agree, g.lo, g.hi);
        _next(g);
    }

    /// The party whose move it is missed its deadline: it loses.
    function timeout(uint256 id) external {
        Game storage g = getGameStorage(id);
        if (g.status != Status.AwaitingDefence && g.status != Status.Bisecting && g.status != Status.AwaitingStep) {
            revert WrongStatus(id, g.status);
        }
        if (block.timestamp <= g.deadline) revert DeadlineNotPassed(g.deadline);
        _resolve(id, g, !g.proposerToMove);
    }

    function getGameStorage(uint256 id) internal view returns (Game storage) {
        if (id >= games.length) revert UnknownGame(id);
        return games[id];
    }

    /// For a step L1 does not execute: the arbiter says whether the proposer's
    /// post-state is right.
    function arbitrate(uint256 id, bool proposerRight) external {
        if (msg.sender != config.arbiter) revert NotArbiter(msg.sender);
        Game storage g = getGameStorage(id);
        if (g.status != Status.AwaitingStep) revert WrongStatus(id, g.status);
        _resolve(id, g, proposerRight);
    }

    /// The one-step decision: executes step `hi` from the agreed state `pre` with
    /// the batch `data` (as posted) and the accounts it touches; the proposer is
    /// right iff the result hashes to its claim. Anyone may call it.
    function proveStep(
        uint256 id,
        StepState calldata pre,
        bytes calldata data,
        Account[] calldata accounts,
        Deposit calldata deposit
    ) external {
        Game storage g = getGameStorage(id);
        if (g.status != Status.AwaitingStep) revert WrongStatus(id, g.status);
        if (stateHash(pre) != g.loHash || pre.step != g.lo) revert BadPreState();
        Rollup.Batch memory b = rollup.getBatch(g.batch);
        if (b.blobCount != 0 || keccak256(data) != b.dataCommitment) revert BadPayload("not the batch's data");
        StepState memory post = step(pre, data, uint64(b.lastBlock - b.firstBlock + 1), accounts, deposit);
        bytes32 computed = stateHash(post);
        bool proposerRight = computed == g.hiHash;
        emit StepDecided(id, g.hi, computed, proposerRight);
        _resolve(id, g, proposerRight);
    }

    function _resolve(uint256 id, Game storage g, bool proposerWon) internal {
        g.status = proposerWon ? Status.ProposerWon : Status.ChallengerWon;
        openGame[g.batch] = 0;
        (address winner, address loser, uint256 winnerStake, uint256 loserStake) = proposerWon
            ? (g.proposer, g.challenger, g.proposerStake, g.challengerStake)
            : (g.challenger, g.proposer, g.challengerStake, g.proposerStake);
        uint256 slashed = loserStake * config.slashingPenaltyPct / 100;
        lockedOf[winner] -= winnerStake;
        lockedOf[loser] -= loserStake;
        bondOf[loser] -= slashed;
        bondOf[winner] += slashed;
        rollup.resolveChallenge(g.batch, proposerWon);
        emit GameResolved(id, g.batch, proposerWon, slashed);
    }

    // -------------------------------------------------------------- one step

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
        StepState calldata pre,
        bytes calldata data,
        uint64 blocks,
        Account[] calldata accounts,
        Deposit calldata deposit
    ) public view returns (StepState memory post) {
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
    function _write(StepState memory s, Account calldata a, uint64 nonce, uint256 balance) internal view {
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
    function _verify(bytes32 root, Account calldata a) internal view {
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

    function _hasCode(Account calldata a) internal pure returns (bool) {
        return a.codeHash != bytes32(0) && a.codeHash != StateProof.EMPTY_CODE_HASH;
    }

    function _txStep(StepState memory s, bytes memory raw, Account[] calldata accounts) internal view {
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
        Account calldata sender = accounts[0];
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
            Account calldata to = accounts[1];
            _write(s, to, to.nonce, to.balance + t.value);
        }
        Account calldata fr = accounts[2];
        _write(s, fr, fr.nonce, fr.balance + TX_GAS * tip);
        s.gasUsed += TX_GAS;
        s.baseFees += TX_GAS * uint256(s.baseFee);
    }

    function _depositStep(StepState memory s, Account[] calldata accounts, Deposit calldata d) internal view {
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
        Account calldata from = accounts[0];
        bool runs = d.gasLimit >= TX_GAS && !_hasCode(from);
        if (runs && (d.data.length != 0 || (d.to != d.from && _hasCode(accounts[1])))) {
            revert NotDecidableOnL1("the deposit calls code or carries data");
        }
        uint256 minted = from.balance + d.value;
        if (!runs || d.to == d.from) {
            _write(s, from, from.nonce + 1, minted);
        } else {
            _write(s, from, from.nonce + 1, minted - d.value);
            Account calldata to = accounts[1];
            _write(s, to, to.nonce, to.balance + d.value);
        }
        if (runs) s.gasUsed += TX_GAS;
    }

    function _endStep(StepState memory s, Account[] calldata accounts) internal view {
        if (s.baseFees != 0) {
            if (accounts.length != 1 || accounts[0].addr != config.feeRecipient) {
                revert BadWitness("a block end reads the fee recipient");
            }
            Account calldata fr = accounts[0];
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
