// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// Where `FaultGame` reads the local inputs of a disputed claim, and whom it tells
/// when a game on a claim opens and ends (in production, the rollup). What
/// `localInputs` returns for an id must never change: a game keeps the hash of
/// the inputs it read at creation and refuses to load inputs that differ.
interface IClaimSource {
    /// The five local inputs of claim `claimId`: index 0 is local input 1 (the
    /// pre-output), ..., index 4 local input 5 (the deposits); see
    /// `crates/stf/src/claim.rs`. Reverts for an unknown claim.
    function localInputs(uint256 claimId) external view returns (bytes[] memory);

    /// Called by the game when game `gameId` opens on claim `claimId`; reverts if
    /// the claim may not be disputed (any more). Returns its local inputs.
    function openGame(uint256 claimId, uint256 gameId) external returns (bytes[] memory);

    /// Called by the game once game `gameId`, opened on claim `claimId` by
    /// `creator`, has ended. Must not revert (the game's resolution would be stuck).
    function gameResolved(uint256 claimId, uint256 gameId, bool challengerWins, address creator) external;
}
