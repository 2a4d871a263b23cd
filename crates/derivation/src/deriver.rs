//! Deriving the L2 chain from L1: the rollup's batches and the bridge's deposits,
//! read in L1 order.

use crate::{
    ImportError, replay_block, same_content,
    source::{SourceError, SubmittedBatch, batch_data},
};
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use infra_bus::{Actor, ActorError, BatchVerdict, Bus, CancellationToken, Event};
use infra_config::ChainConfig;
use infra_execution::chain_params;
use infra_l1::{Bridge, Rollup, deposit_from_log};
use infra_primitives::DepositTx;
use infra_state::TreeHasher;
use infra_stf::{BatchRef, GasBudget, InvalidBatch, Output, claim::ClaimChain, plan_batch};
use infra_storage::{BatchRecord, StorageError, Store};
use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

/// The `Meta` key of the derivation record (see [`Record`]).
pub const RECORD_KEY: &str = "derivation";
pub use infra_storage::SAFE_HEAD_KEY;
/// How many L1 checkpoints are kept to notice and unwind reorgs.
const KEEP_CHECKPOINTS: usize = 256;

/// Serialises writers of the chain (derivation, peer imports): each holds it
/// for one whole import or unwind.
pub type ChainLock = Arc<Mutex<()>>;

#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    #[error("L1 RPC: {0}")]
    Rpc(String),
    #[error("L1 log: {0}")]
    Log(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("batch {index}: {reason}")]
    InvalidBatch { index: u64, reason: String },
    #[error("batch {index} starts at block {block}, but the chain's head is {head}")]
    Gap { index: u64, block: u64, head: u64 },
}

fn rpc(e: impl std::fmt::Display) -> DeriveError {
    DeriveError::Rpc(e.to_string())
}

#[derive(Debug, Clone)]
pub struct DeriverConfig {
    pub rollup: Address,
    pub bridge: Address,
    /// Where scanning starts on a fresh datadir (the deployment block).
    pub deploy_block: u64,
    pub poll: Duration,
    /// At most this many L1 blocks per log query.
    pub max_range: u64,
}

/// An L1 block derivation went through, and the safe head after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checkpoint {
    l1_block: u64,
    l1_hash: B256,
    safe_head: u64,
}

/// What survives a restart (`Meta`, [`RECORD_KEY`]): where to rescan L1 from
/// (the L1 block of the oldest deposit not yet in the safe chain, or the next
/// unscanned block), the safe head, and the last checkpoint (a reorg while the
/// node was down is noticed by its hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    resume_l1: u64,
    safe_head: u64,
    last: Checkpoint,
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&self.resume_l1.to_be_bytes());
        out.extend_from_slice(&self.safe_head.to_be_bytes());
        out.extend_from_slice(&self.last.l1_block.to_be_bytes());
        out.extend_from_slice(self.last.l1_hash.as_slice());
        out.extend_from_slice(&self.last.safe_head.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        let u =
            |i: usize| raw.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
        Some(Self {
            resume_l1: u(0)?,
            safe_head: u(8)?,
            last: Checkpoint {
                l1_block: u(16)?,
                l1_hash: B256::from_slice(raw.get(24..56)?),
                safe_head: u(56)?,
            },
        })
    }
}

/// Where derivation stands (shared with whoever asks: RPC, tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DerivationStatus {
    /// The newest L2 block derived from L1.
    pub safe_head: u64,
    /// The newest L1 block scanned.
    pub l1_block: u64,
    /// Batches derived since start, and blocks executed or replaced doing it.
    pub batches: u64,
    pub executed: u64,
    pub replaced: u64,
    /// Verdicts on claimed outputs that differ from the derived ones.
    pub invalid_outputs: Vec<BatchVerdict>,
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DerivePoll {
    pub scanned: Option<(u64, u64)>,
    pub batches: usize,
    /// L1 blocks dropped by a reorg.
    pub reorged: u64,
}

/// Derives the chain from L1 into the store.
#[derive(Debug)]
pub struct Deriver {
    l1: DynProvider,
    config: DeriverConfig,
    store: Store,
    chain: ChainConfig,
    hasher: TreeHasher,
    bus: Bus,
    lock: ChainLock,
    next_l1: u64,
    checkpoints: VecDeque<Checkpoint>,
    deposits: BTreeMap<u64, DepositTx>,
    safe_head: u64,
    status: Arc<Mutex<DerivationStatus>>,
}

