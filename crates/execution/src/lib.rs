#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod block;
mod call;
mod env;
mod executor;
mod fees;
mod source;

pub use block::{BuildError, BuiltBlock, base_fee_after, block_header, build_block};
pub use call::TX_GAS_LIMIT_CAP;
pub use call::{CallError, CallOutcome, CallRequest, call, estimate_gas, inspect_call};
pub use env::{BlockContext, ExecConfig, SPEC, blob_gas_price, intrinsic_gas, tx_env};
pub use executor::{
    ExecError, ExecutedBlock, ExecutedTx, Inclusion, InspectContext, RejectedTx, execute_block,
    execute_block_with, trace_block_tx, tree_updates,
};
pub use fees::next_base_fee;
pub use infra_primitives::{AccountState, SourceError, StateChanges, StateSource};
pub use revm;
pub use revm::primitives::hardfork::SpecId;
pub use source::{DbError, MemorySource, SourceDb};
