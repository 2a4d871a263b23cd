// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// Where `FaultGame` reads the local inputs of a disputed claim (in production,
/// the rollup's record of a batch). What it returns for an id must never change:
/// a game keeps the hash of the inputs it read at creation and refuses to load
/// inputs that differ from them.
interface IClaimSource {
    /// The five local inputs of claim `claimId`: index 0 is local input 1 (the
    /// pre-output), ..., index 4 local input 5 (the deposits); see
    /// `crates/stf/src/claim.rs`. Reverts for an unknown claim.
    function localInputs(uint256 claimId) external view returns (bytes[] memory);
}
