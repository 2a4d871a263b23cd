// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IBatchVerifier} from "./IBatchVerifier.sol";

/// A batch's validity proof: the batch's state diff in chunks, one Groth16 proof
/// per chunk, chained by state roots (chunk i starts at chunk i-1's post root; the
/// first at the previous output's root, the last ends at the claimed root).
///
/// Each chunk's proof has five public inputs, `(preRoot, postRoot, diffHash, z, y)`.
/// The circuit proves that applying the chunk's writes to the sparse Merkle tree at
/// `preRoot` gives `postRoot`, that `diffHash` is the Poseidon sponge over those
/// writes, and that `y` is the polynomial `[n, key_0, value_0, ...]` of those writes
/// evaluated at `z`. This contract computes `z` and `y` itself from the diff posted
/// here: `z = keccak256(dataCommitment, chunk index, diff, diffHash) mod r`, and `y`
/// with `mulmod`/`addmod` over the posted diff. Since `z` depends on the prover's
/// commitment `diffHash`, a proof of a diff other than the posted one passes only
/// with probability about `2n / r`; since `z` depends on `dataCommitment`, a proof
/// made for one batch fails for every other.
///
/// The verifying key lives in the code of a data contract written once by the
/// constructor (read back with `extcodecopy`); its keccak256 is `vkHash`.
abstract contract BatchVerifier is IBatchVerifier {
    /// Public inputs per chunk proof.
    uint256 internal constant INPUTS = 5;
    /// Verifying key length in coordinate units: alpha (2), beta, gamma, delta (4
    /// each), then INPUTS + 1 G1 points (2 each).
    uint256 internal constant VK_UNITS = 2 + 3 * 4 + 2 * (INPUTS + 1);
    /// Proof length in coordinate units: A (2), B (4), C (2).
    uint256 internal constant PROOF_UNITS = 8;

    struct Chunk {
        bytes32 postRoot;
        bytes32 diffHash;
        /// key_0, value_0, key_1, value_1, ... (a deleted leaf's value is 0).
        bytes32[] diff;
        /// A, B, C in the curve's precompile encoding.
        bytes proof;
    }

    bytes32 public immutable vkHash;
    address internal immutable vkData;

    error BadVerifyingKey(uint256 length, uint256 expected);
    error NoChunks();
    error OddDiff(uint256 chunk);
    error NotAFieldElement(uint256 chunk, bytes32 value);
    error BadProofLength(uint256 chunk, uint256 length);
    error ProofRejected(uint256 chunk);
    error RootMismatch(bytes32 proven, bytes32 claimed);

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

    /// The scalar field's modulus.
    function _r() internal pure virtual returns (uint256);

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

    /// One chunk proof against explicit public inputs (each must be < r).
    function verifyProof(bytes calldata proof, uint256[INPUTS] calldata input) external view returns (bool) {
        uint256 r = _r();
        for (uint256 j = 0; j < INPUTS; j++) {
            if (input[j] >= r) return false;
        }
        if (proof.length != PROOF_UNITS * _unit()) return false;
        return _groth16(verifyingKey(), input, proof);
    }

    /// `proof` is `abi.encode(Chunk[])`. Returns true or reverts with the reason.
    function verifyBatch(bytes32 preStateRoot, bytes32 postStateRoot, bytes32 dataCommitment, bytes calldata proof)
        external
        view
        returns (bool)
    {
        Chunk[] memory chunks = abi.decode(proof, (Chunk[]));
        if (chunks.length == 0) revert NoChunks();
        bytes memory vk = verifyingKey();
        uint256 r = _r();
        uint256 proofLength = PROOF_UNITS * _unit();
        bytes32 root = preStateRoot;
        for (uint256 i = 0; i < chunks.length; i++) {
            Chunk memory c = chunks[i];
            if (c.diff.length % 2 != 0) revert OddDiff(i);
            if (c.proof.length != proofLength) revert BadProofLength(i, c.proof.length);
            uint256 z = uint256(keccak256(abi.encodePacked(dataCommitment, i, c.diff, c.diffHash))) % r;
            uint256 y = c.diff.length / 2;
            for (uint256 j = 0; j < c.diff.length; j++) {
                uint256 e = uint256(c.diff[j]);
                if (e >= r) revert NotAFieldElement(i, c.diff[j]);
                y = addmod(mulmod(y, z, r), e, r);
            }
            if (uint256(root) >= r) revert NotAFieldElement(i, root);
            if (uint256(c.postRoot) >= r) revert NotAFieldElement(i, c.postRoot);
            if (uint256(c.diffHash) >= r) revert NotAFieldElement(i, c.diffHash);
            uint256[INPUTS] memory input = [uint256(root), uint256(c.postRoot), uint256(c.diffHash), z, y];
            if (!_groth16(vk, input, c.proof)) revert ProofRejected(i);
            root = c.postRoot;
        }
        if (root != postStateRoot) revert RootMismatch(root, postStateRoot);
        return true;
    }
}
