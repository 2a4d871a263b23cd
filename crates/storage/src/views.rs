//! The database as execution reads it: [`StateSource`] for the head
//! ([`StateReader`]), for a past block ([`StateAt`]) and for a past block with
//! writes on top ([`PastState`]).

use std::collections::HashMap;

use alloy::primitives::{Address, B256, Bytes, U256};
use infra_primitives::{AccountState, SourceError, StateChanges, StateSource};

use crate::{StateAt, StateReader, StorageError};

fn se(e: impl std::fmt::Display) -> SourceError {
    SourceError(e.to_string())
}

impl StateSource for StateReader<'_> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, SourceError> {
        StateReader::account(self, address).map_err(se)
    }
    fn storage(&self, address: Address, slot: U256) -> Result<U256, SourceError> {
        StateReader::storage(self, address, slot).map_err(se)
    }
    fn code(&self, hash: B256) -> Result<Option<Bytes>, SourceError> {
        StateReader::code(self, hash).map_err(se)
    }
    fn block_hash(&self, number: u64) -> Result<B256, SourceError> {
        Ok(self.header(number).map_err(se)?.map(|h| h.hash_slow()).unwrap_or_default())
    }
}

/// The state after a past block (the history index), or the head's.
impl StateSource for StateAt<'_, '_> {
    fn account(&self, address: Address) -> Result<Option<AccountState>, SourceError> {
        StateAt::account(self, address).map_err(se)
    }
    fn storage(&self, address: Address, slot: U256) -> Result<U256, SourceError> {
        StateAt::storage(self, address, slot).map_err(se)
    }
    fn code(&self, hash: B256) -> Result<Option<Bytes>, SourceError> {
        StateAt::code(self, hash).map_err(se)
    }
    fn block_hash(&self, number: u64) -> Result<B256, SourceError> {
        StateSource::block_hash(self.reader(), number)
    }
}

/// The flat state after a past block: the head's state under the values the
/// blocks since overwrote (the change sets), with writes applied on top.
pub struct PastState<'r> {
    pub reader: &'r StateReader<'r>,
    pub accounts: HashMap<Address, Option<AccountState>>,
    pub slots: HashMap<(Address, U256), U256>,
    pub code: HashMap<B256, Bytes>,
}

impl<'r> PastState<'r> {
    /// The state as block `number` left it.
    pub fn after(reader: &'r StateReader<'r>, number: u64) -> Result<Self, StorageError> {
        let (accounts, slots) = reader.state_priors_since(number)?;
        Ok(Self { reader, accounts, slots, code: HashMap::new() })
    }

    /// Writes `c` over this view.
    pub fn apply(&mut self, c: &StateChanges) {
        for (a, acc) in &c.accounts {
            self.accounts.insert(*a, *acc);
        }
        for (a, slot, v) in &c.storage {
            self.slots.insert((*a, *slot), *v);
        }
        for (h, code) in &c.code {
            self.code.insert(*h, code.clone());
        }
    }

    /// The account at `a` (empty if none).
    pub fn get(&self, a: Address) -> Result<AccountState, SourceError> {
        Ok(self.account(a)?.unwrap_or_default())
    }
}

impl StateSource for PastState<'_> {
    fn account(&self, a: Address) -> Result<Option<AccountState>, SourceError> {
        match self.accounts.get(&a) {
            Some(v) => Ok(*v),
            None => StateSource::account(self.reader, a),
        }
    }
    fn storage(&self, a: Address, slot: U256) -> Result<U256, SourceError> {
        match self.slots.get(&(a, slot)) {
            Some(v) => Ok(*v),
            None => StateSource::storage(self.reader, a, slot),
        }
    }
    fn code(&self, hash: B256) -> Result<Option<Bytes>, SourceError> {
        match self.code.get(&hash) {
            Some(c) => Ok(Some(c.clone())),
            None => StateSource::code(self.reader, hash),
        }
    }
    fn block_hash(&self, number: u64) -> Result<B256, SourceError> {
        StateSource::block_hash(self.reader, number)
    }
}
