// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPreimageOracle} from "../fpvm/IPreimageOracle.sol";

/// For tests only: an oracle that serves whatever parts it was given, unchecked,
/// so differential tests can run `RiscV` against the Rust reference verifier.
contract TestPreimageOracle is IPreimageOracle {
    struct Part {
        bytes32 part;
        uint256 len;
        bool loaded;
    }

    mapping(bytes32 key => mapping(uint256 offset => Part)) internal parts;

    /// `readPart(key, offset)` was called for a part never set.
    error PartNotLoaded(bytes32 key, uint256 offset);

    /// Stores the part `readPart(key, offset)` returns (no checks).
    function setPart(bytes32 key, uint256 offset, bytes32 part, uint256 len) external {
        parts[key][offset] = Part({part: part, len: len, loaded: true});
    }

    /// @inheritdoc IPreimageOracle
    function readPart(bytes32 key, uint256 offset) external view returns (bytes32 part, uint256 len) {
        Part storage p = parts[key][offset];
        if (!p.loaded) revert PartNotLoaded(key, offset);
        return (p.part, p.len);
    }
}
