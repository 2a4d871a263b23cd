//! Contract bindings from `contracts/artifacts` (ABI and bytecode as committed).

// Generated code: `Rollup`'s constructor takes ten arguments, and the generated
// `deploy(provider, ...)` one more.
#![allow(clippy::too_many_arguments)]

use alloy::sol;

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Rollup,
    "../../contracts/artifacts/Rollup.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Bridge,
    "../../contracts/artifacts/Bridge.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    L2Withdrawals,
    "../../contracts/artifacts/L2Withdrawals.json"
);

sol!(
    #[sol(rpc)]
    PoseidonBn254,
    "../../contracts/artifacts/PoseidonBn254.json"
);

sol!(
    #[sol(rpc)]
    PoseidonBls12381,
    "../../contracts/artifacts/PoseidonBls12381.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    TestToken,
    "../../contracts/artifacts/TestToken.json"
);

/// Where genesis places the `L2Withdrawals` predeploy (the bridge hard-codes it).
pub use infra_primitives::L2_WITHDRAWALS;

sol!(
    /// One instruction of the fault-proof VM on L1 (`contracts/src/fpvm/RiscV.sol`,
    /// the mirror of `infra_fpvm::verify_step`).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    RiscV,
    "../../contracts/artifacts/RiscV.json"
);

sol!(
    /// The fault-proof VM's preimage oracle (`contracts/src/fpvm/PreimageOracle.sol`).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    PreimageOracle,
    "../../contracts/artifacts/PreimageOracle.json"
);

sol!(
    /// The permissionless dispute game over the fault-proof program's trace
    /// (`contracts/src/fpvm/FaultGame.sol`).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    FaultGame,
    "../../contracts/artifacts/FaultGame.json"
);

sol!(
    /// A claim source whose local inputs a test sets once per claim.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    TestClaimSource,
    "../../contracts/artifacts/TestClaimSource.json"
);

sol!(
    /// Stands in for `FaultGame` in front of a rollup (tests drive its hooks).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    TestGame,
    "../../contracts/artifacts/TestGame.json"
);

sol!(
    /// A preimage oracle that serves whatever a test loads (no checks).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    TestPreimageOracle,
    "../../contracts/artifacts/TestPreimageOracle.json"
);

sol!(
    /// The PLONK verifier generated for the dev chain's key (public dev
    /// parameters): `contracts/src/zk/generated/PlonkVerifierDev.sol`.
    PlonkVerifierDev,
    "../../contracts/artifacts/PlonkVerifierDev.json"
);

/// The Solidity source of [`PlonkVerifierDev`], to compare with what a prover's
/// key generates (`infra_prover::PlonkProver::solidity_verifier`).
pub const PLONK_VERIFIER_DEV_SOURCE: &str =
    include_str!("../../../contracts/src/zk/generated/PlonkVerifierDev.sol");

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    BatchVerifierPlonk,
    "../../contracts/artifacts/BatchVerifierPlonk.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    BatchVerifierBn254,
    "../../contracts/artifacts/BatchVerifierBn254.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    BatchVerifierBls12381,
    "../../contracts/artifacts/BatchVerifierBls12381.json"
);

sol! {
    /// One chunk of a zk batch proof as `BatchVerifier.verifyBatch` decodes it
    /// (`abi.encode(ZkChunk[])`).
    #[derive(Debug, PartialEq, Eq)]
    struct ZkChunk {
        bytes32 postRoot;
        bytes32 diffHash;
        bytes32[] diff;
        bytes proof;
    }
}

/// What a zk proof of batches `first..=last` is bound to, as
/// `Rollup.rangeCommitment` computes it: `keccak256(first, last, commitments...)`
/// (each a 32-byte word).
pub fn range_commitment(
    first: u64,
    last: u64,
    commitments: &[alloy::primitives::B256],
) -> alloy::primitives::B256 {
    use alloy::primitives::{B256, U256};
    let mut data = Vec::with_capacity(64 + 32 * commitments.len());
    data.extend_from_slice(B256::from(U256::from(first)).as_slice());
    data.extend_from_slice(B256::from(U256::from(last)).as_slice());
    for c in commitments {
        data.extend_from_slice(c.as_slice());
    }
    alloy::primitives::keccak256(data)
}

/// The `proof` argument of `Rollup.proveBatches`: `abi.encode(chunks)`.
pub fn encode_zk_proof(chunks: &[ZkChunk]) -> alloy::primitives::Bytes {
    use alloy::sol_types::SolValue;
    (chunks.to_vec(),).abi_encode_params().into()
}
