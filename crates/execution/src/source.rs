use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use infra_storage::{AccountState, StateAt, StateReader};
use revm::{
    DatabaseRef, bytecode::Bytecode, database_interface::DBErrorMarker, primitives::KECCAK_EMPTY,
    state::AccountInfo,
};
use std::collections::HashMap;

#[derive(Debug, Clone, thiserror::Error)]
#[error("state source: {0}")]
pub struct SourceError(pub String);

impl DBErrorMarker for SourceError {}

/// A snapshot of the flat state that execution reads (the fast path; the tree is
/// only touched once per block).
pub trait StateSource: Sync {
    fn account(&self, address: Address) -> Result<Option<AccountState>, SourceError>;
    fn storage(&self, address: Address, slot: U256) -> Result<U256, SourceError>;
    fn code(&self, hash: B256) -> Result<Option<Bytes>, SourceError>;
    fn block_hash(&self, number: u64) -> Result<B256, SourceError>;
}

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

/// An in-memory state, for tests, benches and genesis.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    pub accounts: HashMap<Address, AccountState>,
    pub storage: HashMap<(Address, U256), U256>,
    pub code: HashMap<B256, Bytes>,
}

impl MemorySource {
    pub fn insert_account(
        &mut self,
        address: Address,
        nonce: u64,
        balance: U256,
        code: Option<Bytes>,
    ) {
        let code_hash = match code {
            Some(c) if !c.is_empty() => {
                let h = keccak256(&c);
                self.code.insert(h, c);
                h
            }
            _ => KECCAK_EMPTY,
        };
        self.accounts.insert(address, AccountState { nonce, balance, code_hash });
    }
}

impl StateSource for MemorySource {
    fn account(&self, address: Address) -> Result<Option<AccountState>, SourceError> {
        Ok(self.accounts.get(&address).copied())
    }
    fn storage(&self, address: Address, slot: U256) -> Result<U256, SourceError> {
        Ok(self.storage.get(&(address, slot)).copied().unwrap_or_default())
    }
    fn code(&self, hash: B256) -> Result<Option<Bytes>, SourceError> {
        Ok(self.code.get(&hash).cloned())
    }
    fn block_hash(&self, number: u64) -> Result<B256, SourceError> {
        Ok(keccak256(number.to_be_bytes()))
    }
}

/// Adapts a [`StateSource`] to revm's `DatabaseRef`.
#[derive(Debug)]
pub struct SourceDb<'a, S: ?Sized>(pub &'a S);

impl<S: StateSource + ?Sized> DatabaseRef for SourceDb<'_, S> {
    type Error = SourceError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let Some(acc) = self.0.account(address)? else { return Ok(None) };
        let code_hash = if acc.code_hash == B256::ZERO { KECCAK_EMPTY } else { acc.code_hash };
        let code = if code_hash == KECCAK_EMPTY {
            Some(Bytecode::default())
        } else {
            self.0.code(code_hash)?.map(Bytecode::new_raw)
        };
        Ok(Some(AccountInfo {
            balance: acc.balance,
            nonce: acc.nonce,
            code_hash,
            code,
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        self.0
            .code(code_hash)?
            .map(Bytecode::new_raw)
            .ok_or_else(|| SourceError(format!("missing code {code_hash}")))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.0.storage(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.0.block_hash(number)
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
    pub fn after(
        reader: &'r StateReader<'r>,
        number: u64,
    ) -> Result<Self, infra_storage::StorageError> {
        let (accounts, slots) = reader.state_priors_since(number)?;
        Ok(Self { reader, accounts, slots, code: HashMap::new() })
    }

    /// Writes `c` over this view.
    pub fn apply(&mut self, c: &infra_storage::StateChanges) {
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
