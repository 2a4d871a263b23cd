//! The flat state as execution reads and writes it, and the trait it reads
//! through. Here, below storage and execution, so that execution reads any
//! source (the database, a past block's view, memory, the fault-proof
//! program's oracle) without depending on storage.

use alloc::{
    string::{String, ToString},
    vec::Vec,
};
use alloy_primitives::{Address, B256, Bytes, U256};

/// An account in the flat state (`code_hash` zero: no code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountState {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

/// The flat-state writes of one block. `None` deletes an account; a zero storage
/// value deletes the slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    pub accounts: Vec<(Address, Option<AccountState>)>,
    pub storage: Vec<(Address, U256, U256)>,
    pub code: Vec<(B256, Bytes)>,
}

/// Why a state source could not answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("state source: {0}")]
pub struct SourceError(pub String);

impl SourceError {
    pub fn from_display(e: impl core::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

/// A snapshot of the flat state that execution reads (the fast path; the tree is
/// only touched once per block).
pub trait StateSource: Sync {
    fn account(&self, address: Address) -> Result<Option<AccountState>, SourceError>;
    fn storage(&self, address: Address, slot: U256) -> Result<U256, SourceError>;
    fn code(&self, hash: B256) -> Result<Option<Bytes>, SourceError>;
    /// Whether the source holds code `hash` (execution lists new code as a
    /// write only when not). A source that cannot tell says `false`.
    fn has_code(&self, hash: B256) -> Result<bool, SourceError> {
        Ok(self.code(hash)?.is_some())
    }
    fn block_hash(&self, number: u64) -> Result<B256, SourceError>;
}
