use alloy::primitives::KECCAK256_EMPTY as KECCAK_EMPTY;
use alloy::{
    consensus::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header, Transaction as _},
    eips::eip7685::EMPTY_REQUESTS_HASH,
    genesis::Genesis,
    primitives::{B256, Bytes, U256, keccak256},
};
use infra_bus::{Actor, ActorError, Bus, CancellationToken, DepositInbox, Event};
use infra_config::ChainConfig;
use infra_execution::{BlockContext, ExecConfig, execute_block, next_base_fee, tree_updates};
use infra_mempool::Mempool;
use infra_primitives::SealedBlock;
use infra_state::{NodeChange, SparseMerkleTree, TreeHasher};
use infra_storage::{AccountState, StateChanges, Store};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    #[error(transparent)]
    Storage(#[from] infra_storage::StorageError),
    #[error(transparent)]
    State(#[from] infra_state::StateError),
    #[error(transparent)]
    Exec(#[from] infra_execution::ExecError),
    #[error("database has no head: it was not initialised with a genesis")]
    NoHead,
}

/// The header fields every block of this chain shares; the caller fills in the
/// transaction-dependent roots, bloom, gas used and mix hash.
fn block_header(
    chain: &ChainConfig,
    parent_hash: B256,
    number: u64,
    timestamp: u64,
    base_fee: u64,
    state_root: B256,
) -> Header {
    Header {
        parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: chain.fee_recipient,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        difficulty: U256::ZERO,
        number,
        gas_limit: chain.gas_limit,
        timestamp,
        extra_data: Bytes::new(),
        base_fee_per_gas: Some(base_fee),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

/// Builds the genesis block and its state from a geth-style genesis.
pub fn genesis_block(
    chain: &ChainConfig,
    genesis: &Genesis,
    hasher: &TreeHasher,
) -> Result<(SealedBlock, StateChanges, Vec<NodeChange>), SequencerError> {
    let mut changes = StateChanges::default();
    for (address, acc) in &genesis.alloc {
        let code = acc.code.clone().filter(|c| !c.is_empty());
        let code_hash = code.as_ref().map(keccak256).unwrap_or(KECCAK_EMPTY);
        if let Some(code) = code {
            changes.code.push((code_hash, code));
        }
        let state =
            AccountState { nonce: acc.nonce.unwrap_or_default(), balance: acc.balance, code_hash };
        let empty = state.nonce == 0 && state.balance.is_zero() && code_hash == KECCAK_EMPTY;
        for (slot, value) in acc.storage.iter().flatten() {
            let value = U256::from_be_bytes(value.0);
            if !value.is_zero() {
                changes.storage.push((*address, U256::from_be_bytes(slot.0), value));
            }
        }
        if !empty {
            changes.accounts.push((*address, Some(state)));
        }
    }
    let updates = tree_updates(hasher, &changes);
    let store = infra_state::MemoryNodeStore::default();
    let tree = SparseMerkleTree::new(hasher).update(&store, B256::ZERO, updates)?;
    let base_fee = genesis
        .base_fee_per_gas
        .map_or(chain.base_fee.initial_wei, |b| u64::try_from(b).unwrap_or(u64::MAX));
    let mut header = block_header(chain, B256::ZERO, 0, genesis.timestamp, base_fee, tree.root);
    header.extra_data = genesis.extra_data.clone();
    header.mix_hash = genesis.mix_hash;
    Ok((SealedBlock::new(header, vec![], vec![], vec![]), changes, tree.changes))
}

/// Builds, commits and announces blocks.
#[derive(Debug, Clone)]
pub struct BlockBuilder {
    pub store: Store,
    pub pool: Arc<Mempool>,
    pub chain: ChainConfig,
    pub hasher: TreeHasher,
    pub bus: Bus,
    pub empty_blocks: bool,
    /// Confirmed L1 deposits (filled by the L1 watcher; empty without an L1).
    pub deposits: DepositInbox,
}

/// At most this many deposits open one block.
pub const MAX_DEPOSITS_PER_BLOCK: usize = 256;

impl BlockBuilder {
    fn exec_config(&self) -> ExecConfig {
        ExecConfig { chain_id: self.chain.chain_id, fee_recipient: self.chain.fee_recipient }
    }

    /// Seals the next block at wall-clock `now` (unix seconds). Returns `None` when
    /// there was nothing to include and empty blocks are off.
    pub fn seal_next(&self, now: u64) -> Result<Option<Arc<SealedBlock>>, SequencerError> {
        Ok(self.seal_next_timed(now)?.map(|(block, _)| block))
    }

    /// [`Self::seal_next`], also returning where the time went.
    pub fn seal_next_timed(
        &self,
        now: u64,
    ) -> Result<Option<(Arc<SealedBlock>, SealTimings)>, SequencerError> {
        let started = Instant::now();
        let reader = self.store.reader()?;
        let head = reader.head()?.ok_or(SequencerError::NoHead)?;
        let parent = reader.header(head)?.ok_or(SequencerError::NoHead)?;
        let parent_hash = parent.hash_slow();
        let base_fee = next_base_fee(
            &self.chain.base_fee,
            parent.gas_used,
            parent.gas_limit,
            parent.base_fee_per_gas.unwrap_or(self.chain.base_fee.initial_wei),
        );
        let candidates = self.pool.best(base_fee, |a| {
            reader.account(a).ok().flatten().map(|acc| acc.nonce).unwrap_or_default()
        });
        // Deposits first, up to half the block's gas, continuing the cursor
        // stored with the head block (so a restart neither skips nor repeats one).
        let cursor = reader.deposit_cursor()?;
        let deposits =
            self.deposits.take(cursor.next_nonce, self.chain.gas_limit / 2, MAX_DEPOSITS_PER_BLOCK);
        if candidates.is_empty() && deposits.is_empty() && !self.empty_blocks {
            return Ok(None);
        }
        let ctx = BlockContext {
            number: head.saturating_add(1),
            timestamp: now.max(parent.timestamp),
            gas_limit: self.chain.gas_limit,
            base_fee,
            parent_hash,
            prevrandao: keccak256(parent_hash),
        };
        let exec_started = Instant::now();
        let exec = execute_block(&reader, &self.exec_config(), &ctx, &deposits, candidates)?;
        let execute = exec_started.elapsed();
        let rejected: Vec<B256> = exec.rejected.iter().map(|r| r.hash).collect();
        for r in &exec.rejected {
            tracing::debug!(target: "sequencer", tx = %r.hash, reason = %r.reason, "dropped by the EVM");
        }
        if exec.txs.is_empty() && deposits.is_empty() && !self.empty_blocks {
            self.pool.on_block(std::iter::empty(), &rejected);
            return Ok(None);
        }
        let smt_started = Instant::now();
        let updates = tree_updates(&self.hasher, &exec.changes);
        let tree =
            SparseMerkleTree::new(&self.hasher).update(&reader, parent.state_root, updates)?;
        let state_root = smt_started.elapsed();
        let txs: Vec<_> = exec.txs.iter().map(|t| t.tx.clone()).collect();
        let senders: Vec<_> = exec.txs.iter().map(|t| t.sender).collect();
        let receipts: Vec<_> = exec.txs.iter().map(|t| t.receipt.clone()).collect();
        let mut header =
            block_header(&self.chain, parent_hash, ctx.number, ctx.timestamp, base_fee, tree.root);
        header.transactions_root = SealedBlock::compute_transactions_root(&deposits, &txs);
        header.receipts_root =
            SealedBlock::compute_receipts_root(&exec.deposit_receipts, &receipts);
        header.logs_bloom = exec.logs_bloom;
        // Blob transactions exist on the embedded dev L1 only.
        header.blob_gas_used = Some(txs.iter().filter_map(|t| t.blob_gas_used()).sum());
        header.gas_used = exec.gas_used;
        header.mix_hash = ctx.prevrandao;
        let block = SealedBlock::with_deposits(
            header,
            deposits,
            exec.deposit_receipts.clone(),
            exec.deposit_nonces.clone(),
            txs,
            senders,
            receipts,
        );
        drop(reader);
        let commit_started = Instant::now();
        self.store.commit_block(&block, &exec.changes, &tree.changes)?;
        let commit = commit_started.elapsed();
        let nonces: Vec<_> = exec
            .changes
            .accounts
            .iter()
            .map(|(a, s)| (*a, s.map(|s| s.nonce).unwrap_or_default()))
            .collect();
        self.pool.on_block(nonces, &rejected);
        let block = Arc::new(block);
        tracing::info!(
            target: "sequencer",
            chain = %self.chain.name,
            number = block.number(),
            txs = block.transactions.len(),
            deposits = block.deposits.len(),
            gas = block.header.gas_used,
            hash = %block.hash,
            exec_ms = execute.as_millis(),
            smt_ms = state_root.as_millis(),
            smt_hashes = tree.hashes,
            commit_ms = commit.as_millis(),
            "sealed block"
        );
        self.bus.publish(Event::BlockSealed(block.clone()));
        let timings = SealTimings {
            total: started.elapsed(),
            execute,
            state_root,
            commit,
            tree_hashes: tree.hashes,
        };
        Ok(Some((block, timings)))
    }
}

/// Where the time of one sealed block went.
#[derive(Debug, Clone, Copy, Default)]
pub struct SealTimings {
    pub total: Duration,
    /// revm execution of the candidates.
    pub execute: Duration,
    /// The sparse Merkle tree update (leaf hashing and the new root).
    pub state_root: Duration,
    /// The MDBX write transaction (durable).
    pub commit: Duration,
    /// Poseidon permutations the tree update spent (leaf key/value hashing excluded).
    pub tree_hashes: usize,
}

/// The sequencer as an actor: seals on every tick of `block_time_ms`.
#[derive(Debug)]
pub struct SequencerActor {
    pub builder: BlockBuilder,
}

impl Actor for SequencerActor {
    const NAME: &'static str = "sequencer";

    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        let err = |e: String| ActorError { actor: Self::NAME, message: e };
        let mut tick =
            tokio::time::interval(Duration::from_millis(self.builder.chain.block_time_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            let builder = self.builder.clone();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            // Sealing is CPU and disk work: keep it off the async workers. It is not
            // cancelled half-way: a block is either committed or not started.
            tokio::task::spawn_blocking(move || builder.seal_next(now))
                .await
                .map_err(|e| err(e.to_string()))?
                .map_err(|e| err(e.to_string()))?;
        }
    }
}
