use alloc::{collections::BTreeMap, format};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use infra_primitives::{AccountState, SourceError, StateSource};
use revm::{
    DatabaseRef, bytecode::Bytecode, database_interface::DBErrorMarker, primitives::KECCAK_EMPTY,
    state::AccountInfo,
};

/// A [`SourceError`] as revm's database error.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct DbError(#[from] pub SourceError);

impl DBErrorMarker for DbError {}

/// An in-memory state, for tests, benches and genesis.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    pub accounts: BTreeMap<Address, AccountState>,
    pub storage: BTreeMap<(Address, U256), U256>,
    pub code: BTreeMap<B256, Bytes>,
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
    type Error = DbError;

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
            .ok_or_else(|| DbError(SourceError(format!("missing code {code_hash}"))))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.0.storage(address, index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.0.block_hash(number)?)
    }
}
