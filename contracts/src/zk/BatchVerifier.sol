// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ChunkVerifier} from "./ChunkVerifier.sol";

/// Groth16 chunk proofs (see `ChunkVerifier` for the statement and how a batch's
/// chunks chain), on a curve the subcontract picks.
///
/// The verifying key lives in the code of a data contract written once by the
/// constructor (read back with `extcodecopy`); its keccak256 is `vkHash`.
abstract contract BatchVerifier is ChunkVerifier {
    /// Verifying key length in coordinate units: alpha (2), beta, gamma, delta (4
    /// each), then INPUTS + 1 G1 points (2 each).
    uint256 internal constant VK_UNITS = 2 + 3 * 4 + 2 * (INPUTS + 1);
    /// Proof length in coordinate units: A (2), B (4), C (2).
    uint256 internal constant PROOF_UNITS = 8;

    bytes32 public immutable vkHash;
    address internal immutable vkData;

    error BadVerifyingKey(uint256 length, uint256 expected);

    constructor(bytes memory vk) {
        uint256 expected = VK_UNITS * _unit();
        if (vk.length != expected) revert BadVerifyingKey(vk.length, expected);
        vkHash = keccak256(vk);
        // Runtime code = 0x00 (STOP, so it cannot be called) || vk.
        bytes memory init = abi.encodePacked(hex"61", uint16(vk.length + 1), hex"80600a3d393df300", vk);
        address data;
        assembly {
            data := create(0, add(init, 32), mload(init))
        }
        if (data == address(0)) revert BadVerifyingKey(vk.length, expected);
        vkData = data;
    }

    /// Bytes per base-field coordinate in the precompile encoding.
    function _unit() internal pure virtual returns (uint256);

    /// The Groth16 check for canonical public inputs (< r) and a proof of the
    /// right length.
    function _groth16(bytes memory vk, uint256[INPUTS] memory input, bytes memory proof)
        internal
        view
        virtual
        returns (bool);

    function verifyingKey() public view returns (bytes memory vk) {
        address data = vkData;
        uint256 len = VK_UNITS * _unit();
        vk = new bytes(len);
        assembly {
            extcodecopy(data, add(vk, 32), 1, len)
        }
    }

    function _proofLengthOk(uint256 length) internal pure override returns (bool) {
        return length == PROOF_UNITS * _unit();
    }

    function _check(uint256[INPUTS] memory input, bytes memory proof) internal view override returns (bool) {
        return _groth16(verifyingKey(), input, proof);
    }
}
