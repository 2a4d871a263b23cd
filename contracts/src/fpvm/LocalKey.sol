// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// A local key (type 1: an input of a disputed claim) as L1's oracle holds it:
/// bound to the contract that steps the VM (the game) and the claim it names,
/// so only that game can have loaded its inputs. `RiscV` reads and
/// `PreimageOracle.loadLocalPart` writes through this one function.
library LocalKey {
    uint8 internal constant KEY_LOCAL = 1;

    /// keccak256(abi.encode(key, caller, localContext)) with its first byte set to 1.
    function localize(bytes32 key, address caller, bytes32 localContext) internal pure returns (bytes32) {
        bytes32 h = keccak256(abi.encode(key, caller, localContext));
        return bytes32((uint256(h) & (type(uint256).max >> 8)) | (uint256(KEY_LOCAL) << 248));
    }
}
