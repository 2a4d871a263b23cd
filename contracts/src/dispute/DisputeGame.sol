// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Rollup} from "../Rollup.sol";
import {GameTypes} from "./GameTypes.sol";
import {OneStep} from "./OneStep.sol";

/// The optimistic rollup's dispute game (docs/fraud-proofs.md): bonds, bisection
/// over the step states of a disputed batch with a deadline per move, and the
/// one-step decision on L1 for ETH transfers, deposits and block ends. Steps that
/// run contract code are decided by the `arbiter`; without a decision the
/// proposer's claim stands.
contract DisputeGame {
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
        /// The disputed batch as it was when the game opened (a rollback by an
        /// earlier batch's game may replace it; this game still judges it).
        bytes32 commitment;
        bytes32 claimedRoot;
        uint64 nextBaseFee;
        uint64 nextDepositNonce;
        uint64 blocks;
        bool blob;
    }

    Rollup public immutable rollup;
    OneStep public immutable oneStep;
    GameTypes.Config public config;

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
    error NotArbiter(address caller);
    error TransferFailed();

    constructor(Rollup rollup_, OneStep oneStep_, GameTypes.Config memory config_) {
        rollup = rollup_;
        oneStep = oneStep_;
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

    function stateHash(GameTypes.StepState memory s) public pure returns (bytes32) {
        return keccak256(abi.encode(s));
    }

    /// The state batch `index` starts from: the previous output's root and context.
    function initialState(uint256 index) public view returns (GameTypes.StepState memory s) {
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
        Rollup.Batch memory b = rollup.getBatch(index);
        uint256 open = openGame[index];
        // A game on what was at this index before a rollback does not block one on
        // the batch there now.
        if (open != 0 && games[open - 1].commitment == b.dataCommitment) revert GameOpen(index, open - 1);
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
        Game storage g = games.push();
        g.batch = index;
        g.proposer = proposer;
        g.challenger = msg.sender;
        g.proposerStake = proposerStake;
        g.challengerStake = stake;
        g.loHash = stateHash(initialState(index));
        g.proposerToMove = true;
        g.deadline = uint64(block.timestamp) + config.moveTimeout;
        g.status = Status.AwaitingDefence;
        g.commitment = b.dataCommitment;
        g.claimedRoot = b.stateRoot;
        g.nextBaseFee = b.nextBaseFee;
        g.nextDepositNonce = b.nextDepositNonce;
        g.blocks = b.lastBlock - b.firstBlock + 1;
        g.blob = b.blobCount != 0;
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
    function defend(uint256 id, GameTypes.StepState calldata last) external {
        Game storage g = games[id];
        _move(g, id, Status.AwaitingDefence, true);
        if (last.stateRoot != g.claimedRoot) revert BadFinalState("stateRoot is not the claimed root");
        if (last.baseFee != g.nextBaseFee) revert BadFinalState("baseFee is not the claimed next base fee");
        if (last.depositNonce != g.nextDepositNonce) {
            revert BadFinalState("depositNonce is not the claimed next deposit nonce");
        }
        if (last.blockIndex != g.blocks) revert BadFinalState("not after the last block");
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
        GameTypes.StepState calldata pre,
        bytes calldata data,
        GameTypes.Account[] calldata accounts,
        GameTypes.Deposit calldata deposit
    ) external {
        Game storage g = getGameStorage(id);
        if (g.status != Status.AwaitingStep) revert WrongStatus(id, g.status);
        if (stateHash(pre) != g.loHash || pre.step != g.lo) revert BadPreState();
        if (g.blob || keccak256(data) != g.commitment) revert BadPayload("not the batch's data");
        GameTypes.StepState memory post = oneStep.step(pre, data, g.blocks, accounts, deposit);
        bytes32 computed = stateHash(post);
        bool proposerRight = computed == g.hiHash;
        emit StepDecided(id, g.hi, computed, proposerRight);
        _resolve(id, g, proposerRight);
    }

    function _resolve(uint256 id, Game storage g, bool proposerWon) internal {
        g.status = proposerWon ? Status.ProposerWon : Status.ChallengerWon;
        if (openGame[g.batch] == id + 1) openGame[g.batch] = 0;
        (address winner, address loser, uint256 winnerStake, uint256 loserStake) = proposerWon
            ? (g.proposer, g.challenger, g.proposerStake, g.challengerStake)
            : (g.challenger, g.proposer, g.challengerStake, g.proposerStake);
        uint256 slashed = loserStake * config.slashingPenaltyPct / 100;
        lockedOf[winner] -= winnerStake;
        lockedOf[loser] -= loserStake;
        bondOf[loser] -= slashed;
        bondOf[winner] += slashed;
        // The rollup hears the verdict while the disputed batch is still there
        // (an earlier batch's lost game may have rolled it back already).
        try rollup.getBatch(g.batch) returns (Rollup.Batch memory b) {
            if (b.status == Rollup.Status.Challenged && b.dataCommitment == g.commitment && b.stateRoot == g.claimedRoot)
            {
                rollup.resolveChallenge(g.batch, proposerWon);
            }
        } catch {}
        emit GameResolved(id, g.batch, proposerWon, slashed);
    }

    /// The one-step's result for `pre` (see `OneStep.step`).
    function step(
        GameTypes.StepState calldata pre,
        bytes calldata data,
        uint64 blocks,
        GameTypes.Account[] calldata accounts,
        GameTypes.Deposit calldata deposit
    ) external view returns (GameTypes.StepState memory) {
        return oneStep.step(pre, data, blocks, accounts, deposit);
    }
}
