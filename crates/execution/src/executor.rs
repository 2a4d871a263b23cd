use crate::{BlockContext, ExecConfig, SourceDb, SourceError, StateSource, tx_env};
use alloy::{
    consensus::{Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope},
    primitives::{Address, B256, Bloom, U256},
};
use infra_state::{TreeHasher, keys};
use infra_storage::{AccountState, StateChanges};
use rayon::prelude::*;
use revm::{
    Context, DatabaseCommit, ExecuteEvm, MainBuilder, MainContext,
    context::ContextTr,
    context_interface::result::EVMError,
    database::{CacheDB, in_memory_db::AccountState as CacheAccountState},
    primitives::KECCAK_EMPTY,
};
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The state could not be read: the block cannot be built (temporary or critical).
    #[error(transparent)]
    State(#[from] SourceError),
    /// revm refused the block environment itself (a node bug or bad config: critical).
    #[error("evm: {0}")]
    Evm(String),
}

/// A transaction that made it into the block.
#[derive(Debug, Clone)]
pub struct ExecutedTx {
    pub tx: TxEnvelope,
    pub sender: Address,
    pub receipt: ReceiptEnvelope,
    pub gas_used: u64,
}

/// A candidate the EVM refused (nonce gap, insufficient funds at execution time...).
#[derive(Debug, Clone)]
pub struct RejectedTx {
    pub hash: B256,
    pub sender: Address,
    pub reason: String,
}

/// The outcome of executing a block's candidates.
#[derive(Debug, Clone, Default)]
pub struct ExecutedBlock {
    pub txs: Vec<ExecutedTx>,
    pub rejected: Vec<RejectedTx>,
    /// Candidates left out because the block was full (they stay in the pool).
    pub deferred: usize,
    pub gas_used: u64,
    pub logs_bloom: Bloom,
    pub changes: StateChanges,
    /// Fees credited to the fee recipient (tips by revm, base fees by us).
    pub base_fees: U256,
}

/// Executes `candidates` (best first) on top of `source`. Invalid candidates are
/// skipped and reported, as is every later candidate of the same sender.
pub fn execute_block<S: StateSource + ?Sized>(
    source: &S,
    cfg: &ExecConfig,
    block: &BlockContext,
    candidates: impl IntoIterator<Item = (TxEnvelope, Address)>,
) -> Result<ExecutedBlock, ExecError> {
    let db = CacheDB::new(SourceDb(source));
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg.cfg_env())
        .with_block(block.block_env(cfg.fee_recipient))
        .build_mainnet();
    let mut out = ExecutedBlock::default();
    let mut touched: BTreeSet<Address> = BTreeSet::new();
    let mut touched_slots: BTreeSet<(Address, U256)> = BTreeSet::new();
    let mut skip: HashSet<Address> = HashSet::new();
    let mut base_fees = U256::ZERO;

    for (tx, sender) in candidates {
        if skip.contains(&sender) {
            continue;
        }
        if tx.gas_limit() > block.gas_limit.saturating_sub(out.gas_used) {
            out.deferred = out.deferred.saturating_add(1);
            skip.insert(sender);
            continue;
        }
        match evm.transact(tx_env(&tx, sender)) {
            Ok(res) => {
                for (address, account) in &res.state {
                    if account.is_touched() {
                        touched.insert(*address);
                        for (slot, _) in account.changed_storage_slots() {
                            touched_slots.insert((*address, *slot));
                        }
                    }
                }
                evm.ctx.db_mut().commit(res.state);
                let gas_used = res.result.tx_gas_used();
                out.gas_used = out.gas_used.saturating_add(gas_used);
                base_fees = base_fees.saturating_add(
                    U256::from(block.base_fee).saturating_mul(U256::from(gas_used)),
                );
                let receipt = Receipt {
                    status: res.result.is_success().into(),
                    cumulative_gas_used: out.gas_used,
                    logs: res.result.into_logs(),
                };
                let with_bloom = ReceiptWithBloom::from(receipt);
                out.logs_bloom |= with_bloom.logs_bloom;
                let receipt = ReceiptEnvelope::from_typed(tx.tx_type(), with_bloom);
                out.txs.push(ExecutedTx { tx, sender, receipt, gas_used });
            }
            Err(EVMError::Transaction(reason)) => {
                out.rejected.push(RejectedTx {
                    hash: *tx.tx_hash(),
                    sender,
                    reason: reason.to_string(),
                });
                skip.insert(sender);
            }
            Err(EVMError::Database(e)) => return Err(ExecError::State(e)),
            Err(other) => return Err(ExecError::Evm(other.to_string())),
        }
    }

    let db = evm.ctx.db_mut();
    if !base_fees.is_zero() {
        let acc = db.load_account(cfg.fee_recipient)?;
        acc.info.balance = acc.info.balance.saturating_add(base_fees);
        if acc.account_state == CacheAccountState::NotExisting {
            acc.account_state = CacheAccountState::Touched;
        }
        touched.insert(cfg.fee_recipient);
    }
    out.base_fees = base_fees;

    for address in touched {
        let Some(acc) = db.cache.accounts.get(&address) else { continue };
        let gone = acc.account_state == CacheAccountState::NotExisting || acc.info.is_empty();
        if gone {
            out.changes.accounts.push((address, None));
            continue;
        }
        let code_hash = acc.info.code_hash;
        if code_hash != KECCAK_EMPTY
            && code_hash != B256::ZERO
            && source.code(code_hash)?.is_none()
            && let Some(code) = db.cache.contracts.get(&code_hash)
        {
            out.changes.code.push((code_hash, code.original_bytes()));
        }
        out.changes.accounts.push((
            address,
            Some(AccountState { nonce: acc.info.nonce, balance: acc.info.balance, code_hash }),
        ));
    }
    for (address, slot) in touched_slots {
        let value = match db.cache.accounts.get(&address) {
            Some(acc) if acc.account_state == CacheAccountState::NotExisting => U256::ZERO,
            Some(acc) => acc.storage.get(&slot).copied().unwrap_or_default(),
            None => U256::ZERO,
        };
        out.changes.storage.push((address, slot, value));
    }
    Ok(out)
}

/// The state-tree updates of a block's flat changes: account and storage leaves,
/// hashed in parallel.
pub fn tree_updates(h: &TreeHasher, changes: &StateChanges) -> Vec<(B256, Option<B256>)> {
    let accounts = changes.accounts.par_iter().map(|(address, acc)| {
        let key = keys::account_key(h, *address);
        let value = acc.map(|a| {
            let code_hash = if a.code_hash == KECCAK_EMPTY { B256::ZERO } else { a.code_hash };
            keys::account_value_hash(h, a.nonce, a.balance, code_hash)
        });
        (key, value)
    });
    let storage = changes.storage.par_iter().map(|(address, slot, value)| {
        let key = keys::storage_key(h, *address, *slot);
        let value = (!value.is_zero()).then(|| keys::storage_value_hash(h, *value));
        (key, value)
    });
    accounts.chain(storage).collect()
}
