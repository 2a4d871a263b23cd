use crate::{BlockContext, ExecConfig, SourceDb, SourceError, StateSource, tx_env};
use alloc::collections::BTreeSet;
use alloc::{
    boxed::Box,
    format,
    string::{String, ToString},
    vec,
    vec::Vec,
};
use alloy_consensus::{Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope};
use alloy_primitives::{Address, B256, Bloom, TxKind, U256};
use infra_primitives::DepositTx;
use infra_primitives::{AccountState, StateChanges};
use infra_state::{TreeHasher, keys};
#[cfg(feature = "std")]
use rayon::prelude::*;
use revm::{
    Context, DatabaseCommit, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{ContextTr, TxEnv},
    context_interface::result::{EVMError, ExecutionResult},
    database::{CacheDB, in_memory_db::AccountState as CacheAccountState},
    handler::MainnetContext,
    inspector::NoOpInspector,
    primitives::KECCAK_EMPTY,
};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The state could not be read: the block cannot be built (temporary or critical).
    #[error(transparent)]
    State(#[from] SourceError),
    /// revm refused the block environment itself (a node bug or bad config: critical).
    #[error("evm: {0}")]
    Evm(String),
}

impl From<crate::DbError> for ExecError {
    fn from(e: crate::DbError) -> Self {
        Self::State(e.0)
    }
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
    /// One receipt per deposit, in order (deposits always make it in).
    pub deposit_receipts: Vec<ReceiptWithBloom>,
    /// The L2 account nonce of `from` each deposit used.
    pub deposit_nonces: Vec<u64>,
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

/// How candidates that cannot go in are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inclusion {
    /// Building from the pool: a refused candidate is reported and every later
    /// candidate of its sender skipped (they stay pending); one that does not fit
    /// the remaining gas is deferred.
    Pool,
    /// Replaying posted transactions (derivation): each is tried on its own; one
    /// the EVM refuses or that does not fit the remaining gas is dropped and
    /// reported, and the rest still run.
    Replay,
}

/// Executes `deposits` (see [`DepositTx`] for their semantics), then `candidates`
/// (best first) on top of `source`. Invalid candidates are skipped and reported,
/// as is every later candidate of the same sender. The caller keeps the deposits'
/// gas within the block's gas limit.
pub fn execute_block<S: StateSource + ?Sized>(
    source: &S,
    cfg: &ExecConfig,
    block: &BlockContext,
    deposits: &[DepositTx],
    candidates: impl IntoIterator<Item = (TxEnvelope, Address)>,
) -> Result<ExecutedBlock, ExecError> {
    execute_block_with(source, cfg, block, deposits, candidates, Inclusion::Pool)
}

/// [`execute_block`] with the given treatment of candidates that cannot go in.
pub fn execute_block_with<S: StateSource + ?Sized>(
    source: &S,
    cfg: &ExecConfig,
    block: &BlockContext,
    deposits: &[DepositTx],
    candidates: impl IntoIterator<Item = (TxEnvelope, Address)>,
    inclusion: Inclusion,
) -> Result<ExecutedBlock, ExecError> {
    match run_block(source, cfg, block, deposits, candidates, inclusion, NoOpInspector, None)? {
        BlockRun::Done(out) => Ok(*out),
        BlockRun::Traced { .. } => Err(ExecError::Evm("no transaction was to be traced".into())),
    }
}

/// The context an inspector of block execution sees.
pub type InspectContext<'a, S> = MainnetContext<CacheDB<SourceDb<'a, S>>>;

/// Replays a stored block on its parent's state (`source`) up to transaction
/// `index` (deposits excluded), which runs under `inspector`; returns its result
/// and the inspector. Nothing is committed.
#[allow(clippy::too_many_arguments)]
pub fn trace_block_tx<'a, S, I>(
    source: &'a S,
    cfg: &ExecConfig,
    block: &BlockContext,
    deposits: &[DepositTx],
    txs: impl IntoIterator<Item = (TxEnvelope, Address)>,
    index: usize,
    inspector: I,
) -> Result<(ExecutionResult, I), ExecError>
where
    S: StateSource + ?Sized,
    I: Inspector<InspectContext<'a, S>>,
{
    match run_block(source, cfg, block, deposits, txs, Inclusion::Replay, inspector, Some(index))? {
        BlockRun::Traced { result, inspector } => Ok((result, inspector)),
        BlockRun::Done(_) => Err(ExecError::Evm(format!("the block has no transaction {index}"))),
    }
}

enum BlockRun<I> {
    Done(Box<ExecutedBlock>),
    Traced { result: ExecutionResult, inspector: I },
}

