//! The L1 watcher: follows L1 heads and reads the bridge's deposits once they
//! have enough confirmations, handing them to the sequencer in bridge order.

use crate::bindings::Bridge;
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use infra_bus::DepositInbox;
use infra_primitives::DepositTx;
use std::{collections::VecDeque, time::Duration};

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("L1 RPC: {0}")]
    Rpc(String),
    #[error("L1 log: {0}")]
    Log(String),
    /// A reorg removed L1 blocks that had their confirmations, and with them
    /// deposits the L2 chain has already applied. The chain cannot follow without
    /// rewriting sealed blocks: stop loudly.
    #[error(
        "L1 reorg deeper than l1.confirmations ({confirmations}) replaced L1 block {block} whose deposits the L2 chain already applied (next deposit to apply: {applied_next}); raise l1.confirmations"
    )]
    DeepReorg { block: u64, confirmations: u64, applied_next: u64 },
}

fn rpc(e: impl std::fmt::Display) -> WatchError {
    WatchError::Rpc(e.to_string())
}

#[derive(Debug, Clone)]
pub struct WatcherConfig {
    pub bridge: Address,
    /// Deposits are read from blocks at least this deep below the L1 head
    /// (0: read the head itself).
    pub confirmations: u64,
    pub poll: Duration,
    /// At most this many L1 blocks per log query.
    pub max_range: u64,
}

/// The deposit a bridge `DepositInitiated` log records.
pub fn deposit_from_log(log: &alloy::rpc::types::Log) -> Result<DepositTx, WatchError> {
    let block = log.block_number.ok_or_else(|| WatchError::Log("log without block".into()))?;
    let ev = log
        .log_decode::<Bridge::DepositInitiated>()
        .map_err(|e| WatchError::Log(e.to_string()))?
        .inner
        .data;
    let nonce = u64::try_from(ev.nonce)
        .map_err(|_| WatchError::Log(format!("deposit nonce {} too large", ev.nonce)))?;
    Ok(DepositTx {
        nonce,
        l1_block: block,
        from: ev.from,
        to: ev.to,
        value: ev.value,
        gas_limit: ev.gasLimit,
        data: ev.data,
    })
}

