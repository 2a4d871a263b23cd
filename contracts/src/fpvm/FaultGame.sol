// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {RiscV} from "./RiscV.sol";
import {PreimageOracle} from "./PreimageOracle.sol";
import {IClaimSource} from "./IClaimSource.sol";

/// @title FaultGame
/// @notice Fault-proof games over the execution trace of the fault-proof program on
/// the RISC-V VM (`RiscV`): a permissionless bisection claim tree with chess clocks,
/// after OP Stack's FaultDisputeGame reduced to one subgame (the execution trace).
/// One contract holds every game.
///
/// A game disputes the claim `claimId` of the claim source: its creator posts the
/// hash of the state the program ends in, with a status other than 0 (the program
/// does not accept the claim). Anyone may then counter any claim of the tree with a
/// bonded claim under it, and a claim at `maxDepth` with one instruction executed on
/// L1 (`step`). Claims resolve bottom-up once they can no longer be countered; the
/// game is won by the challenger (the claim is wrong) iff the root stands.
///
/// Trace: the VM's states after steps 0 .. 2^maxDepth - 1 (the state before step 0
/// is `absolutePrestate`). An exited state steps to itself, so the trace is defined
/// at every index. A claim's value is the state hash (status byte first) at the
/// trace index its position speaks for.
///
/// Positions are generalized indices: the root is 1 at depth 0; a position `p` is
/// at depth floor(log2 p), at index `p - 2^depth` within its depth, and speaks for
/// trace index `((indexAtDepth + 1) << (maxDepth - depth)) - 1` (the root for the
/// last index). Attacking the claim at `p` puts a claim at `2p` (the middle of the
/// range before `p`'s index), defending it at `2(p + 1)` (the middle of the range
/// after it); every claim but the root is thus at an even position.
///
/// Chess clock: a move against claim P by the side opposing it brings that side's
/// accumulated time to `(P's parent's clock, 0 for the root) + (now - P.createdAt)`,
/// which must stay below `maxClockDuration`; the new claim records it, but at most
/// `maxClockDuration - extension` (as OP's CLOCK_EXTENSION): a side that moves in the
/// last `extension` seconds of its clock has exactly that long left for its next
/// move, so a late answer (a long trace, a congested L1) still leaves time for the
/// rest of the bisection. The extension is `clockExtension`, and twice it for a claim
/// at `maxDepth - 1`: its side's next move is the step, after the preimage loads it
/// needs (as OP's game gives that move a longer one). A claim is resolvable once the
/// opposing side's time has run out (or it is countered).
///
/// Bound: along a path of claims (one a level, at most `maxDepth` moves), each side's
/// real time is its last recorded clock plus what the extensions gave back (less than
/// the extension a move), and the wait for the deepest claim to resolve is the rest
/// of its opposing side's clock. So every claim of a game resolves within
/// `maxGameDuration()` = `2 * maxClockDuration + (maxDepth + 1) * clockExtension` of
/// the game's creation, whatever the parties do.
contract FaultGame {
    enum GameStatus {
        InProgress,
        /// The root claim stands: the program does not accept the claim.
        ChallengerWins,
        /// The root claim was countered: the claim stands.
        DefenderWins
    }

    struct Claim {
        /// The claim this one counters; `NO_PARENT` for the root.
        uint64 parentIndex;
        address claimant;
        /// Who countered it: the stepper, or the claimant of its leftmost child
        /// (smallest position) that resolved uncountered; zero while uncountered.
        address counteredBy;
        /// The position of that child (0: countered by a step, or not countered).
        uint128 counterPosition;
        /// The accumulated time of the claimant's side when it was made (at most
        /// `maxClockDuration` less the move's extension).
        uint64 clock;
        uint128 bond;
        uint128 position;
        /// The state hash at the position's trace index.
        bytes32 value;
        uint64 createdAt;
        uint64 children;
        uint64 resolvedChildren;
        bool resolved;
    }

    struct Game {
        /// The disputed claim of the claim source.
        uint256 claimId;
        /// What binds the game's local preimage keys: keccak256(abi.encode(this, gameId)).
        bytes32 localContext;
        address creator;
        uint64 createdAt;
        uint64 resolvedAt;
        GameStatus status;
    }

    /// The root's `parentIndex`.
    uint64 public constant NO_PARENT = type(uint64).max;
    /// The local inputs of a claim (local keys 1..5).
    uint256 public constant LOCAL_INPUTS = 5;
    /// The status byte of a state that exited with 0 (the program accepts the claim).
    uint8 internal constant STATUS_VALID = 0;
    uint8 internal constant STATUS_INVALID = 1;
    uint8 internal constant KEY_LOCAL = 1;

    /// Executes the one instruction of a step.
    RiscV public immutable vm;
    /// Where the game loads the local inputs (the oracle the VM reads).
    PreimageOracle public immutable oracle;
    /// The local inputs of the disputed claims.
    IClaimSource public immutable source;
    /// The state hash of the VM before step 0: the program's committed prestate.
    bytes32 public immutable absolutePrestate;
    /// The trace has 2^maxDepth states; claims at this depth are countered by `step`.
    uint256 public immutable maxDepth;
    /// Each side's time in a game, in seconds (its chess clock), before extensions.
    uint64 public immutable maxClockDuration;
    /// The time a side has left after a move made in its clock's last
    /// `clockExtension` seconds (twice it after a claim at `maxDepth - 1`; 0: no
    /// extension); under half `maxClockDuration`.
    uint64 public immutable clockExtension;
    /// The bond of the root claim; see `bondAt`.
    uint256 public immutable baseBond;

    Game[] internal games;
    mapping(uint256 gameId => Claim[]) internal claims;
    /// keccak256(abi.encode(parentIndex, position, value)) of each claim made in a game.
    mapping(uint256 gameId => mapping(bytes32 => bool)) internal claimed;
    /// Bonds paid out, withdrawn with `claimCredit`.
    mapping(address => uint256) public credit;
    /// keccak256 of each local input (1..5) the source served when the game opened.
    mapping(uint256 gameId => mapping(uint256 ident => bytes32)) public localInputHash;

    event GameCreated(uint256 indexed gameId, uint256 indexed claimId, address indexed creator, bytes32 rootClaim);
    event Move(
        uint256 indexed gameId,
        uint256 indexed parentIndex,
        uint256 claimIndex,
        uint128 position,
        bytes32 claim,
        address indexed claimant
    );
    event Stepped(
        uint256 indexed gameId, uint256 indexed claimIndex, bool isAttack, bytes32 postHash, address indexed stepper
    );
    event LocalDataAdded(uint256 indexed gameId, uint256 ident, uint256 offset, bytes32 key);
    event ClaimResolved(
        uint256 indexed gameId, uint256 indexed claimIndex, bool countered, address recipient, uint256 bond
    );
    event GameResolved(uint256 indexed gameId, uint256 indexed claimId, bool challengerWins);
    event CreditClaimed(address indexed recipient, uint256 amount);

    /// `maxDepth` is outside 1..62.
    error BadMaxDepth(uint256 maxDepth);
    /// The deepest claim's bond does not fit the claim's 128 bits.
    error BondTooLarge(uint256 baseBond);
    /// The VM reads another oracle than the one the game loads local inputs into.
    error OracleMismatch(address vmOracle, address oracle);
    error UnknownGame(uint256 gameId);
    error UnknownClaim(uint256 gameId, uint256 claimIndex);
    error GameNotInProgress(uint256 gameId, GameStatus status);
    /// `msg.value` is not the bond of the new claim's depth.
    error WrongBond(uint256 sent, uint256 required);
    /// A root claim whose status is 0 says the program accepts the claim: nothing to dispute.
    /// A root must end with status 1 (the program exited rejecting the claim):
    /// "valid", "panic" and "still running" are no verdict against the claim.
    error RootNotInvalid(bytes32 rootClaim);
    error ZeroClockOrBond();
    /// Twice the extension must be shorter than the clock.
    error BadClockExtension(uint64 clockExtension, uint64 maxClockDuration);
    /// The claim source returned other than `LOCAL_INPUTS` inputs.
    error WrongInputCount(uint256 count);
    error CannotDefendRoot();
    /// A move would put a claim below `maxDepth`: `step` counters claims there.
    error MaxDepthReached(uint256 depth);
    /// This (parent, position, value) was claimed already.
    error DuplicateClaim(uint256 parentIndex, uint128 position, bytes32 claim);
    /// The mover's side would have spent `accumulated` seconds, at least `maxClockDuration`.
    error ClockExpired(uint256 accumulated);
    /// The opposing side still has time (`accumulated` of `maxClockDuration` spent).
    error ClockNotExpired(uint256 accumulated);
    error ClaimResolvedAlready(uint256 claimIndex);
    error ClaimCounteredAlready(uint256 claimIndex);
    /// `step` against a claim above `maxDepth`.
    error NotAtMaxDepth(uint256 claimIndex, uint256 depth);
    /// Defending a claim at the last trace index: there is no state after it.
    error CannotDefendLastIndex();
    /// No ancestor of the claim speaks for `traceIndex` (cannot happen in a tree built by moves).
    error NoTraceAncestor(uint256 traceIndex);
    /// The step's pre-state does not hash to the claim it must match.
    error PreStateMismatch(bytes32 expected, bytes32 got);
    /// The step does not counter the claim.
    error ValidStep();
    /// Local inputs are numbered 1..`LOCAL_INPUTS`.
    error BadIdent(uint256 ident);
    /// The claim source now returns other inputs than at the game's creation.
    /// The bytes given for local input `ident` are not the ones the source served.
    error WrongLocalInput(uint256 ident);
    error ChildrenUnresolved(uint256 claimIndex, uint256 unresolved);
    error RootNotResolved(uint256 gameId);
    error NoCredit(address recipient);
    error TransferFailed();

    constructor(
        RiscV vm_,
        PreimageOracle oracle_,
        IClaimSource source_,
        bytes32 absolutePrestate_,
        uint256 maxDepth_,
        uint64 maxClockDuration_,
        uint64 clockExtension_,
        uint256 baseBond_
    ) {
        if (maxDepth_ < 1 || maxDepth_ > 62) revert BadMaxDepth(maxDepth_);
        if (maxClockDuration_ == 0 || baseBond_ == 0) revert ZeroClockOrBond();
        if (2 * uint256(clockExtension_) >= maxClockDuration_) {
            revert BadClockExtension(clockExtension_, maxClockDuration_);
        }
        if (baseBond_ * (maxDepth_ + 1) > type(uint128).max) revert BondTooLarge(baseBond_);
        if (address(vm_.oracle()) != address(oracle_)) revert OracleMismatch(address(vm_.oracle()), address(oracle_));
        vm = vm_;
        oracle = oracle_;
        source = source_;
        absolutePrestate = absolutePrestate_;
        maxDepth = maxDepth_;
        maxClockDuration = maxClockDuration_;
        clockExtension = clockExtension_;
        baseBond = baseBond_;
    }

    // ------------------------------------------------------------------ views

    /// The bond of a claim at `depth`: `baseBond * (depth + 1)`, and for the root
    /// (depth 0) the same as its counter's (`2 * baseBond`), so a griefer opening
    /// games locks as much as the defenders answering them.
    function bondAt(uint256 depth) public view returns (uint256) {
        return baseBond * (depth == 0 ? 2 : depth + 1);
    }

    /// The longest a game can last, from its creation until every claim of it
    /// can be resolved: `2 * maxClockDuration + (maxDepth + 1) * clockExtension`
    /// (see the contract's notes). The rollup requires it to be at most twice its
    /// challenge period.
    function maxGameDuration() public view returns (uint256) {
        return 2 * uint256(maxClockDuration) + (maxDepth + 1) * uint256(clockExtension);
    }

    function gameCount() external view returns (uint256) {
        return games.length;
    }

    function getGame(uint256 gameId) external view returns (Game memory) {
        return _game(gameId);
    }

    function gameStatus(uint256 gameId) external view returns (GameStatus) {
        return _game(gameId).status;
    }

    function claimCount(uint256 gameId) external view returns (uint256) {
        _game(gameId);
        return claims[gameId].length;
    }

    function getClaim(uint256 gameId, uint256 claimIndex) external view returns (Claim memory) {
        return _claim(gameId, claimIndex);
    }

    /// The depth of `position`: floor(log2 position) (0 for 0).
    function positionDepth(uint128 position) public pure returns (uint256 d) {
        uint256 p = position;
        if (p >> 64 != 0) {
            p >>= 64;
            d += 64;
        }
        if (p >> 32 != 0) {
            p >>= 32;
            d += 32;
        }
        if (p >> 16 != 0) {
            p >>= 16;
            d += 16;
        }
        if (p >> 8 != 0) {
            p >>= 8;
            d += 8;
        }
        if (p >> 4 != 0) {
            p >>= 4;
            d += 4;
        }
        if (p >> 2 != 0) {
            p >>= 2;
            d += 2;
        }
        if (p >> 1 != 0) d += 1;
    }

    /// The trace index a claim at `position` (at most `maxDepth` deep) speaks for.
    function traceIndex(uint128 position) public view returns (uint256) {
        uint256 d = positionDepth(position);
        return ((uint256(position) - (uint256(1) << d) + 1) << (maxDepth - d)) - 1;
    }

    /// The local key of local input `ident`: byte 0 is 1, bytes 24..32 `ident` (u64 big-endian).
    function localKey(uint256 ident) public pure returns (bytes32) {
        return bytes32((uint256(KEY_LOCAL) << 248) | uint256(uint64(ident)));
    }

    // ------------------------------------------------------------------ moves

    /// Opens a game disputing claim `claimId` of the source: `rootClaim` is the state
    /// hash the creator says the program ends in, with status 1 (it rejects the claim).
    /// The bond is `bondAt(0)`. Any number of games may dispute one claim; the
    /// source may refuse one (`openGame`), and learns how each ends (`gameResolved`).
    function create(uint256 claimId, bytes32 rootClaim) external payable returns (uint256 gameId) {
        if (uint8(rootClaim[0]) != STATUS_INVALID) revert RootNotInvalid(rootClaim);
        uint256 required = bondAt(0);
        if (msg.value != required) revert WrongBond(msg.value, required);
        gameId = games.length;
        bytes[] memory inputs = source.openGame(claimId, gameId);
        if (inputs.length != LOCAL_INPUTS) revert WrongInputCount(inputs.length);
        games.push(
            Game({
                claimId: claimId,
                localContext: keccak256(abi.encode(address(this), gameId)),
                creator: msg.sender,
                createdAt: uint64(block.timestamp),
                resolvedAt: 0,
                status: GameStatus.InProgress
            })
        );
        for (uint256 i = 0; i < LOCAL_INPUTS; i++) {
            localInputHash[gameId][i + 1] = keccak256(inputs[i]);
        }
        Claim storage root = claims[gameId].push();
        root.parentIndex = NO_PARENT;
        root.claimant = msg.sender;
        root.bond = uint128(msg.value);
        root.position = 1;
        root.value = rootClaim;
        root.createdAt = uint64(block.timestamp);
        emit GameCreated(gameId, claimId, msg.sender, rootClaim);
    }

    /// Counters claim `parentIndex`: its value is wrong, the fault is before its trace
    /// index. Puts `claim` at twice the parent's position; the bond is `bondAt(depth)`.
    function attack(uint256 gameId, uint256 parentIndex, bytes32 claim)
        external
        payable
        returns (uint256 claimIndex)
    {
        return _move(gameId, parentIndex, claim, true);
    }

    /// Counters claim `parentIndex` agreeing with its value: the fault is after its
    /// trace index. Puts `claim` at twice the parent's position plus 2 (not for the root).
    function defend(uint256 gameId, uint256 parentIndex, bytes32 claim)
        external
        payable
        returns (uint256 claimIndex)
    {
        return _move(gameId, parentIndex, claim, false);
    }

    function _move(uint256 gameId, uint256 parentIndex, bytes32 claim, bool isAttack)
        internal
        returns (uint256 claimIndex)
    {
        (uint128 position, uint64 clock) = _checkMove(gameId, parentIndex, claim, isAttack);
        Claim[] storage tree = claims[gameId];
        tree[parentIndex].children += 1;
        claimIndex = tree.length;
        Claim storage c = tree.push();
        c.parentIndex = uint64(parentIndex);
        c.claimant = msg.sender;
        c.clock = clock;
        c.bond = uint128(msg.value);
        c.position = position;
        c.value = claim;
        c.createdAt = uint64(block.timestamp);
        emit Move(gameId, parentIndex, claimIndex, position, claim, msg.sender);
    }

    /// Checks a move against `parentIndex` (game in progress, parent unresolved, depth,
    /// bond, not a duplicate, clock) and records the claim as made; returns its
    /// position and the mover's clock, extended.
    function _checkMove(uint256 gameId, uint256 parentIndex, bytes32 claim, bool isAttack)
        internal
        returns (uint128 position, uint64 clock)
    {
        _inProgress(gameId);
        Claim storage parent = _claim(gameId, parentIndex);
        if (parent.resolved) revert ClaimResolvedAlready(parentIndex);
        uint128 parentPos = parent.position;
        if (!isAttack && parentPos == 1) revert CannotDefendRoot();
        uint256 depth = positionDepth(parentPos) + 1;
        if (depth > maxDepth) revert MaxDepthReached(depth);
        position = isAttack ? parentPos << 1 : (parentPos + 1) << 1;
        uint256 required = bondAt(depth);
        if (msg.value != required) revert WrongBond(msg.value, required);
        bytes32 key = keccak256(abi.encode(parentIndex, position, claim));
        if (claimed[gameId][key]) revert DuplicateClaim(parentIndex, position, claim);
        claimed[gameId][key] = true;
        clock = _moverClock(gameId, parent);
        // The clock extension: a move in the last `extension` seconds leaves
        // the mover's side exactly that long for its next one (the step, with
        // its preimage loads, after a claim at maxDepth - 1: twice as long).
        uint64 extension = depth == maxDepth - 1 ? 2 * clockExtension : clockExtension;
        uint64 extended = maxClockDuration - extension;
        if (clock > extended) clock = extended;
    }

    /// Counters claim `claimIndex` (at `maxDepth`, trace index t) by executing one
    /// instruction: an attack steps from the state at t - 1 (the absolute prestate for
    /// t = 0, else the ancestor claim speaking for t - 1) and checks the result against
    /// the claim; a defence steps from the claim and checks against the ancestor
    /// speaking for t + 1. `stateData` is the pre-state's encoding, `proofs` its memory
    /// proofs; local inputs the instruction reads must have been added (`addLocalData`).
    /// As in OP's game, the claim is countered iff the step's outcome contradicts it:
    /// the post-state claim is on the claim's side (an even number of levels above it)
    /// and the result differs from it, or on the other side and the result equals it.
    function step(
        uint256 gameId,
        uint256 claimIndex,
        bool isAttack,
        bytes calldata stateData,
        bytes calldata proofs
    ) external {
        Claim storage parent = _stepTarget(gameId, claimIndex);
        (bytes32 pre, Claim storage post) = _stepClaims(gameId, parent, isAttack);
        bytes32 postHash = _execute(gameId, pre, stateData, proofs);
        bool parentPostAgree = (maxDepth - positionDepth(post.position)) % 2 == 0;
        bool validStep = postHash == post.value;
        if (parentPostAgree == validStep) revert ValidStep();
        parent.counteredBy = msg.sender;
        emit Stepped(gameId, claimIndex, isAttack, postHash, msg.sender);
    }

    /// The claim a step counters: at `maxDepth`, unresolved, uncountered, and its
    /// opposing side's clock not run out.
    function _stepTarget(uint256 gameId, uint256 claimIndex) internal view returns (Claim storage parent) {
        _inProgress(gameId);
        parent = _claim(gameId, claimIndex);
        if (parent.resolved) revert ClaimResolvedAlready(claimIndex);
        if (parent.counteredBy != address(0)) revert ClaimCounteredAlready(claimIndex);
        uint256 depth = positionDepth(parent.position);
        if (depth != maxDepth) revert NotAtMaxDepth(claimIndex, depth);
        _moverClock(gameId, parent);
    }

    /// Checks `stateData` against the pre-state hash `pre` and executes its instruction
    /// in the game's local context; returns the post-state's hash.
    function _execute(uint256 gameId, bytes32 pre, bytes calldata stateData, bytes calldata proofs)
        internal
        view
        returns (bytes32 postHash)
    {
        bytes32 got = vm.stateHash(stateData);
        if (got != pre) revert PreStateMismatch(pre, got);
        (postHash,) = vm.step(stateData, proofs, games[gameId].localContext);
    }

    /// The pre-state hash and the post-state claim of a step against `parent`.
    function _stepClaims(uint256 gameId, Claim storage parent, bool isAttack)
        internal
        view
        returns (bytes32 pre, Claim storage post)
    {
        uint256 t = traceIndex(parent.position);
        if (isAttack) {
            pre = t == 0 ? absolutePrestate : _traceAncestor(gameId, parent, t - 1).value;
            post = parent;
        } else {
            if (t + 1 >= (uint256(1) << maxDepth)) revert CannotDefendLastIndex();
            pre = parent.value;
            post = _traceAncestor(gameId, parent, t + 1);
        }
    }

    /// The ancestor of `c` (in the claim tree) speaking for trace index `t`: at most
    /// `maxDepth` claims up, as the depth falls by one per claim.
    function _traceAncestor(uint256 gameId, Claim storage c, uint256 t) internal view returns (Claim storage a) {
        Claim[] storage tree = claims[gameId];
        uint64 i = c.parentIndex;
        while (i != NO_PARENT) {
            a = tree[i];
            if (traceIndex(a.position) == t) return a;
            i = a.parentIndex;
        }
        revert NoTraceAncestor(t);
    }

    /// Loads part `offset` of local input `ident` (1..5) of the game's claim into the
    /// oracle, under the key localized to this contract and the game's context (the
    /// key the VM reads when this contract steps it). Anyone may call it with the
    /// input's bytes, which must hash to what the source served at creation (so its
    /// cost does not grow with the other inputs, and the source is read only once).
    function addLocalData(uint256 gameId, uint256 ident, uint256 offset, bytes calldata data) external {
        _inProgress(gameId);
        if (ident < 1 || ident > LOCAL_INPUTS) revert BadIdent(ident);
        if (keccak256(data) != localInputHash[gameId][ident]) revert WrongLocalInput(ident);
        bytes32 key = oracle.loadLocalPart(localKey(ident), games[gameId].localContext, offset, data);
        emit LocalDataAdded(gameId, ident, offset, key);
    }

    // ------------------------------------------------------------- resolution

    /// Resolves claim `claimIndex` once all its children are and it can no longer be
    /// countered: the opposing side's time has run out, or it is countered already.
    /// Its bond is credited to whoever countered it, else back to its claimant; an
    /// uncountered claim counters its parent (if nothing has yet).
    function resolveClaim(uint256 gameId, uint256 claimIndex) external {
        _inProgress(gameId);
        Claim storage c = _claim(gameId, claimIndex);
        if (c.resolved) revert ClaimResolvedAlready(claimIndex);
        if (c.resolvedChildren != c.children) revert ChildrenUnresolved(claimIndex, c.children - c.resolvedChildren);
        address counteredBy = c.counteredBy;
        if (counteredBy == address(0)) {
            uint256 accumulated = _opposingClock(gameId, c);
            if (accumulated < maxClockDuration) revert ClockNotExpired(accumulated);
        }
        address recipient = counteredBy != address(0) ? counteredBy : c.claimant;
        uint256 bond = c.bond;
        c.resolved = true;
        credit[recipient] += bond;
        if (c.parentIndex != NO_PARENT) {
            Claim storage parent = claims[gameId][c.parentIndex];
            parent.resolvedChildren += 1;
            // The leftmost uncountered child counters its parent, whatever order
            // the children are resolved in (a step's counter is never replaced).
            if (
                counteredBy == address(0)
                    && (
                        parent.counteredBy == address(0)
                            || (parent.counterPosition != 0 && c.position < parent.counterPosition)
                    )
            ) {
                parent.counteredBy = c.claimant;
                parent.counterPosition = c.position;
            }
        }
        emit ClaimResolved(gameId, claimIndex, counteredBy != address(0), recipient, bond);
    }

    /// Ends game `gameId` once its root claim is resolved: the challenger wins iff the
    /// root stands uncountered (the disputed claim is wrong). Tells the source.
    function resolve(uint256 gameId) external returns (GameStatus status) {
        Game storage g = _inProgress(gameId);
        Claim storage root = claims[gameId][0];
        if (!root.resolved) revert RootNotResolved(gameId);
        bool challengerWins = root.counteredBy == address(0);
        status = challengerWins ? GameStatus.ChallengerWins : GameStatus.DefenderWins;
        g.status = status;
        g.resolvedAt = uint64(block.timestamp);
        emit GameResolved(gameId, g.claimId, challengerWins);
        source.gameResolved(g.claimId, gameId, challengerWins, g.creator);
    }

    /// Pays out the caller's credit (the bonds resolution gave it).
    function claimCredit() external {
        uint256 amount = credit[msg.sender];
        if (amount == 0) revert NoCredit(msg.sender);
        credit[msg.sender] = 0;
        emit CreditClaimed(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------- helpers

    function _game(uint256 gameId) internal view returns (Game storage) {
        if (gameId >= games.length) revert UnknownGame(gameId);
        return games[gameId];
    }

    function _inProgress(uint256 gameId) internal view returns (Game storage g) {
        g = _game(gameId);
        if (g.status != GameStatus.InProgress) revert GameNotInProgress(gameId, g.status);
    }

    function _claim(uint256 gameId, uint256 claimIndex) internal view returns (Claim storage) {
        Claim[] storage tree = claims[gameId];
        if (claimIndex >= tree.length) revert UnknownClaim(gameId, claimIndex);
        return tree[claimIndex];
    }

    /// The time the side moving against `c` has spent with that move (its previous
    /// claim's clock, the one of `c`'s parent, plus the time since `c`); reverts
    /// `ClockExpired` past `maxClockDuration`.
    function _moverClock(uint256 gameId, Claim storage c) internal view returns (uint64) {
        uint256 accumulated = _opposingClock(gameId, c);
        if (accumulated >= maxClockDuration) revert ClockExpired(accumulated);
        return uint64(accumulated);
    }

    /// `(c's parent's clock, 0 for the root) + (now - c.createdAt)`: the time spent by
    /// the side that counters `c`, were it to move now.
    function _opposingClock(uint256 gameId, Claim storage c) internal view returns (uint256) {
        uint64 p = c.parentIndex;
        uint256 before = p == NO_PARENT ? 0 : claims[gameId][p].clock;
        return before + (block.timestamp - c.createdAt);
    }
}
