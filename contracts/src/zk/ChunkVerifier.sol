// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IBatchVerifier} from "./IBatchVerifier.sol";

/// A batch's validity proof: the batch's state diff in chunks, one proof per
/// chunk, chained by state roots (chunk i starts at chunk i-1's post root; the
/// first at the previous output's root, the last ends at the claimed root). The
/// proof system (Groth16 on BN254 or BLS12-381, PLONK on BN254) is the
/// subcontract's; the statement is the same for all.
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
abstract contract ChunkVerifier is IBatchVerifier {
    /// Public inputs per chunk proof.
    uint256 internal constant INPUTS = 5;

    struct Chunk {
        bytes32 postRoot;
        bytes32 diffHash;
        /// key_0, value_0, key_1, value_1, ... (a deleted leaf's value is 0).
        bytes32[] diff;
        /// The proof in the proof system's encoding.
        bytes proof;
    }

    error NoChunks();
    error OddDiff(uint256 chunk);
    error NotAFieldElement(uint256 chunk, bytes32 value);
    error BadProofLength(uint256 chunk, uint256 length);
    error ProofRejected(uint256 chunk);
    error RootMismatch(bytes32 proven, bytes32 claimed);

    /// The scalar field's modulus.
    function _r() internal pure virtual returns (uint256);

    /// Whether a proof of this length can be well formed.
    function _proofLengthOk(uint256 length) internal view virtual returns (bool);

    /// The proof check, for canonical public inputs (< r) and a proof of an
    /// acceptable length.
    function _check(uint256[INPUTS] memory input, bytes memory proof) internal view virtual returns (bool);

    /// One chunk proof against explicit public inputs (each must be < r).
    function verifyProof(bytes calldata proof, uint256[INPUTS] calldata input) external view returns (bool) {
        uint256 r = _r();
        for (uint256 j = 0; j < INPUTS; j++) {
            if (input[j] >= r) return false;
        }
        if (!_proofLengthOk(proof.length)) return false;
        return _check(input, proof);
    }

    /// `proof` is `abi.encode(Chunk[])`. Returns true or reverts with the reason.
    function verifyBatch(bytes32 preStateRoot, bytes32 postStateRoot, bytes32 dataCommitment, bytes calldata proof)
        external
        view
        returns (bool)
    {
        Chunk[] memory chunks = abi.decode(proof, (Chunk[]));
        if (chunks.length == 0) revert NoChunks();
        uint256 r = _r();
        bytes32 root = preStateRoot;
        for (uint256 i = 0; i < chunks.length; i++) {
            Chunk memory c = chunks[i];
            if (c.diff.length % 2 != 0) revert OddDiff(i);
            if (!_proofLengthOk(c.proof.length)) revert BadProofLength(i, c.proof.length);
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
            if (!_check(input, c.proof)) revert ProofRejected(i);
            root = c.postRoot;
        }
        if (root != postStateRoot) revert RootMismatch(root, postStateRoot);
        return true;
    }
}
