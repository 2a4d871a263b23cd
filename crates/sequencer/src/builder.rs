use alloy::primitives::KECCAK256_EMPTY as KECCAK_EMPTY;
use alloy::{
    genesis::Genesis,
    primitives::{B256, U256, keccak256},
};
use infra_bus::{Actor, ActorError, Bus, CancellationToken, DepositInbox, Event};
use infra_config::ChainConfig;
use infra_execution::{
    Inclusion, TimedBlock, base_fee_after, block_header, build_block, tree_updates,
};
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
    #[error(transparent)]
    Build(#[from] infra_execution::BuildError),
    #[error("database has no head: it was not initialised with a genesis")]
    NoHead,
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

/// Room kept in a batch for a block's own fields and its deposits, besides its
/// transactions.
const BLOCK_OVERHEAD_BYTES: usize = 16 * 1024;

/// With empty blocks off, the sequencer still seals this many (empty) blocks
/// after each block that carried something. Wallet libraries wait for a
/// receipt by watching the block number (ethers' `tx.wait`, viem's
/// `waitForTransactionReceipt`, MetaMask's block tracker): one that looked up
/// the receipt just before the transaction's block was sealed and took its
/// block-number baseline just after would otherwise wait until the next
/// transaction, i.e. forever on an idle chain. The tail makes the chain move
/// on after every inclusion, at a bounded cost.
pub const TRAILING_EMPTY_BLOCKS: u32 = 2;

impl BlockBuilder {
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
        self.seal(now, self.empty_blocks)
    }

    /// Seals the next block; `allow_empty`: seal one even with nothing to include.
    fn seal(
        &self,
        now: u64,
        allow_empty: bool,
    ) -> Result<Option<(Arc<SealedBlock>, SealTimings)>, SequencerError> {
        let started = Instant::now();
        let reader = self.store.reader()?;
        let head = reader.head()?.ok_or(SequencerError::NoHead)?;
        let parent = reader.header(head)?.ok_or(SequencerError::NoHead)?;
        let base_fee = base_fee_after(&self.chain, &parent);
        let mut candidates = self.pool.best(base_fee, |a| {
            reader.account(a).ok().flatten().map(|acc| acc.nonce).unwrap_or_default()
        });
        // A block must fit one batch (the batcher cannot split a block): at
        // most `batch.max_txs` transactions and `batch.max_bytes` of them, less
        // room for the block's own fields and deposits. A prefix of `best`
        // keeps each sender's nonce order; the rest waits for the next block.
        let max_bytes = self.chain.batch.max_bytes as usize;
        let budget = max_bytes.saturating_sub(BLOCK_OVERHEAD_BYTES).max(max_bytes / 2);
        let mut bytes = 0usize;
        let fit = candidates
            .iter()
            .take(self.chain.batch.max_txs as usize)
            .take_while(|(tx, _)| {
                bytes = bytes.saturating_add(alloy::eips::Encodable2718::encode_2718_len(tx));
                bytes <= budget
            })
            .count();
        // One transaction always goes in, however large (the block is then
        // a batch of its own, as before).
        candidates.truncate(fit.max(1));
        // Deposits first, up to half the block's gas, continuing the cursor
        // stored with the head block (so a restart neither skips nor repeats one).
        let cursor = reader.deposit_cursor()?;
        let deposits =
            self.deposits.take(cursor.next_nonce, self.chain.gas_limit / 2, MAX_DEPOSITS_PER_BLOCK);
        if candidates.is_empty() && deposits.is_empty() && !allow_empty {
            return Ok(None);
        }
        let TimedBlock { built, execute, state_root } = build_block(
            &reader,
            &parent,
            &self.chain,
            &self.hasher,
            now,
            deposits,
            candidates,
            Inclusion::Pool,
        )?;
        let rejected: Vec<(B256, String)> =
            built.rejected.iter().map(|r| (r.hash, r.reason.to_string())).collect();
        if built.block.tx_count() == 0 && !allow_empty {
            self.pool.on_block(std::iter::empty(), &rejected, &[]);
            return Ok(None);
        }
        let block = built.block;
        drop(reader);
        let commit_started = Instant::now();
        self.store.commit_block(&block, &built.changes, &built.nodes)?;
        let commit = commit_started.elapsed();
        let nonces: Vec<_> = built
            .changes
            .accounts
            .iter()
            .map(|(a, s)| {
                let (nonce, balance) = s.map(|s| (s.nonce, s.balance)).unwrap_or_default();
                (*a, nonce, Some(balance))
            })
            .collect();
        let mined: Vec<B256> = block.transactions.iter().map(|t| *t.tx_hash()).collect();
        self.pool.on_block(nonces, &rejected, &mined);
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
            smt_hashes = built.tree_hashes,
            commit_ms = commit.as_millis(),
            "sealed block"
        );
        self.bus.publish(Event::BlockSealed(block.clone()));
        let timings = SealTimings {
            total: started.elapsed(),
            execute,
            state_root,
            commit,
            tree_hashes: built.tree_hashes,
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

/// While on, the sequencer also seals as soon as a transaction is pooled (as
/// anvil's automine does): the embedded dev L1 turns it on while it deploys the
/// contracts, so `--dev` answers without waiting a block time per deployment.
#[derive(Debug, Clone, Default)]
pub struct InstantSeal(Arc<std::sync::atomic::AtomicBool>);

impl InstantSeal {
    pub fn set(&self, on: bool) {
        self.0.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The sequencer as an actor: seals on every tick of `block_time_ms` (empty
/// blocks only when they are on, or for [`TRAILING_EMPTY_BLOCKS`] ticks after a
/// block that carried something), and on each pooled transaction while
/// [`InstantSeal`] is on.
#[derive(Debug)]
pub struct SequencerActor {
    pub builder: BlockBuilder,
    pub instant: InstantSeal,
}

impl Actor for SequencerActor {
    const NAME: &'static str = "sequencer";

    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        let err = |e: String| ActorError { actor: Self::NAME, message: e };
        let mut tick =
            tokio::time::interval(Duration::from_millis(self.builder.chain.block_time_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pooled = self.builder.bus.subscribe();
        let mut tail = 0u32;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tick.tick() => {}
                event = pooled.recv() => match event {
                    Ok(Event::PendingTx(_)) if self.instant.is_on() => {}
                    // Other events, or instant sealing off: wait on.
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
            let builder = self.builder.clone();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            // Sealing is CPU and disk work: keep it off the async workers. It is not
            // cancelled half-way: a block is either committed or not started.
            let allow_empty = builder.empty_blocks || tail > 0;
            let sealed = tokio::task::spawn_blocking(move || builder.seal(now, allow_empty))
                .await
                .map_err(|e| err(e.to_string()))?
                .map_err(|e| err(e.to_string()))?;
            tail = match sealed {
                Some((b, _)) if b.tx_count() > 0 => TRAILING_EMPTY_BLOCKS,
                Some(_) => tail.saturating_sub(1),
                None => 0,
            };
        }
    }
}
