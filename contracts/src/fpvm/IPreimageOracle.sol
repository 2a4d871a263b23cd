// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// The preimage oracle as the RISC-V step verifier (`RiscV`) reads it: 32-byte
/// parts of preimage streams, a stream being the preimage's length as 8 bytes
/// big-endian followed by the preimage (crates/fpvm/src/oracle.rs). A part must
/// be loaded (its preimage checked by the oracle) before a step that reads it.
interface IPreimageOracle {
    /// The 32 bytes of `key`'s stream (8-byte big-endian length, then the preimage) at `offset`,
    /// zero past the end, and how many of them are in the stream. Reverts when the part is not loaded.
    function readPart(bytes32 key, uint256 offset) external view returns (bytes32 part, uint256 len);
}
