#![doc = include_str!("../README.md")]

mod block;

pub use block::{BlockBody, SealedBlock, TxLocation};

/// Re-exports of the alloy types used across the workspace, so that every crate
/// names them the same way.
pub use alloy::{
    consensus::{Header, ReceiptEnvelope, TxEnvelope},
    primitives::{Address, B256, Bloom, Bytes, U256},
};
