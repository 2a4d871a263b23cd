#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod call;

use std::time::{Duration, Instant};

use alloy::{
    consensus::{Header, TxEnvelope},
    primitives::{Address, B256},
};
use infra_config::ChainConfig;
use infra_primitives::DepositTx;
use infra_state::{NodeStore, TreeHasher};

pub use call::TX_GAS_LIMIT_CAP;
pub use call::{CallError, CallOutcome, CallRequest, call, estimate_gas, inspect_call};
pub use infra_stf::{
    AccountState, BlockContext, BuildError, DbError, ExecConfig, ExecError, ExecutedBlock,
    ExecutedTx, Inclusion, InspectContext, MemorySource, RejectedTx, SPEC, SourceDb, SourceError,
    StateChanges, StateSource, blob_gas_price, execute_block, execute_block_with, intrinsic_gas,
    next_base_fee, trace_block_tx, tree_updates, tx_env,
};
pub use revm;
pub use revm::primitives::hardfork::SpecId;

/// What the state-transition function reads of `chain`.
pub fn chain_params(chain: &ChainConfig) -> infra_stf::ChainParams {
    infra_stf::ChainParams {
        chain_id: chain.chain_id,
        gas_limit: chain.gas_limit,
        fee_recipient: chain.fee_recipient,
        base_fee: chain.base_fee,
        batch_gas: chain.batch_gas,
    }
}

/// The next block's base fee after `parent`.
pub fn base_fee_after(chain: &ChainConfig, parent: &Header) -> u64 {
    infra_stf::base_fee_after(&chain_params(chain), parent)
}

/// The header fields every block of this chain shares: see [`infra_stf::block_header`].
pub fn block_header(
    chain: &ChainConfig,
    parent_hash: B256,
    number: u64,
    timestamp: u64,
    base_fee: u64,
    state_root: B256,
) -> Header {
    infra_stf::block_header(
        &chain_params(chain),
        parent_hash,
        number,
        timestamp,
        base_fee,
        state_root,
    )
}

/// A block built on the head ([`infra_stf::BuiltBlock`]) and how long its
/// phases took.
#[derive(Debug)]
pub struct TimedBlock {
    pub built: infra_stf::BuiltBlock,
    pub execute: Duration,
    pub state_root: Duration,
}

/// [`infra_stf::build_block`] for `chain`, timed.
#[allow(clippy::too_many_arguments)]
pub fn build_block<S: StateSource + NodeStore>(
    state: &S,
    parent: &Header,
    chain: &ChainConfig,
    hasher: &TreeHasher,
    timestamp: u64,
    deposits: Vec<DepositTx>,
    candidates: impl IntoIterator<Item = (TxEnvelope, Address)>,
    inclusion: Inclusion,
) -> Result<TimedBlock, BuildError> {
    let start = Instant::now();
    let mut executed = Duration::ZERO;
    let mut tree = Duration::ZERO;
    let built = infra_stf::build_block(
        state,
        parent,
        &chain_params(chain),
        hasher,
        timestamp,
        deposits,
        candidates,
        inclusion,
        |phase| match phase {
            infra_stf::Phase::Executed => executed = start.elapsed(),
            infra_stf::Phase::TreeUpdated => tree = start.elapsed(),
        },
    )?;
    Ok(TimedBlock { built, execute: executed, state_root: tree.saturating_sub(executed) })
}

#[cfg(test)]
mod tests {
    /// The config's copies of the STF's limits (the config does not depend on it).
    #[test]
    fn the_config_bounds_the_stf_s_batches() {
        assert_eq!(infra_config::MAX_BATCH_BLOCKS, infra_stf::MAX_BATCH_BLOCKS);
        assert_eq!(infra_config::BLOCK_GAS, infra_stf::BLOCK_GAS);
        let dev = infra_config::ChainConfig::dev();
        let p = super::chain_params(&dev);
        assert_eq!((p.gas_limit, p.batch_gas), (dev.gas_limit, dev.batch_gas));
    }
}