/// The bridge's deposits with nonces `from..to`, read from its
/// `DepositInitiated` logs in L1 blocks `first_block..=last_block`, scanned
/// back from the last in windows of 10,000 blocks until all are found.
pub async fn deposits_by_nonce(
    l1: &DynProvider,
    bridge: Address,
    from: u64,
    to: u64,
    first_block: u64,
    last_block: u64,
) -> Result<Vec<DepositTx>, WatchError> {
    let mut found = std::collections::BTreeMap::new();
    let mut hi = last_block;
    while (found.len() as u64) < to.saturating_sub(from) {
        let lo = hi.saturating_sub(9_999).max(first_block);
        let nonces: Vec<B256> = (from..to)
            .filter(|n| !found.contains_key(n))
            .map(|n| B256::from(alloy::primitives::U256::from(n)))
            .collect();
        let filter = Filter::new()
            .address(bridge)
            .event_signature(Bridge::DepositInitiated::SIGNATURE_HASH)
            .topic1(nonces)
            .from_block(lo)
            .to_block(hi);
        for log in l1.get_logs(&filter).await.map_err(|e| WatchError::Rpc(e.to_string()))? {
            if !log.removed {
                let d = deposit_from_log(&log)?;
                found.insert(d.nonce, d);
            }
        }
        if lo <= first_block {
            break;
        }
        hi = lo - 1;
    }
    if (found.len() as u64) < to.saturating_sub(from) {
        return Err(WatchError::Log(format!(
            "deposits {from}..{to}: only {} found in L1 blocks {first_block}..={last_block}",
            found.len()
        )));
    }
    Ok(found.into_values().collect())
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollOutcome {
    pub l1_head: u64,
    /// The L1 blocks scanned (inclusive), if any.
    pub scanned: Option<(u64, u64)>,
    pub deposits: usize,
    /// L1 blocks dropped because a reorg replaced them.
    pub reorged: u64,
}

/// Reads deposits from L1 into a [`DepositInbox`].
#[derive(Debug)]
pub struct DepositWatcher {
    provider: DynProvider,
    config: WatcherConfig,
    inbox: DepositInbox,
    /// The next L1 block to scan.
    next_block: u64,
    /// Where scanning started.
    start_block: u64,
    /// Hashes of the scanned blocks (newest last), to notice reorgs.
    scanned: VecDeque<(u64, B256)>,
    /// The lowest deposit nonce read from each scanned block still in `scanned`.
    deposits_at: VecDeque<(u64, u64)>,
}

/// How many scanned block hashes are kept for reorg detection.
const KEEP_HASHES: usize = 256;

impl DepositWatcher {
    /// Starts scanning at `from_block`: the L1 block of the last deposit the chain
    /// applied (re-read: the inbox drops what was applied), or the deployment block.
    pub fn new(
        provider: DynProvider,
        config: WatcherConfig,
        inbox: DepositInbox,
        from_block: u64,
    ) -> Self {
        Self {
            provider,
            config,
            inbox,
            next_block: from_block,
            start_block: from_block,
            scanned: VecDeque::new(),
            deposits_at: VecDeque::new(),
        }
    }

    async fn hash_of(&self, number: u64) -> Result<Option<B256>, WatchError> {
        Ok(self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(rpc)?
            .map(|b| b.header.hash))
    }

    /// Drops scanned blocks that are no longer on the L1 chain and forgets the
    /// deposits read from them. `applied_next` is the chain's deposit cursor.
    /// Nothing changes when it fails (a retry sees the same reorg).
    async fn unwind_reorg(&mut self, applied_next: u64) -> Result<u64, WatchError> {
        let mut keep = self.scanned.len();
        while let Some(&(number, hash)) = keep.checked_sub(1).and_then(|i| self.scanned.get(i)) {
            if self.hash_of(number).await? == Some(hash) {
                break;
            }
            keep -= 1;
        }
        let dropped = (self.scanned.len() - keep) as u64;
        if dropped == 0 {
            return Ok(0);
        }
        let good_end = keep.checked_sub(1).and_then(|i| self.scanned.get(i)).map(|&(n, _)| n);
        let first_bad =
            self.deposits_at.iter().position(|&(block, _)| good_end.is_none_or(|g| block > g));
        if let Some(i) = first_bad {
            let (block, nonce) = self.deposits_at[i];
            if nonce < applied_next {
                return Err(WatchError::DeepReorg {
                    block,
                    confirmations: self.config.confirmations,
                    applied_next,
                });
            }
            self.inbox.forget_from(nonce);
            self.deposits_at.truncate(i);
        }
        self.scanned.truncate(keep);
        self.next_block = good_end.map_or(self.start_block, |n| n.saturating_add(1));
        tracing::warn!(target: "l1", dropped, resume_at = self.next_block, "L1 reorg: rescanning");
        Ok(dropped)
    }

    /// One round: notice reorgs, then read the deposits of newly confirmed blocks.
    pub async fn poll(&mut self, applied_next: u64) -> Result<PollOutcome, WatchError> {
        let head = self.provider.get_block_number().await.map_err(rpc)?;
        let mut out = PollOutcome { l1_head: head, ..Default::default() };
        out.reorged = self.unwind_reorg(applied_next).await?;
        let Some(safe) = head.checked_sub(self.config.confirmations) else { return Ok(out) };
        if safe < self.next_block {
            return Ok(out);
        }
        let to = safe.min(self.next_block.saturating_add(self.config.max_range.max(1) - 1));
        let from = self.next_block;
        let Some(to_hash) = self.hash_of(to).await? else { return Ok(out) };
        let filter = Filter::new()
            .address(self.config.bridge)
            .event_signature(Bridge::DepositInitiated::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = self.provider.get_logs(&filter).await.map_err(rpc)?;
        // The range must still end in the block we saw: otherwise a reorg raced us.
        if self.hash_of(to).await? != Some(to_hash) {
            return Ok(out);
        }
        let mut deposits = Vec::with_capacity(logs.len());
        for log in &logs {
            if log.removed {
                continue;
            }
            deposits.push(deposit_from_log(log)?);
        }
        deposits.sort_by_key(|d| d.nonce);
        for d in &deposits {
            if self.deposits_at.back().is_none_or(|&(b, _)| b < d.l1_block) {
                self.deposits_at.push_back((d.l1_block, d.nonce));
            }
        }
        out.deposits = deposits.len();
        for d in deposits {
            tracing::info!(target: "l1", nonce = d.nonce, l1_block = d.l1_block, from = %d.from, to = %d.to, value = %d.value, "deposit confirmed");
            self.inbox.push(d);
        }
        // Keep one hash per scanned range end (enough to notice a reorg of it).
        self.scanned.push_back((to, to_hash));
        while self.scanned.len() > KEEP_HASHES {
            self.scanned.pop_front();
        }
        while self.deposits_at.len() > KEEP_HASHES * 4 {
            self.deposits_at.pop_front();
        }
        self.next_block = to.saturating_add(1);
        out.scanned = Some((from, to));
        Ok(out)
    }

    /// Polls until `cancel` fires. `applied_next` reads the chain's deposit cursor.
    pub async fn run(
        mut self,
        cancel: infra_bus::CancellationToken,
        applied_next: impl Fn() -> u64 + Send,
    ) -> Result<(), WatchError> {
        let mut failures = 0u32;
        loop {
            match self.poll(applied_next()).await {
                Ok(_) => failures = 0,
                Err(e @ WatchError::DeepReorg { .. }) => return Err(e),
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(target: "l1", failures, "watcher: {e}");
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.config.poll) => {}
            }
        }
    }
}
