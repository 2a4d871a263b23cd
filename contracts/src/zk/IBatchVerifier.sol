// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// Verifies a validity proof of one batch.
interface IBatchVerifier {
    /// True when `proof` shows that applying the batch whose data commits to
    /// `dataCommitment` to the state `preStateRoot` gives `postStateRoot`;
    /// reverts (or returns false) otherwise.
    function verifyBatch(bytes32 preStateRoot, bytes32 postStateRoot, bytes32 dataCommitment, bytes calldata proof)
        external
        view
        returns (bool);

    /// keccak256 of the verifying key the verifier checks proofs against (what the
    /// rollup pins).
    function vkHash() external view returns (bytes32);
}
