#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod batch;
mod block;
mod deposit;
mod fees;
mod state;

pub use block::{BlockBody, SealedBlock, TxLocation, deposit_receipt_2718};
pub use deposit::DepositTx;
pub use fees::BaseFeeConfig;
pub use state::{AccountState, SourceError, StateChanges, StateSource};

/// Re-exports of the alloy types used across the workspace, so that every crate
/// names them the same way.
pub use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
pub use alloy_primitives::{Address, B256, Bloom, Bytes, U256};

/// The L2 predeploy recording withdrawals (`contracts/src/L2Withdrawals.sol`).
pub const L2_WITHDRAWALS: Address =
    alloy_primitives::address!("0x4200000000000000000000000000000000000016");
/// The storage slot of its `sentMessages` mapping.
pub const WITHDRAWALS_SENT_SLOT: u64 = 1;

/// Where `L2Withdrawals.sentMessages[withdrawal_hash]` lives: keccak256(hash, 1),
/// Solidity's mapping layout.
pub fn withdrawal_slot(withdrawal_hash: B256) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(withdrawal_hash.as_slice());
    preimage[32..].copy_from_slice(&U256::from(WITHDRAWALS_SENT_SLOT).to_be_bytes::<32>());
    U256::from_be_bytes(alloy_primitives::keccak256(preimage).0)
}