#[allow(clippy::too_many_arguments)]
fn run_block<'a, S, I>(
    source: &'a S,
    cfg: &ExecConfig,
    block: &BlockContext,
    deposits: &[DepositTx],
    candidates: impl IntoIterator<Item = (TxEnvelope, Address)>,
    inclusion: Inclusion,
    inspector: I,
    trace: Option<usize>,
) -> Result<BlockRun<I>, ExecError>
where
    S: StateSource + ?Sized,
    I: Inspector<InspectContext<'a, S>>,
{
    let db = CacheDB::new(SourceDb(source));
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg.cfg_env())
        .with_block(block.block_env(cfg.fee_recipient))
        .build_mainnet_with_inspector(inspector);
    let mut out = ExecutedBlock::default();
    let mut touched: BTreeSet<Address> = BTreeSet::new();
    let mut touched_slots: BTreeSet<(Address, U256)> = BTreeSet::new();
    let mut skip: BTreeSet<Address> = BTreeSet::new();
    let mut base_fees = U256::ZERO;

    // Deposits run at gas price zero: L1 paid for them.
    evm.ctx.block.basefee = 0;
    for deposit in deposits {
        let db = evm.ctx.db_mut();
        let acc = db.load_account(deposit.from)?;
        acc.info.balance = acc.info.balance.saturating_add(deposit.value);
        if acc.account_state == CacheAccountState::NotExisting {
            acc.account_state = CacheAccountState::Touched;
        }
        let nonce = acc.info.nonce;
        touched.insert(deposit.from);
        let env = TxEnv {
            tx_type: 0,
            caller: deposit.from,
            gas_limit: deposit.gas_limit,
            gas_price: 0,
            kind: TxKind::Call(deposit.to),
            value: deposit.value,
            data: deposit.data.clone(),
            nonce,
            chain_id: Some(cfg.chain_id),
            ..Default::default()
        };
        let (status, logs) = match evm.transact(env) {
            Ok(res) => {
                note_touched(&res.state, &mut touched, &mut touched_slots);
                evm.ctx.db_mut().commit(res.state);
                out.gas_used = out.gas_used.saturating_add(res.result.tx_gas_used());
                (res.result.is_success(), res.result.into_logs())
            }
            // Not executable (its intrinsic gas exceeds its limit, the sender has
            // code...): the mint stands, the call does not happen.
            Err(EVMError::Transaction(reason)) => {
                tracing::debug!(target: "execution", nonce = deposit.nonce, %reason, "deposit call not executed");
                (false, vec![])
            }
            Err(EVMError::Database(e)) => return Err(ExecError::State(e.0)),
            Err(other) => return Err(ExecError::Evm(other.to_string())),
        };
        // Every deposit uses exactly one L2 nonce of `from` (as on OP Stack), even
        // when its call could not run: wallets match transactions by (from,
        // nonce), so no later transaction of `from` may share this one's.
        let acc = evm.ctx.db_mut().load_account(deposit.from)?;
        acc.info.nonce = nonce.saturating_add(1);
        out.deposit_nonces.push(nonce);
        let receipt = ReceiptWithBloom::from(Receipt {
            status: status.into(),
            cumulative_gas_used: out.gas_used,
            logs,
        });
        out.logs_bloom |= receipt.logs_bloom;
        out.deposit_receipts.push(receipt);
    }
    evm.ctx.block.basefee = block.base_fee;

    for (i, (tx, sender)) in candidates.into_iter().enumerate() {
        if trace == Some(i) {
            let result = match evm.inspect_tx(tx_env(&tx, sender)) {
                Ok(res) => res.result,
                Err(EVMError::Database(e)) => return Err(ExecError::State(e.0)),
                Err(other) => return Err(ExecError::Evm(other.to_string())),
            };
            return Ok(BlockRun::Traced { result, inspector: evm.inspector });
        }
        if skip.contains(&sender) {
            continue;
        }
        if tx.gas_limit() > block.gas_limit.saturating_sub(out.gas_used) {
            if inclusion == Inclusion::Replay {
                out.rejected.push(RejectedTx {
                    hash: *tx.tx_hash(),
                    sender,
                    reason: "gas limit exceeds the block's remaining gas".into(),
                });
                continue;
            }
            out.deferred = out.deferred.saturating_add(1);
            skip.insert(sender);
            continue;
        }
        match evm.transact(tx_env(&tx, sender)) {
            Ok(res) => {
                note_touched(&res.state, &mut touched, &mut touched_slots);
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
                if inclusion == Inclusion::Pool {
                    skip.insert(sender);
                }
            }
            Err(EVMError::Database(e)) => return Err(ExecError::State(e.0)),
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
            && !source.has_code(code_hash)?
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
    Ok(BlockRun::Done(Box::new(out)))
}

/// Records what one transaction changed, for the block's state diff.
fn note_touched(
    state: &revm::state::EvmState,
    touched: &mut BTreeSet<Address>,
    touched_slots: &mut BTreeSet<(Address, U256)>,
) {
    for (address, account) in state {
        if account.is_touched() {
            touched.insert(*address);
            for (slot, _) in account.changed_storage_slots() {
                touched_slots.insert((*address, *slot));
            }
        }
    }
}

/// The state-tree updates of a block's flat changes: account and storage leaves,
/// hashed in parallel.
pub fn tree_updates(h: &TreeHasher, changes: &StateChanges) -> Vec<(B256, Option<B256>)> {
    #[cfg(feature = "std")]
    let (accounts, storage) = (changes.accounts.par_iter(), changes.storage.par_iter());
    #[cfg(not(feature = "std"))]
    let (accounts, storage) = (changes.accounts.iter(), changes.storage.iter());
    let accounts = accounts.map(|(address, acc)| {
        let key = keys::account_key(h, *address);
        let value = acc.map(|a| {
            let code_hash = if a.code_hash == KECCAK_EMPTY { B256::ZERO } else { a.code_hash };
            keys::account_value_hash(h, a.nonce, a.balance, code_hash)
        });
        (key, value)
    });
    let storage = storage.map(|(address, slot, value)| {
        let key = keys::storage_key(h, *address, *slot);
        let value = (!value.is_zero()).then(|| keys::storage_value_hash(h, *value));
        (key, value)
    });
    accounts.chain(storage).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemorySource;
    use alloy::primitives::{Bytes, address};

    fn ctx() -> BlockContext {
        BlockContext {
            number: 1,
            timestamp: 1,
            gas_limit: 30_000_000,
            base_fee: 1_000_000_000,
            parent_hash: B256::ZERO,
            prevrandao: B256::ZERO,
        }
    }

    fn cfg() -> ExecConfig {
        ExecConfig {
            chain_id: 7,
            fee_recipient: address!("0x00000000000000000000000000000000000000fe"),
        }
    }

    fn deposit(nonce: u64, from: Address, to: Address, value: u64, gas: u64) -> DepositTx {
        DepositTx {
            nonce,
            l1_block: 5,
            from,
            to,
            value: U256::from(value),
            gas_limit: gas,
            data: Bytes::new(),
        }
    }

    fn account(out: &ExecutedBlock, a: Address) -> Option<AccountState> {
        out.changes.accounts.iter().find(|(x, _)| *x == a).and_then(|(_, s)| *s)
    }

    #[test]
    fn deposits_mint_then_call_at_zero_gas_price_using_one_nonce_each() {
        let from = Address::repeat_byte(0xa1);
        let to = Address::repeat_byte(0xb2);
        // A contract that always reverts: PUSH0 PUSH0 REVERT.
        let reverter = Address::repeat_byte(0xc3);
        let mut source = MemorySource::default();
        source.insert_account(from, 4, U256::from(1), None);
        source.insert_account(
            reverter,
            1,
            U256::ZERO,
            Some(Bytes::from_static(&[0x5f, 0x5f, 0xfd])),
        );
        let deposits = [
            deposit(0, from, to, 700, 21_000),
            deposit(1, from, reverter, 50, 100_000),
            // Too little gas for a call: not executed, the mint stands.
            deposit(2, from, to, 9, 20_000),
        ];
        let out = execute_block(&source, &cfg(), &ctx(), &deposits, Vec::new()).unwrap();
        assert_eq!(out.deposit_receipts.len(), 3);
        let status: Vec<bool> =
            out.deposit_receipts.iter().map(|r| r.receipt.status.coerce_status()).collect();
        assert_eq!(status, vec![true, false, false]);
        // 1 + 700 + 50 + 9 minted, 700 sent on: the reverted and the skipped calls
        // leave their value with `from`. No gas was charged.
        assert_eq!(account(&out, to).unwrap().balance, U256::from(700));
        let sender = account(&out, from).unwrap();
        assert_eq!(sender.balance, U256::from(1 + 50 + 9));
        assert_eq!(sender.nonce, 7, "each deposit uses one L2 nonce");
        assert_eq!(out.deposit_nonces, vec![4, 5, 6]);
        assert!(out.gas_used >= 21_000 + 21_000, "deposit gas counts in the block");
        assert_eq!(out.deposit_receipts[2].receipt.cumulative_gas_used, out.gas_used);
        assert!(out.base_fees.is_zero());
    }
}
