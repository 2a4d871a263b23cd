#![doc = include_str!("../README.md")]

pub mod batches;
pub mod bindings;
pub mod deployment;
pub mod sender;
pub mod sim;
pub mod solc;
pub mod watcher;

pub use bindings::{
    BatchVerifierBls12381, BatchVerifierBn254, BatchVerifierPlonk, Bridge, FaultGame,
    L2_WITHDRAWALS, L2Withdrawals, PLONK_VERIFIER_DEV_SOURCE, PlonkVerifierDev, PoseidonBls12381,
    PoseidonBn254, PreimageOracle, RiscV, Rollup, TestClaimSource, TestGame, TestPreimageOracle,
    TestToken, ZkChunk, encode_zk_proof, range_commitment,
};
pub use deployment::{
    DeployParams, Deployment, DeploymentError, FaultGameParams, GameAddresses, ZkVerifier, deploy,
    plonk_verifier_initcode, verifier_initcode,
};
pub use sender::{L1Tx, SendError, SenderConfig, TxSender};
pub use watcher::{
    DepositWatcher, PollOutcome, WatchError, WatcherConfig, deposit_from_log, deposits_by_nonce,
};

use alloy::providers::{DynProvider, Provider, ProviderBuilder};

/// A plain JSON-RPC connection to an L1 (no fillers: [`TxSender`] owns nonces and
/// fees). The same client talks to the embedded dev L1, anvil or a public network.
pub fn connect(url: &str) -> Result<DynProvider, String> {
    let parsed = url.parse().map_err(|e| format!("l1.rpc = {url:?} is not a URL: {e}"))?;
    Ok(ProviderBuilder::new().disable_recommended_fillers().connect_http(parsed).erased())
}