impl Deriver {
    /// Resumes from the record in the store, or starts at the deployment block.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        l1: DynProvider,
        config: DeriverConfig,
        store: Store,
        chain: ChainConfig,
        hasher: TreeHasher,
        bus: Bus,
        lock: ChainLock,
    ) -> Result<Self, DeriveError> {
        let record = store.reader()?.meta(RECORD_KEY)?.as_deref().and_then(Record::decode);
        let mut d = Self {
            l1,
            next_l1: config.deploy_block,
            config,
            store,
            chain,
            hasher,
            bus,
            lock,
            checkpoints: VecDeque::new(),
            deposits: BTreeMap::new(),
            safe_head: 0,
            status: Arc::default(),
        };
        if let Some(r) = record {
            d.next_l1 = r.resume_l1;
            d.safe_head = r.safe_head;
            d.checkpoints.push_back(r.last);
            tracing::info!(target: "derivation", safe_head = r.safe_head, resume_l1 = r.resume_l1, "resuming derivation");
        }
        d.update_status(|s| s.safe_head = d.safe_head);
        Ok(d)
    }

    /// A handle on where derivation stands.
    pub fn status(&self) -> Arc<Mutex<DerivationStatus>> {
        self.status.clone()
    }

    fn update_status(&self, f: impl FnOnce(&mut DerivationStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    async fn hash_of(&self, number: u64) -> Result<Option<B256>, DeriveError> {
        Ok(self
            .l1
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(rpc)?
            .map(|b| b.header.hash))
    }

    /// Moves back to the newest checkpoint still on L1. The L2 blocks after its
    /// safe head stay stored (unsafe) and are compared again, by content, with
    /// the batches L1 now holds.
    async fn unwind_reorg(&mut self) -> Result<u64, DeriveError> {
        let mut dropped = 0u64;
        while let Some(cp) = self.checkpoints.back().copied() {
            if self.hash_of(cp.l1_block).await? == Some(cp.l1_hash) {
                break;
            }
            self.checkpoints.pop_back();
            dropped = dropped.saturating_add(1);
        }
        if dropped == 0 {
            return Ok(0);
        }
        match self.checkpoints.back().copied() {
            Some(cp) => {
                self.next_l1 = cp.l1_block.saturating_add(1);
                self.deposits.retain(|_, d| d.l1_block <= cp.l1_block);
                self.restore_deposits(cp.safe_head, Some(cp.l1_block))?;
                self.safe_head = cp.safe_head;
            }
            // Deeper than every checkpoint kept: derive again from the deployment
            // (stored blocks that match are kept without executing them).
            None => {
                self.next_l1 = self.config.deploy_block;
                self.safe_head = 0;
                self.deposits.clear();
            }
        }
        tracing::warn!(target: "derivation", resume_l1 = self.next_l1, safe_head = self.safe_head, "L1 reorg: deriving again from the last canonical L1 block");
        self.persist(None)?;
        Ok(dropped)
    }

    /// One round: notice reorgs, then derive what the next L1 blocks hold.
    pub async fn poll(&mut self) -> Result<DerivePoll, DeriveError> {
        let mut out = DerivePoll { reorged: self.unwind_reorg().await?, ..Default::default() };
        let head = self.l1.get_block_number().await.map_err(rpc)?;
        let from = self.next_l1;
        if from > head {
            return Ok(out);
        }
        let to = head.min(from.saturating_add(self.config.max_range.max(1) - 1));
        let Some(to_hash) = self.hash_of(to).await? else { return Ok(out) };
        let filter = Filter::new()
            .address(vec![self.config.rollup, self.config.bridge])
            .event_signature(vec![
                Rollup::BatchSubmitted::SIGNATURE_HASH,
                Rollup::BatchesRolledBack::SIGNATURE_HASH,
                Bridge::DepositInitiated::SIGNATURE_HASH,
            ])
            .from_block(from)
            .to_block(to);
        let logs = self.l1.get_logs(&filter).await.map_err(rpc)?;
        if self.hash_of(to).await? != Some(to_hash) {
            return Ok(out); // a reorg raced the query: the next round unwinds it
        }
        for log in logs.iter().filter(|l| !l.removed) {
            let topic = log.topic0().copied().unwrap_or_default();
            if topic == Bridge::DepositInitiated::SIGNATURE_HASH {
                if log.address() != self.config.bridge {
                    continue;
                }
                let d = deposit_from_log(log).map_err(|e| DeriveError::Log(e.to_string()))?;
                self.deposits.entry(d.nonce).or_insert(d);
            } else if log.address() != self.config.rollup {
                continue;
            } else if topic == Rollup::BatchSubmitted::SIGNATURE_HASH {
                let batch = SubmittedBatch::from_log(log).map_err(DeriveError::Log)?;
                self.derive_batch(&batch).await?;
                out.batches += 1;
            } else if topic == Rollup::BatchesRolledBack::SIGNATURE_HASH {
                let ev = log
                    .log_decode::<Rollup::BatchesRolledBack>()
                    .map_err(|e| DeriveError::Log(e.to_string()))?
                    .inner
                    .data;
                let safe = ev.nextBlock.saturating_sub(1);
                if safe < self.safe_head {
                    self.restore_deposits(safe, None)?;
                    self.safe_head = safe;
                }
                tracing::warn!(target: "derivation", from_index = %ev.fromIndex, next_block = ev.nextBlock, "L1 rolled batches back: blocks after {safe} are no longer safe until posted again");
            }
        }
        self.checkpoints.push_back(Checkpoint {
            l1_block: to,
            l1_hash: to_hash,
            safe_head: self.safe_head,
        });
        while self.checkpoints.len() > KEEP_CHECKPOINTS {
            self.checkpoints.pop_front();
        }
        self.next_l1 = to.saturating_add(1);
        let last = self.checkpoints.back().copied();
        self.persist(last)?;
        self.update_status(|s| {
            s.l1_block = to;
            s.safe_head = self.safe_head;
        });
        out.scanned = Some((from, to));
        Ok(out)
    }

    /// The safe head moves back to `safe`: the deposits the blocks after it
    /// applied (pruned once they were safe) are needed again, to derive the
    /// batches L1 will hold for those blocks. They are the stored blocks' own
    /// (the same records as L1's logs); with `max_l1`, only those from L1
    /// blocks up to it (later ones are scanned again).
    fn restore_deposits(&mut self, safe: u64, max_l1: Option<u64>) -> Result<(), DeriveError> {
        let reader = self.store.reader()?;
        for n in safe.saturating_add(1)..=self.safe_head {
            let Some(block) = reader.block(n)? else { continue };
            for d in block.deposits {
                if max_l1.is_none_or(|m| d.l1_block <= m) {
                    self.deposits.entry(d.nonce).or_insert(d);
                }
            }
        }
        Ok(())
    }

    /// Writes the record (and the safe head) so a restart resumes here.
    fn persist(&self, last: Option<Checkpoint>) -> Result<(), DeriveError> {
        let resume_l1 = self
            .deposits
            .values()
            .map(|d| d.l1_block)
            .min()
            .map_or(self.next_l1, |b| b.min(self.next_l1));
        let last = last.or_else(|| self.checkpoints.back().copied()).unwrap_or(Checkpoint {
            l1_block: 0,
            l1_hash: B256::ZERO,
            safe_head: 0,
        });
        let record = Record { resume_l1, safe_head: self.safe_head, last };
        self.store.put_meta(RECORD_KEY, &record.encode())?;
        self.store.put_meta(SAFE_HEAD_KEY, &self.safe_head.to_be_bytes())?;
        Ok(())
    }

    async fn derive_batch(&mut self, batch: &SubmittedBatch) -> Result<(), DeriveError> {
        if batch.last_block <= self.safe_head {
            return Ok(()); // derived before a restart or a reorg that kept it
        }
        if batch.first_block != self.safe_head.saturating_add(1) {
            // An earlier batch derived no blocks (it is invalid): this one does
            // not extend the safe chain. L1 rolls both back once disputed.
            tracing::warn!(target: "derivation", index = batch.index, first = batch.first_block, safe_head = self.safe_head, "batch does not extend the safe chain (an earlier batch is invalid): not derived");
            return Ok(());
        }
        let data = batch_data(&self.l1, batch).await?;
        let job = DeriveJob {
            store: self.store.clone(),
            chain: self.chain.clone(),
            hasher: self.hasher.clone(),
            bus: self.bus.clone(),
            lock: self.lock.clone(),
            // Exactly the deposits L1 held when the batch was posted (the
            // rollup recorded their count).
            deposits: self
                .deposits
                .range(..batch.deposit_count)
                .map(|(n, d)| (*n, d.clone()))
                .collect(),
            safe_head: self.safe_head,
            index: batch.index,
            first_block: batch.first_block,
            last_block: batch.last_block,
        };
        let held: Vec<DepositTx> =
            self.deposits.range(..batch.deposit_count).map(|(_, d)| d.clone()).collect();
        let chain = ClaimChain { params: chain_params(&self.chain), curve: self.hasher.curve() };
        let (done, data) = tokio::task::spawn_blocking(move || job.run(&data).map(|d| (d, data)))
            .await
            .map_err(|e| DeriveError::Rpc(format!("derivation task: {e}")))??;
        let derived = done.output;
        let (posted, blob_hashes) = BatchRecord::posted(&data);
        let claimed = Output {
            state_root: batch.state_root,
            block_number: batch.last_block,
            block_hash: batch.block_hash,
            next_base_fee: batch.next_base_fee,
            next_deposit_nonce: batch.next_deposit_nonce,
        };
        // Kept for `infra-node fpvm run`.
        let deposit_base = Bridge::new(self.config.bridge, &self.l1)
            .depositAccumulators(U256::from(done.pre.next_deposit_nonce))
            .call()
            .await
            .map_err(rpc)?;
        self.store.put_batch(
            &BatchRecord {
                index: batch.index,
                first_block: batch.first_block,
                last_block: batch.last_block,
                data: posted,
                blob_hashes,
                claimed: claimed.encode().to_vec().into(),
                derived: derived.encode().to_vec().into(),
                chain: chain.encode().into(),
                deposits: held
                    .into_iter()
                    .filter(|d| d.nonce >= done.pre.next_deposit_nonce)
                    .collect(),
                deposit_base: Some(deposit_base),
            },
            Some(batch.claim_id),
        )?;
        let verdict = BatchVerdict {
            index: batch.index,
            first_block: batch.first_block,
            last_block: batch.last_block,
            l1_block: batch.l1_block,
            claimed_state_root: batch.state_root,
            claimed_block_hash: batch.block_hash,
            claimed_next_base_fee: batch.next_base_fee,
            claimed_next_deposit_nonce: batch.next_deposit_nonce,
            derived_state_root: derived.state_root,
            derived_block_hash: derived.block_hash,
            derived_next_base_fee: derived.next_base_fee,
            derived_next_deposit_nonce: derived.next_deposit_nonce,
        };
        if let Some(reason) = &done.invalid {
            // No blocks: the correct output is the one before the batch, which
            // the claim (for block `last_block`) cannot be.
            tracing::error!(target: "derivation", index = batch.index, first = batch.first_block, last = batch.last_block, "batch is INVALID and derives no blocks: {reason}");
        } else {
            self.safe_head = batch.last_block;
            // Deposits the safe chain applied are no longer needed.
            self.deposits = self.deposits.split_off(&derived.next_deposit_nonce);
            if verdict.valid() {
                tracing::info!(target: "derivation", index = batch.index, first = batch.first_block, last = batch.last_block, executed = done.executed, replaced = done.replaced, "batch derived: output matches");
            } else {
                tracing::error!(target: "derivation", index = batch.index, last = batch.last_block, claimed_root = %batch.state_root, derived_root = %derived.state_root, claimed_hash = %batch.block_hash, derived_hash = %derived.block_hash, "batch derived: the claimed output is WRONG");
            }
        }
        self.update_status(|s| {
            s.batches = s.batches.saturating_add(1);
            s.executed = s.executed.saturating_add(done.executed);
            s.replaced = s.replaced.saturating_add(done.replaced);
            s.safe_head = self.safe_head;
            if !verdict.valid() {
                s.invalid_outputs.push(verdict.clone());
            }
        });
        self.bus.publish(Event::BatchDerived(verdict));
        Ok(())
    }

    /// Polls until cancelled; failures are logged and retried next round.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), DeriveError> {
        let mut failures = 0u32;
        loop {
            let polled = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = self.poll() => r,
            };
            let more = match polled {
                Ok(p) => {
                    failures = 0;
                    // A full range scanned: the next one may be waiting already.
                    p.scanned.is_some_and(|(a, b)| b - a + 1 >= self.config.max_range)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(target: "derivation", failures, "derivation: {e}");
                    false
                }
            };
            if !more {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(self.config.poll) => {}
                }
            }
        }
    }
}

