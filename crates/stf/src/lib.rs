#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

extern crate alloc;

mod batch;
mod block;
pub mod claim;
mod env;
mod executor;
mod fees;
mod oracle;
mod source;

pub use batch::{
    Applied, BLOCK_GAS, BYTES_PER_BLOB, BatchData, BatchRef, BatchState, Deposits,
    FIELD_ELEMENTS_PER_BLOB, GasBudget, InvalidBatch, MAX_BATCH_BLOCKS, Output, PlannedBlock,
    PostedBlob, StfError, apply_batch, apply_block, deposit_gas, max_block_transactions,
    plan_batch, recover_sender, recover_transaction,
};
pub use block::{
    BuildError, BuiltBlock, ChainParams, Phase, base_fee_after, block_header, build_block,
};
pub use env::{BlockContext, ExecConfig, SPEC, blob_gas_price, intrinsic_gas, tx_env};
pub use executor::{
    ExecError, ExecutedBlock, ExecutedTx, Inclusion, InspectContext, RejectedTx, execute_block,
    execute_block_with, trace_block_tx, tree_updates,
};
pub use fees::{BaseFeeConfig, next_base_fee};
pub use infra_primitives::{AccountState, SourceError, StateChanges, StateSource};
pub use oracle::{OracleState, Preimages};
pub use revm;
pub use source::{DbError, MemorySource, SourceDb};
