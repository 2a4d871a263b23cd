//! Contract bindings from `contracts/artifacts` (ABI and bytecode as committed).

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