/// The blocking part of deriving one batch.
struct DeriveJob {
    store: Store,
    chain: ChainConfig,
    hasher: TreeHasher,
    bus: Bus,
    lock: ChainLock,
    deposits: BTreeMap<u64, DepositTx>,
    safe_head: u64,
    index: u64,
    first_block: u64,
    last_block: u64,
}

struct JobDone {
    /// The output the batch starts from.
    pre: Output,
    /// The derived output: after the batch's last block, or the pre-output
    /// when the batch is invalid.
    output: Output,
    invalid: Option<InvalidBatch>,
    executed: u64,
    replaced: u64,
}

impl DeriveJob {
    /// The safe chain's output after block `number`.
    fn output_at(&self, number: u64) -> Result<Output, DeriveError> {
        let reader = self.store.reader()?;
        let header = reader
            .header(number)?
            .ok_or_else(|| StorageError::Corrupt(format!("block {number} is missing")))?;
        let next_deposit = reader.deposit_cursor_at(number)?.next_nonce;
        Ok(Output::after(&chain_params(&self.chain), &header, next_deposit))
    }

    /// Plans the batch with the STF's rules ([`infra_stf::plan_batch`], the
    /// program's own) on top of the safe head, then builds each block with
    /// [`infra_stf::apply_block`], keeping stored blocks of the same content.
    fn run(self, data: &infra_stf::BatchData) -> Result<JobDone, DeriveError> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let pre = self.output_at(self.safe_head)?;
        let batch = BatchRef { first_block: self.first_block, last_block: self.last_block, data };
        let params = chain_params(&self.chain);
        let planned = match plan_batch(&params, &pre, &batch, &self.deposits)
            .map_err(|e| DeriveError::InvalidBatch { index: self.index, reason: e.to_string() })?
        {
            Ok(p) => p,
            Err(invalid) => {
                return Ok(JobDone {
                    pre,
                    output: pre,
                    invalid: Some(invalid),
                    executed: 0,
                    replaced: 0,
                });
            }
        };
        let (mut executed, mut replaced) = (0u64, 0u64);
        // The STF's gas budget, block by block as the program applies it: a
        // block it does not admit makes the whole batch invalid (blocks built
        // before it stay stored, not safe).
        let mut budget = GasBudget::new(&params);
        for input in planned {
            let number = input.number;
            let deposit_gas = infra_stf::deposit_gas(&input.deposits);
            if let Err(invalid) = budget.admit(number, deposit_gas) {
                return Ok(JobDone {
                    pre,
                    output: pre,
                    invalid: Some(invalid),
                    executed,
                    replaced,
                });
            }
            for d in &input.dropped {
                tracing::warn!(target: "derivation", block = number, tx = %d.hash, reason = %d.reason, "posted transaction dropped");
            }
            let reader = self.store.reader()?;
            let head = reader.head()?.unwrap_or_default();
            if number > head.saturating_add(1) {
                return Err(DeriveError::Gap { index: self.index, block: number, head });
            }
            let parent = number.saturating_sub(1);
            if number <= head {
                let stored = reader
                    .block(number)?
                    .ok_or_else(|| StorageError::Corrupt(format!("block {number} is missing")))?;
                if same_content(&stored, &input) {
                    budget.spend(stored.header.gas_used, deposit_gas);
                    continue;
                }
                drop(reader);
                let removed = self.store.unwind_to(parent)?;
                replaced = replaced.saturating_add(removed.len() as u64);
                tracing::warn!(target: "derivation", from = number, to = head, "stored blocks differ from the batch on L1: replaced by the derived ones");
            } else {
                drop(reader);
            }
            let imported = replay_block(&self.store, &self.chain, &self.hasher, input)?;
            budget.spend(imported.block.header.gas_used, deposit_gas);
            executed = executed.saturating_add(1);
            for d in &imported.dropped {
                tracing::warn!(target: "derivation", block = number, tx = %d.hash, reason = %d.reason, "posted transaction dropped");
            }
            self.bus.publish(Event::BlockSealed(Arc::new(imported.block)));
        }
        Ok(JobDone {
            pre,
            output: self.output_at(self.last_block)?,
            invalid: None,
            executed,
            replaced,
        })
    }
}

/// The deriver as an actor.
#[derive(Debug)]
pub struct DeriverActor(pub Deriver);

impl Actor for DeriverActor {
    const NAME: &'static str = "derivation";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        self.0
            .run(cancel)
            .await
            .map_err(|e| ActorError { actor: Self::NAME, message: e.to_string() })
    }
}
