use crate::journal::{Journal, Record};
use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    eips::Encodable2718,
    primitives::{Address, B256, U256},
};
use infra_execution::{TX_GAS_LIMIT_CAP, intrinsic_gas};
use parking_lot::RwLock;
use std::{
    collections::{BTreeMap, BinaryHeap, HashMap},
    time::{Duration, Instant},
};

/// Largest accepted transaction, as geth's pool (128 KiB).
const MAX_TX_BYTES: usize = 128 * 1024;
/// EIP-3860: the largest init code a creation may carry (2 x EIP-170's 24 KiB).
const MAX_INITCODE_BYTES: usize = 2 * 0x6000;

/// How many transactions the pool holds, and for how long.
///
/// A sender's transactions from its state nonce on without a gap are *pending*
/// (executable); those behind a gap are *queued*. Each kind has its own limits,
/// per sender and over the pool, so senders that can never execute cannot take
/// the room of those that can. The defaults follow geth's `--txpool.*`
/// (`accountqueue` 64, `globalqueue` 1024, `lifetime` 3h), with reth's
/// 10,000 pending and a per-sender pending cap of 256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolLimits {
    /// Pending transactions in the whole pool.
    pub max_pending: usize,
    /// Queued transactions in the whole pool.
    pub max_queued: usize,
    /// Pending transactions of one sender.
    pub max_pending_per_sender: usize,
    /// Queued transactions of one sender.
    pub max_queued_per_sender: usize,
    /// A queued transaction is dropped this long after it arrived.
    pub queued_lifetime: Duration,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            max_pending: 10_000,
            max_queued: 1_024,
            max_pending_per_sender: 256,
            max_queued_per_sender: 64,
            queued_lifetime: Duration::from_secs(3 * 3600),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub chain_id: u64,
    pub block_gas_limit: u64,
    pub min_tip_wei: u128,
    pub limits: PoolLimits,
    /// Accept EIP-4844 blob transactions (their sidecars already checked and
    /// stripped by the caller). Only the embedded dev L1 does: an L2 has no blobs.
    pub accept_blobs: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            chain_id: 1,
            block_gas_limit: 30_000_000,
            min_tip_wei: 0,
            limits: PoolLimits::default(),
            accept_blobs: false,
        }
    }
}

/// Why a transaction was refused. The messages follow geth's, which wallets match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("nonce too low: address {address}, tx: {tx} state: {state}")]
    NonceTooLow { address: Address, tx: u64, state: u64 },
    #[error("nonce has max value: address {address}, nonce: {nonce}")]
    NonceMax { address: Address, nonce: u64 },
    #[error(
        "insufficient funds for gas * price + value: address {address} have {have} want {want}"
    )]
    InsufficientFunds { address: Address, have: U256, want: U256 },
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    #[error("intrinsic gas too low: gas {have}, minimum needed {want}")]
    IntrinsicGasTooLow { have: u64, want: u64 },
    #[error(
        "max fee per gas less than block base fee: address {address}, maxFeePerGas: {max_fee}, baseFee: {base_fee}"
    )]
    FeeCapBelowBaseFee { address: Address, max_fee: u128, base_fee: u64 },
    #[error("transaction already known")]
    AlreadyKnown,
    #[error("invalid chain id: have {have:?}, want {want}")]
    WrongChainId { have: Option<u64>, want: u64 },
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    #[error("transaction underpriced: gas tip cap {tip}, minimum needed {min}")]
    TipTooLow { tip: u128, min: u128 },
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    #[error("exceeds block gas limit")]
    GasLimitTooHigh,
    #[error("transaction gas limit too high (cap: {cap}, tx: {tx})")]
    GasLimitAboveCap { cap: u64, tx: u64 },
    #[error("transaction type not supported")]
    TypeNotSupported,
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized { size: usize, limit: usize },
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    InitcodeTooLarge { size: usize, limit: usize },
    #[error("EIP-7702 transaction with empty auth list")]
    EmptyAuthList,
    #[error("blobless blob transaction")]
    NoBlobs,
    #[error("txpool is full")]
    PoolFull,
    #[error(
        "account limit exceeded: {address} has {count} {kind} transactions (limit {limit}, mempool.{flag})"
    )]
    SenderLimit {
        address: Address,
        count: usize,
        kind: &'static str,
        limit: usize,
        flag: &'static str,
    },
}

#[derive(Debug, Clone)]
struct PoolTx {
    tx: TxEnvelope,
    hash: B256,
    max_fee: u128,
    tip: u128,
    /// gas limit x max fee + value: the most it can take from the sender.
    cost: U256,
    added: Instant,
}

impl PoolTx {
    fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        let room = self.max_fee.checked_sub(u128::from(base_fee))?;
        Some(room.min(self.tip))
    }
}

/// One sender's transactions and what the pool last knew of its account.
#[derive(Debug, Default)]
struct Account {
    txs: BTreeMap<u64, PoolTx>,
    state_nonce: u64,
    balance: U256,
    /// How many of `txs` run from `state_nonce` without a gap, and how many
    /// are behind one, as of the last [`Inner::recount`].
    pending: usize,
    queued: usize,
}

impl Account {
    fn queued(&self) -> usize {
        self.queued
    }

    /// The nonce after the pending run: the next executable one.
    fn pending_end(&self) -> u64 {
        self.state_nonce.saturating_add(self.pending as u64)
    }

    fn count_pending(&self) -> usize {
        let mut next = self.state_nonce;
        let mut n = 0;
        for nonce in self.txs.range(self.state_nonce..).map(|(n, _)| *n) {
            if nonce != next {
                break;
            }
            n += 1;
            next = next.saturating_add(1);
        }
        n
    }
}

/// Why a pooled transaction left the pool without being mined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// A better-paying transaction needed its room.
    Evicted,
    /// Replaced by a transaction with the same nonce and higher fees.
    Replaced(B256),
    /// Queued longer than `mempool.queued-lifetime`.
    Expired,
    /// Promoted past a limit when its sender's gap was filled.
    OverLimit(&'static str),
    /// The sender's balance no longer covers it after the ones before it.
    Unaffordable,
    /// Below its sender's state nonce: another transaction took the nonce.
    Stale,
    /// The EVM refused it while building a block.
    Rejected(String),
    /// Not valid any more when reloaded from the journal.
    Invalid(String),
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropReason::Evicted => {
                f.write_str("evicted by a better-paying transaction (pool full)")
            }
            DropReason::Replaced(by) => write!(f, "replaced by {by}"),
            DropReason::Expired => f.write_str("queued past mempool.queued-lifetime"),
            DropReason::OverLimit(flag) => write!(f, "promoted past {flag}"),
            DropReason::Unaffordable => f.write_str(
                "the sender's balance no longer covers it after its earlier transactions",
            ),
            DropReason::Stale => f.write_str("its nonce was used by another transaction"),
            DropReason::Rejected(why) => write!(f, "refused by the EVM: {why}"),
            DropReason::Invalid(why) => write!(f, "invalid on reload: {why}"),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    accounts: HashMap<Address, Account>,
    by_hash: HashMap<B256, (Address, u64)>,
    pending: usize,
    queued: usize,
    /// Bumped on every change; with `cheapest_pending` (generation, base
    /// fee, tip) it answers a refused transaction sent again without a scan.
    generation: u64,
    cheapest_pending: Option<(u64, u64, u128)>,
}

impl Inner {
    /// Re-derives `addr`'s pending run after a change and keeps the totals.
    fn recount(&mut self, addr: Address) {
        let Some(acc) = self.accounts.get_mut(&addr) else { return };
        let (old_p, old_q) = (acc.pending, acc.queued);
        acc.pending = acc.count_pending();
        acc.queued = acc.txs.len() - acc.pending;
        let (new_p, new_q) = (acc.pending, acc.queued);
        self.pending = self.pending + new_p - old_p;
        self.queued = self.queued + new_q - old_q;
        if acc.txs.is_empty() {
            self.accounts.remove(&addr);
        }
    }

    /// Drops `addr`'s transactions from `nonce` up (a sender's later ones
    /// cannot run without it) and recounts.
    fn drop_from(&mut self, addr: Address, nonce: u64, why: DropReason) -> Vec<(B256, DropReason)> {
        let Some(acc) = self.accounts.get_mut(&addr) else { return Vec::new() };
        let gone = acc.txs.split_off(&nonce);
        let out: Vec<_> = gone.into_values().map(|p| (p.hash, why.clone())).collect();
        for (h, _) in &out {
            self.by_hash.remove(h);
        }
        self.recount(addr);
        self.generation += 1;
        out
    }

    /// Removes one transaction (the caller recounts).
    fn take(&mut self, addr: Address, nonce: u64) -> Option<PoolTx> {
        let p = self.accounts.get_mut(&addr)?.txs.remove(&nonce)?;
        self.by_hash.remove(&p.hash);
        Some(p)
    }

    /// Drops `addr`'s transactions below `nonce` (mined or stale) and, walking
    /// up from there, those its `balance` cannot pay for after the ones before.
    fn settle(
        &mut self,
        addr: Address,
        nonce: u64,
        balance: Option<U256>,
    ) -> Vec<(B256, DropReason)> {
        let mut dropped = Vec::new();
        let Some(acc) = self.accounts.get_mut(&addr) else { return dropped };
        acc.state_nonce = acc.state_nonce.max(nonce);
        if let Some(b) = balance {
            acc.balance = b;
        }
        let keep = acc.txs.split_off(&acc.state_nonce);
        let below = std::mem::replace(&mut acc.txs, keep);
        // Below the state nonce: mined, or its nonce used by another (the
        // caller tells which by what the block holds).
        let mut gone: Vec<(B256, DropReason)> =
            below.into_values().map(|p| (p.hash, DropReason::Stale)).collect();
        let mut spent = U256::ZERO;
        let mut cut = None;
        for (n, p) in &acc.txs {
            spent = spent.saturating_add(p.cost);
            if spent > acc.balance {
                cut = Some(*n);
                break;
            }
        }
        if let Some(n) = cut {
            let over = acc.txs.split_off(&n);
            gone.extend(over.into_values().map(|p| (p.hash, DropReason::Unaffordable)));
        }
        for (hash, why) in gone {
            self.by_hash.remove(&hash);
            dropped.push((hash, why));
        }
        self.recount(addr);
        dropped
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    pub total: usize,
    pub pending: usize,
    pub queued: usize,
    pub senders: usize,
}

/// The pool. All methods take `&self`; it is shared between RPC and the sequencer.
#[derive(Debug)]
pub struct Mempool {
    cfg: PoolConfig,
    inner: RwLock<Inner>,
    journal: Option<Journal>,
}

fn bump(old: u128) -> u128 {
    old.saturating_add(old / 10).saturating_add(u128::from(!old.is_multiple_of(10)))
}

fn log_drops(journal: Option<&Journal>, dropped: &[(B256, DropReason)]) {
    for (hash, why) in dropped {
        tracing::info!(target: "mempool", tx = %hash, reason = %why, "dropped from the pool");
        if let Some(j) = journal {
            j.remove(hash);
        }
    }
}

impl Mempool {
    pub fn new(cfg: PoolConfig) -> Self {
        Self { cfg, inner: RwLock::new(Inner::default()), journal: None }
    }

    /// A pool whose accepted transactions are appended to `journal`, so that
    /// [`Self::reload`] brings them back after a restart or a crash.
    pub fn with_journal(cfg: PoolConfig, journal: Journal) -> Self {
        Self { cfg, inner: RwLock::new(Inner::default()), journal: Some(journal) }
    }

    pub fn config(&self) -> &PoolConfig {
        &self.cfg
    }

    /// The checks that need no account: the EIPs' admission rules and this
    /// pool's policy.
    fn check_stateless(&self, tx: &TxEnvelope, sender: Address) -> Result<(), PoolError> {
        if tx.is_eip4844() && !self.cfg.accept_blobs {
            return Err(PoolError::TypeNotSupported);
        }
        let size = tx.encode_2718_len();
        if size > MAX_TX_BYTES {
            return Err(PoolError::Oversized { size, limit: MAX_TX_BYTES });
        }
        match tx.chain_id() {
            None => return Err(PoolError::Unprotected),
            Some(id) if id != self.cfg.chain_id => {
                return Err(PoolError::WrongChainId { have: Some(id), want: self.cfg.chain_id });
            }
            Some(_) => {}
        }
        // EIP-2681: a nonce of 2^64-1 could never be followed.
        if tx.nonce() == u64::MAX {
            return Err(PoolError::NonceMax { address: sender, nonce: tx.nonce() });
        }
        if tx.is_create() && tx.input().len() > MAX_INITCODE_BYTES {
            return Err(PoolError::InitcodeTooLarge {
                size: tx.input().len(),
                limit: MAX_INITCODE_BYTES,
            });
        }
        // EIP-7702: a set-code transaction authorizes at least one delegation
        // (its `to` is an address by the type's encoding: it cannot create).
        if tx.authorization_list().is_some_and(|l| l.is_empty()) {
            return Err(PoolError::EmptyAuthList);
        }
        // EIP-4844: a blob transaction carries at least one blob.
        if tx.blob_versioned_hashes().is_some_and(|h| h.is_empty()) {
            return Err(PoolError::NoBlobs);
        }
        if tx.gas_limit() > self.cfg.block_gas_limit {
            return Err(PoolError::GasLimitTooHigh);
        }
        if tx.gas_limit() > TX_GAS_LIMIT_CAP {
            return Err(PoolError::GasLimitAboveCap { cap: TX_GAS_LIMIT_CAP, tx: tx.gas_limit() });
        }
        let max_fee = tx.max_fee_per_gas();
        let tip = tx.max_priority_fee_per_gas().unwrap_or(max_fee);
        if tip > max_fee {
            return Err(PoolError::TipAboveFeeCap);
        }
        let want = intrinsic_gas(tx, sender);
        if tx.gas_limit() < want {
            return Err(PoolError::IntrinsicGasTooLow { have: tx.gas_limit(), want });
        }
        if tip < self.cfg.min_tip_wei {
            return Err(PoolError::TipTooLow { tip, min: self.cfg.min_tip_wei });
        }
        Ok(())
    }

    /// Validates and adds a transaction whose sender has `state_nonce` and
    /// `balance` in the latest state. Returns its hash.
    pub fn add(
        &self,
        tx: TxEnvelope,
        sender: Address,
        state_nonce: u64,
        balance: U256,
        base_fee: u64,
    ) -> Result<B256, PoolError> {
        let (hash, dropped) = self.insert(tx, sender, state_nonce, balance, base_fee, true)?;
        log_drops(self.journal.as_ref(), &dropped);
        Ok(hash)
    }

    fn insert(
        &self,
        tx: TxEnvelope,
        sender: Address,
        state_nonce: u64,
        balance: U256,
        base_fee: u64,
        journal: bool,
    ) -> Result<(B256, Vec<(B256, DropReason)>), PoolError> {
        let hash = *tx.tx_hash();
        self.check_stateless(&tx, sender)?;
        let nonce = tx.nonce();
        let max_fee = tx.max_fee_per_gas();
        let tip = tx.max_priority_fee_per_gas().unwrap_or(max_fee);
        if max_fee < u128::from(base_fee) {
            return Err(PoolError::FeeCapBelowBaseFee { address: sender, max_fee, base_fee });
        }
        let cost = U256::from(tx.gas_limit())
            .saturating_mul(U256::from(max_fee))
            .saturating_add(tx.value())
            .saturating_add(
                U256::from(tx.blob_gas_used().unwrap_or_default())
                    .saturating_mul(U256::from(tx.max_fee_per_blob_gas().unwrap_or_default())),
            );
        let limits = &self.cfg.limits;

        let mut inner = self.inner.write();
        if inner.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        if inner.accounts.contains_key(&sender) {
            // Logged now: whatever happens to this one, they are gone.
            let gone = inner.settle(sender, state_nonce, Some(balance));
            // Below the state nonce here: mined by a block `on_block` has not
            // seen yet.
            let gone: Vec<_> = gone.into_iter().filter(|(_, w)| *w != DropReason::Stale).collect();
            log_drops(self.journal.as_ref(), &gone);
        }
        // The pool may know a newer nonce than the state read for this call.
        let state_nonce = inner.accounts.get(&sender).map_or(state_nonce, |a| a.state_nonce);
        if nonce < state_nonce {
            return Err(PoolError::NonceTooLow { address: sender, tx: nonce, state: state_nonce });
        }
        let mut dropped = Vec::new();
        // Everything the sender's earlier transactions may spend, then this one.
        let (pending_end, acc_queued, before, old) = match inner.accounts.get(&sender) {
            Some(acc) => (
                acc.pending_end(),
                acc.queued(),
                acc.txs.range(..nonce).fold(U256::ZERO, |s, (_, p)| s.saturating_add(p.cost)),
                acc.txs.get(&nonce).map(|o| (o.hash, o.max_fee, o.tip)),
            ),
            None => (state_nonce, 0, U256::ZERO, None),
        };
        let want = before.saturating_add(cost);
        if want > balance {
            return Err(PoolError::InsufficientFunds { address: sender, have: balance, want });
        }
        let replaced = match old {
            Some((old_hash, old_max, old_tip)) => {
                if max_fee < bump(old_max) || tip < bump(old_tip) {
                    return Err(PoolError::ReplacementUnderpriced);
                }
                Some(old_hash)
            }
            None => None,
        };
        let new_tip = max_fee.saturating_sub(u128::from(base_fee)).min(tip);
        // Pending if it extends the executable run (the gap-filling nonce
        // included); queued if a nonce is missing before it.
        let pending = nonce <= pending_end;
        if replaced.is_none() && pending {
            let position = (nonce - state_nonce) as usize;
            if position >= limits.max_pending_per_sender {
                return Err(PoolError::SenderLimit {
                    address: sender,
                    count: position,
                    kind: "pending",
                    limit: limits.max_pending_per_sender,
                    flag: "max-pending-per-sender",
                });
            }
            // Refused at once when nothing cheaper was there at the last look
            // and nothing changed since (a refused one sent again costs no scan).
            if inner.pending >= limits.max_pending
                && inner.cheapest_pending.is_some_and(|(g, bf, t)| {
                    g == inner.generation && bf == base_fee && t >= new_tip
                })
            {
                return Err(PoolError::PoolFull);
            }
        }
        if replaced.is_none() && !pending {
            if acc_queued >= limits.max_queued_per_sender {
                return Err(PoolError::SenderLimit {
                    address: sender,
                    count: acc_queued,
                    kind: "queued",
                    limit: limits.max_queued_per_sender,
                    flag: "max-queued-per-sender",
                });
            }
            if inner.queued >= limits.max_queued {
                let gap = nonce - pending_end;
                let victim = worst_queued(&inner, base_fee)
                    .filter(|v| {
                        (v.gap, std::cmp::Reverse(v.tip)) > (gap, std::cmp::Reverse(new_tip))
                    })
                    .ok_or(PoolError::PoolFull)?;
                inner.take(victim.addr, victim.nonce);
                inner.recount(victim.addr);
                dropped.push((victim.hash, DropReason::Evicted));
            }
        }
        let encoded = journal.then(|| tx.encoded_2718());
        let acc = inner.accounts.entry(sender).or_default();
        acc.state_nonce = acc.state_nonce.max(state_nonce);
        acc.balance = balance;
        acc.txs.insert(nonce, PoolTx { tx, hash, max_fee, tip, cost, added: Instant::now() });
        inner.by_hash.insert(hash, (sender, nonce));
        if let Some(old) = replaced {
            inner.by_hash.remove(&old);
            dropped.push((old, DropReason::Replaced(hash)));
        }
        // A costlier replacement may leave later ones unaffordable.
        dropped.extend(
            inner
                .settle(sender, state_nonce, None)
                .into_iter()
                .filter(|(_, w)| *w != DropReason::Stale),
        );
        inner.recount(sender);
        // A filled gap promotes the queued run after it: the sender's pending
        // run and the pool's pending room are held to their limits by
        // dropping its promoted tail, then the cheapest pending elsewhere.
        if pending && replaced.is_none() {
            let acc = &inner.accounts[&sender];
            if acc.pending > limits.max_pending_per_sender {
                let cut = acc.state_nonce + limits.max_pending_per_sender as u64;
                dropped.extend(inner.drop_from(
                    sender,
                    cut,
                    DropReason::OverLimit("mempool.max-pending-per-sender"),
                ));
            }
            while inner.pending > limits.max_pending {
                let victim = cheapest_pending(&mut inner, (sender, nonce), base_fee);
                match victim {
                    Some((addr, n, t)) if t < new_tip || (addr == sender && n > nonce) => {
                        dropped.extend(inner.drop_from(addr, n, DropReason::Evicted));
                    }
                    _ => {
                        // Nothing cheaper: this one does not get in (those
                        // after it are queued again, as they were).
                        inner.take(sender, nonce);
                        inner.recount(sender);
                        inner.generation += 1;
                        inner.cheapest_pending =
                            cheapest_pending(&mut inner, (Address::ZERO, u64::MAX), base_fee)
                                .map(|(_, _, t)| (inner.generation, base_fee, t));
                        log_drops(self.journal.as_ref(), &dropped);
                        return Err(PoolError::PoolFull);
                    }
                }
            }
        }
        inner.generation += 1;
        if let (Some(j), Some(raw)) = (&self.journal, encoded) {
            j.append(&raw);
        }
        Ok((hash, dropped))
    }

    /// A pooled transaction and its sender.
    pub fn get(&self, hash: &B256) -> Option<(TxEnvelope, Address)> {
        let inner = self.inner.read();
        let (sender, nonce) = inner.by_hash.get(hash)?;
        inner.accounts.get(sender)?.txs.get(nonce).map(|p| (p.tx.clone(), *sender))
    }

    /// The nonce the sender's next transaction should use: the state nonce plus
    /// the gap-free run of pooled transactions after it.
    pub fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        let inner = self.inner.read();
        let mut next = state_nonce;
        if let Some(acc) = inner.accounts.get(&sender) {
            for nonce in acc.txs.range(state_nonce..).map(|(n, _)| *n) {
                if nonce != next {
                    break;
                }
                next = next.saturating_add(1);
            }
        }
        next
    }

    /// Executable transactions, best effective tip first, each sender's in nonce
    /// order, skipping senders whose next transaction cannot pay `base_fee`.
    pub fn best(
        &self,
        base_fee: u64,
        mut nonce_of: impl FnMut(Address) -> u64,
    ) -> Vec<(TxEnvelope, Address)> {
        let inner = self.inner.read();
        // (effective tip, tie-break: lower hash first via Reverse), sender, nonce
        let mut heap: BinaryHeap<(u128, std::cmp::Reverse<B256>, Address, u64)> = BinaryHeap::new();
        for (sender, acc) in &inner.accounts {
            let nonce = nonce_of(*sender);
            if let Some(p) = acc.txs.get(&nonce)
                && let Some(tip) = p.effective_tip(base_fee)
            {
                heap.push((tip, std::cmp::Reverse(p.hash), *sender, nonce));
            }
        }
        let mut out = Vec::new();
        while let Some((_, _, sender, nonce)) = heap.pop() {
            let Some(acc) = inner.accounts.get(&sender) else { continue };
            let Some(p) = acc.txs.get(&nonce) else { continue };
            out.push((p.tx.clone(), sender));
            let next = nonce.saturating_add(1);
            if let Some(n) = acc.txs.get(&next)
                && let Some(tip) = n.effective_tip(base_fee)
            {
                heap.push((tip, std::cmp::Reverse(n.hash), sender, next));
            }
        }
        out
    }

    /// After a block: each touched account's new nonce (and balance, where the
    /// caller has it) drops what was mined and what can no longer pay; the
    /// `rejected` ones (the EVM refused them, with why) leave; queued
    /// transactions past their lifetime expire. Every drop but a mined one is
    /// logged with its reason.
    pub fn on_block(
        &self,
        accounts: impl IntoIterator<Item = (Address, u64, Option<U256>)>,
        rejected: &[(B256, String)],
        mined: &[B256],
    ) {
        let mined: std::collections::HashSet<&B256> = mined.iter().collect();
        let mut dropped = Vec::new();
        {
            let mut inner = self.inner.write();
            for (addr, nonce, balance) in accounts {
                dropped.extend(
                    inner
                        .settle(addr, nonce, balance)
                        .into_iter()
                        .filter(|(h, w)| *w != DropReason::Stale || !mined.contains(h)),
                );
            }
            for (hash, why) in rejected {
                if let Some((addr, nonce)) = inner.by_hash.get(hash).copied() {
                    inner.take(addr, nonce);
                    inner.recount(addr);
                    dropped.push((*hash, DropReason::Rejected(why.clone())));
                }
            }
            dropped.extend(self.expire(&mut inner, Instant::now()));
        }
        log_drops(self.journal.as_ref(), &dropped);
        if let Some(j) = &self.journal
            && j.wants_compaction(self.inner.read().by_hash.len())
        {
            self.compact(j);
        }
    }

    /// Rewrites the journal with the pooled transactions. The pool stays
    /// locked meanwhile: an add between reading the pool and replacing the
    /// file would be lost.
    fn compact(&self, j: &Journal) {
        let inner = self.inner.read();
        let live: Vec<Vec<u8>> = inner
            .accounts
            .values()
            .flat_map(|a| a.txs.values())
            .map(|p| p.tx.encoded_2718())
            .collect();
        j.rewrite(&live);
    }

    /// Drops queued transactions older than the lifetime.
    fn expire(&self, inner: &mut Inner, now: Instant) -> Vec<(B256, DropReason)> {
        let life = self.cfg.limits.queued_lifetime;
        let old: Vec<(Address, u64, B256)> = inner
            .accounts
            .iter()
            .flat_map(|(a, acc)| {
                acc.txs
                    .range(acc.pending_end()..)
                    .filter(|(_, p)| now.saturating_duration_since(p.added) >= life)
                    .map(|(n, p)| (*a, *n, p.hash))
            })
            .collect();
        let mut dropped = Vec::with_capacity(old.len());
        for (addr, nonce, hash) in old {
            inner.take(addr, nonce);
            inner.recount(addr);
            dropped.push((hash, DropReason::Expired));
        }
        dropped
    }

    /// Drops expired queued transactions now (the sequencer also does it after
    /// each block).
    pub fn expire_now(&self) {
        let dropped = self.expire(&mut self.inner.write(), Instant::now());
        log_drops(self.journal.as_ref(), &dropped);
    }

    /// Brings back the journal's transactions after a restart: each is
    /// validated again against `account` (nonce, balance) and `base_fee`;
    /// those no longer valid are dropped with a log line. Then the journal is
    /// rewritten with what was kept. Returns (kept, dropped).
    pub fn reload(
        &self,
        mut account: impl FnMut(Address) -> (u64, U256),
        base_fee: u64,
    ) -> (usize, usize) {
        use alloy::consensus::transaction::SignerRecoverable;
        let Some(j) = &self.journal else { return (0, 0) };
        // Replay in order: what was removed stays removed.
        let mut live: Vec<(B256, Vec<u8>)> = Vec::new();
        for rec in j.read_all() {
            match rec {
                Record::Added(raw) => live.push((alloy::primitives::keccak256(&raw), raw)),
                Record::Removed(h) => live.retain(|(x, _)| *x != h),
            }
        }
        let mut txs: Vec<(TxEnvelope, Address)> = Vec::new();
        let mut invalid = 0usize;
        for (_, raw) in live {
            match crate::decode_raw(&raw).and_then(|tx| {
                let s = tx.recover_signer().map_err(|e| e.to_string())?;
                Ok((tx, s))
            }) {
                Ok(t) => txs.push(t),
                Err(e) => {
                    invalid += 1;
                    tracing::warn!(target: "mempool", "journal entry dropped: {e}");
                }
            }
        }
        // Of one sender's transactions with one nonce, the last accepted
        // (a replacement, or one sent after the first left); then per sender
        // in nonce order, so each one's pending run rebuilds.
        let mut last: HashMap<(Address, u64), usize> = HashMap::new();
        for (i, (tx, s)) in txs.iter().enumerate() {
            last.insert((*s, tx.nonce()), i);
        }
        let mut txs: Vec<(TxEnvelope, Address)> = txs
            .into_iter()
            .enumerate()
            .filter(|(i, (tx, s))| last.get(&(*s, tx.nonce())) == Some(i))
            .map(|(_, t)| t)
            .collect();
        txs.sort_by_key(|(tx, s)| (*s, tx.nonce()));
        let mut kept = 0usize;
        let mut dropped = Vec::new();
        for (tx, sender) in txs {
            let hash = *tx.tx_hash();
            let (nonce, balance) = account(sender);
            match self.insert(tx, sender, nonce, balance, base_fee, false) {
                Ok((_, d)) => {
                    kept += 1;
                    dropped.extend(d);
                }
                Err(PoolError::AlreadyKnown) => {}
                Err(PoolError::NonceTooLow { .. }) => {} // mined before the restart
                Err(e) => dropped.push((hash, DropReason::Invalid(e.to_string()))),
            }
        }
        log_drops(self.journal.as_ref(), &dropped);
        self.compact(j);
        (kept, dropped.len() + invalid)
    }

    pub fn stats(&self) -> PoolStats {
        let inner = self.inner.read();
        PoolStats {
            total: inner.by_hash.len(),
            pending: inner.pending,
            queued: inner.queued,
            senders: inner.accounts.len(),
        }
    }
}

/// The pending transaction with the lowest effective tip (sender, nonce,
/// tip), `except` left out; ties go to the highest nonce. Remembered in
/// `cheapest_pending` for the refusal without a scan.
fn cheapest_pending(
    inner: &mut Inner,
    except: (Address, u64),
    base_fee: u64,
) -> Option<(Address, u64, u128)> {
    let found = inner
        .accounts
        .iter()
        .flat_map(|(a, acc)| {
            acc.txs
                .range(acc.state_nonce..acc.pending_end())
                .filter(move |(n, _)| (*a, **n) != except)
                .map(move |(n, p)| (*a, *n, p.effective_tip(base_fee).unwrap_or_default()))
        })
        .min_by_key(|(_, n, t)| (*t, std::cmp::Reverse(*n)));
    if let Some((_, _, t)) = found {
        inner.cheapest_pending = Some((inner.generation, base_fee, t));
    }
    found
}

struct QueuedVictim {
    addr: Address,
    nonce: u64,
    hash: B256,
    /// How far it is from executable (nonces missing before it).
    gap: u64,
    tip: u128,
}

/// The queued transaction to evict first: furthest from executable, then
/// the lowest effective tip.
fn worst_queued(inner: &Inner, base_fee: u64) -> Option<QueuedVictim> {
    inner
        .accounts
        .iter()
        .filter(|(_, acc)| acc.queued() > 0)
        .filter_map(|(a, acc)| {
            let (n, p) = acc.txs.iter().next_back()?;
            Some(QueuedVictim {
                addr: *a,
                nonce: *n,
                hash: p.hash,
                gap: n - acc.pending_end(),
                tip: p.effective_tip(base_fee).unwrap_or_default(),
            })
        })
        .max_by_key(|v| (v.gap, std::cmp::Reverse(v.tip)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxEip7702, TxLegacy},
        network::TxSignerSync,
        primitives::{Bytes, TxKind},
        signers::local::PrivateKeySigner,
    };

    const CHAIN: u64 = 5;

    fn signer(i: u16) -> PrivateKeySigner {
        let mut b = [1u8; 32];
        b[30..].copy_from_slice(&i.to_be_bytes());
        PrivateKeySigner::from_bytes(&B256::from(b)).unwrap()
    }

    fn tx(s: &PrivateKeySigner, nonce: u64, max_fee: u128, tip: u128) -> TxEnvelope {
        let mut t = TxEip1559 {
            chain_id: CHAIN,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::repeat_byte(9)),
            value: U256::from(1),
            ..Default::default()
        };
        let sig = s.sign_transaction_sync(&mut t).unwrap();
        t.into_signed(sig).into()
    }

    fn limits(pending: usize, queued: usize, per_pending: usize, per_queued: usize) -> PoolLimits {
        PoolLimits {
            max_pending: pending,
            max_queued: queued,
            max_pending_per_sender: per_pending,
            max_queued_per_sender: per_queued,
            queued_lifetime: Duration::from_secs(3600),
        }
    }

    fn pool_with(l: PoolLimits) -> Mempool {
        Mempool::new(PoolConfig { chain_id: CHAIN, limits: l, ..Default::default() })
    }

    fn pool() -> Mempool {
        pool_with(limits(6, 6, 4, 4))
    }

    const RICH: U256 = U256::from_limbs([0, 0, 1, 0]);

    #[test]
    fn standard_rejections() {
        let p = pool();
        let s = signer(1);
        let a = s.address();
        let err = |r: Result<B256, PoolError>| r.unwrap_err().to_string();
        assert!(err(p.add(tx(&s, 0, 10, 1), a, 1, RICH, 1)).starts_with("nonce too low"));
        assert!(
            err(p.add(tx(&s, 0, 10, 1), a, 0, U256::from(5), 1))
                .starts_with("insufficient funds for gas * price + value")
        );
        assert!(
            err(p.add(tx(&s, 0, 10, 1), a, 0, RICH, 11))
                .starts_with("max fee per gas less than block base fee")
        );
        assert_eq!(
            err(p.add(tx(&s, 0, 10, 11), a, 0, RICH, 1)),
            "max priority fee per gas higher than max fee per gas"
        );
        let mut low = TxEip1559 {
            chain_id: CHAIN,
            gas_limit: 20_000,
            max_fee_per_gas: 10,
            to: TxKind::Call(a),
            ..Default::default()
        };
        let sig = s.sign_transaction_sync(&mut low).unwrap();
        assert!(
            err(p.add(low.into_signed(sig).into(), a, 0, RICH, 1))
                .starts_with("intrinsic gas too low")
        );
        let mut legacy = TxLegacy {
            chain_id: None,
            gas_limit: 21_000,
            gas_price: 10,
            to: TxKind::Call(a),
            ..Default::default()
        };
        let sig = s.sign_transaction_sync(&mut legacy).unwrap();
        assert!(
            err(p.add(legacy.into_signed(sig).into(), a, 0, RICH, 1)).contains("replay-protected")
        );
        let mut wrong = TxEip1559 {
            chain_id: CHAIN + 1,
            gas_limit: 21_000,
            max_fee_per_gas: 10,
            to: TxKind::Call(a),
            ..Default::default()
        };
        let sig = s.sign_transaction_sync(&mut wrong).unwrap();
        assert!(
            err(p.add(wrong.into_signed(sig).into(), a, 0, RICH, 1))
                .starts_with("invalid chain id")
        );

        p.add(tx(&s, 0, 10, 1), a, 0, RICH, 1).unwrap();
        assert_eq!(err(p.add(tx(&s, 0, 10, 1), a, 0, RICH, 1)), "transaction already known");
        // +10% on both fee fields is required to replace
        assert_eq!(
            err(p.add(tx(&s, 0, 10, 2), a, 0, RICH, 1)),
            "replacement transaction underpriced"
        );
        let h = p.add(tx(&s, 0, 11, 2), a, 0, RICH, 1).unwrap();
        assert_eq!(p.stats().total, 1);
        assert!(p.get(&h).is_some());
    }

    /// The EIPs' admission rules: EIP-2681's nonce ceiling, EIP-7702's
    /// non-empty authorization list, EIP-3860's init code limit.
    #[test]
    fn eip_admission_rules() {
        let p = pool();
        let s = signer(1);
        let a = s.address();
        assert_eq!(
            p.add(tx(&s, u64::MAX, 10, 1), a, 0, RICH, 1),
            Err(PoolError::NonceMax { address: a, nonce: u64::MAX })
        );
        // 2^64-2 is a valid (queued) nonce
        p.add(tx(&s, u64::MAX - 1, 10, 1), a, 0, RICH, 1).unwrap();

        let mut t = TxEip7702 {
            chain_id: CHAIN,
            gas_limit: 100_000,
            max_fee_per_gas: 10,
            to: Address::repeat_byte(7),
            ..Default::default()
        };
        let sig = s.sign_transaction_sync(&mut t).unwrap();
        let setcode: TxEnvelope = t.into_signed(sig).into();
        assert_eq!(p.add(setcode, a, 0, RICH, 1), Err(PoolError::EmptyAuthList));
        assert_eq!(
            PoolError::EmptyAuthList.to_string(),
            "EIP-7702 transaction with empty auth list"
        );

        let mut create = TxEip1559 {
            chain_id: CHAIN,
            gas_limit: 10_000_000,
            max_fee_per_gas: 10,
            to: TxKind::Create,
            input: Bytes::from(vec![0u8; MAX_INITCODE_BYTES + 1]),
            ..Default::default()
        };
        let sig = s.sign_transaction_sync(&mut create).unwrap();
        assert!(matches!(
            p.add(create.into_signed(sig).into(), a, 0, RICH, 1),
            Err(PoolError::InitcodeTooLarge { .. })
        ));
    }

    #[test]
    fn nonce_gaps_are_queued_and_ordered() {
        let p = pool();
        let (s1, s2) = (signer(1), signer(2));
        p.add(tx(&s1, 0, 100, 1), s1.address(), 0, RICH, 1).unwrap();
        p.add(tx(&s1, 2, 100, 50), s1.address(), 0, RICH, 1).unwrap(); // gap at 1
        p.add(tx(&s2, 0, 100, 5), s2.address(), 0, RICH, 1).unwrap();
        p.add(tx(&s2, 1, 100, 4), s2.address(), 0, RICH, 1).unwrap();
        assert_eq!(p.pending_nonce(s1.address(), 0), 1);
        assert_eq!(p.pending_nonce(s2.address(), 0), 2);
        let st = p.stats();
        assert_eq!((st.pending, st.queued), (3, 1));
        let best: Vec<_> = p.best(1, |_| 0).into_iter().map(|(t, a)| (a, t.nonce())).collect();
        assert_eq!(best, vec![(s2.address(), 0), (s2.address(), 1), (s1.address(), 0)]);
        // filling the gap makes nonce 2 executable
        p.add(tx(&s1, 1, 100, 1), s1.address(), 0, RICH, 1).unwrap();
        assert_eq!(p.pending_nonce(s1.address(), 0), 3);
        let st = p.stats();
        assert_eq!((st.pending, st.queued), (5, 0));
        p.on_block([(s1.address(), 2, None), (s2.address(), 2, None)], &[], &[]);
        assert_eq!(p.stats().total, 1);
        let best: Vec<_> = p.best(1, |_| 2).into_iter().map(|(t, _)| t.nonce()).collect();
        assert_eq!(best, vec![2]);
    }

    /// The attack of the issue, scaled down: many cheap senders fill the pool
    /// with transactions behind a nonce gap. They take only the queued room;
    /// an executable transaction of a funded sender still gets in, and so
    /// does every gap sender's own missing nonce.
    #[test]
    fn gap_senders_cannot_lock_out_executable_transactions() {
        let p = pool_with(limits(8, 16, 4, 4));
        let cheap = U256::from(21_000u64 * 10 * 8); // covers 8 transactions
        let attackers: Vec<_> = (100..120).map(signer).collect();
        let mut refused = 0;
        for s in &attackers {
            for n in 1..=8 {
                match p.add(tx(s, n, 10, 1), s.address(), 0, cheap, 1) {
                    Ok(_) => {}
                    Err(PoolError::SenderLimit { kind: "queued", .. } | PoolError::PoolFull) => {
                        refused += 1
                    }
                    Err(e) => panic!("unexpected refusal: {e}"),
                }
            }
        }
        let st = p.stats();
        assert_eq!((st.pending, st.queued), (0, 16), "queued room only");
        assert!(refused > 0);
        // Honest senders: executable transactions are accepted until the
        // pending room is full, whatever the queued room holds.
        for i in 0..8u16 {
            let s = signer(i + 1);
            p.add(tx(&s, 0, 10, 1), s.address(), 0, RICH, 1).unwrap();
        }
        // A gap sender's missing nonce is pending (it fills the gap): admitted
        // against a full pending room when it pays more than the cheapest.
        let a = &attackers[0];
        p.add(tx(a, 0, 10, 2), a.address(), 0, cheap, 1).unwrap();
        assert_eq!(p.pending_nonce(a.address(), 0), 1);
        // Its queued ones it promoted did not push the pending room over.
        assert_eq!(p.stats().pending, 8);
        // At the going fee against a full pending room: refused, never
        // evicting an equal one.
        let late = signer(50);
        assert_eq!(
            p.add(tx(&late, 0, 10, 1), late.address(), 0, RICH, 1),
            Err(PoolError::PoolFull)
        );
        // Paying more evicts the lowest-tip pending transaction.
        p.add(tx(&late, 0, 10, 3), late.address(), 0, RICH, 1).unwrap();
    }

    /// A sender at its queued limit can always send the nonce that fills its
    /// gap (before: `account limit exceeded`, so none of its transactions
    /// could ever run).
    #[test]
    fn the_gap_filling_nonce_is_always_admissible() {
        let p = pool_with(limits(100, 100, 8, 4));
        let s = signer(1);
        for n in 1..=4 {
            p.add(tx(&s, n, 10, 1), s.address(), 0, RICH, 1).unwrap();
        }
        assert!(matches!(
            p.add(tx(&s, 5, 10, 1), s.address(), 0, RICH, 1),
            Err(PoolError::SenderLimit { kind: "queued", .. })
        ));
        p.add(tx(&s, 0, 10, 1), s.address(), 0, RICH, 1).unwrap();
        assert_eq!(p.pending_nonce(s.address(), 0), 5);
        assert_eq!(p.best(1, |_| 0).len(), 5);
    }

    /// A sender's transactions are admitted only while its balance covers
    /// their total worst-case cost (before: each one alone was checked, so a
    /// 0.01 ETH account queued 0.54 ETH of transactions).
    #[test]
    fn the_balance_covers_the_cumulative_cost() {
        let p = pool_with(limits(100, 100, 64, 64));
        let s = signer(1);
        let a = s.address();
        let one = U256::from(21_000u64 * 10 + 1);
        let balance = one * U256::from(3);
        for n in 0..3 {
            p.add(tx(&s, n, 10, 1), a, 0, balance, 1).unwrap();
        }
        let e = p.add(tx(&s, 3, 10, 1), a, 0, balance, 1).unwrap_err();
        assert_eq!(
            e,
            PoolError::InsufficientFunds { address: a, have: balance, want: one * U256::from(4) }
        );
        assert!(e.to_string().starts_with("insufficient funds for gas * price + value"));
        // Queued ones count too.
        let e = p.add(tx(&s, 9, 10, 1), a, 0, balance, 1).unwrap_err();
        assert!(matches!(e, PoolError::InsufficientFunds { .. }));
        // A costlier replacement of nonce 0 drops what no longer fits after it.
        let mut big = TxEip1559 {
            chain_id: CHAIN,
            nonce: 0,
            gas_limit: 21_000,
            max_fee_per_gas: 20,
            max_priority_fee_per_gas: 2,
            to: TxKind::Call(Address::repeat_byte(9)),
            value: U256::from(1),
            ..Default::default()
        };
        let sig = s.sign_transaction_sync(&mut big).unwrap();
        p.add(big.into_signed(sig).into(), a, 0, balance, 1).unwrap();
        assert_eq!(p.stats().total, 2, "nonce 2 no longer affordable");
        // A block that spends the balance drops what it cannot pay any more.
        p.on_block([(a, 1, Some(one / U256::from(2)))], &[], &[]);
        assert_eq!(p.stats().total, 0);
    }

    #[test]
    fn queued_transactions_expire_pending_ones_do_not() {
        let mut l = limits(100, 100, 64, 64);
        l.queued_lifetime = Duration::ZERO;
        let p = pool_with(l);
        let s = signer(1);
        p.add(tx(&s, 0, 10, 1), s.address(), 0, RICH, 1).unwrap();
        p.add(tx(&s, 5, 10, 1), s.address(), 0, RICH, 1).unwrap();
        p.on_block(std::iter::empty(), &[], &[]);
        let st = p.stats();
        assert_eq!((st.pending, st.queued), (1, 0));
    }

    /// Filling a gap promotes the queued run behind it, but neither past the
    /// sender's pending limit nor past the pool's pending room (the review's
    /// unbounded-pending attack: queue 64, fill the gap, repeat).
    #[test]
    fn promotion_keeps_the_pending_limits() {
        let p = pool_with(limits(6, 100, 4, 8));
        let s = signer(1);
        for n in 1..=8 {
            p.add(tx(&s, n, 10, 1), s.address(), 0, RICH, 1).unwrap();
        }
        p.add(tx(&s, 0, 10, 1), s.address(), 0, RICH, 1).unwrap();
        let st = p.stats();
        assert_eq!((st.pending, st.queued), (4, 0), "cut at the per-sender limit");
        for i in 2..=4u16 {
            let t = signer(i);
            for n in 1..=3 {
                p.add(tx(&t, n, 10, 1), t.address(), 0, RICH, 1).unwrap();
            }
            let _ = p.add(tx(&t, 0, 10, 5), t.address(), 0, RICH, 1);
            assert!(p.stats().pending <= 6, "{:?}", p.stats());
        }
    }

    /// The cheapest pending transaction anywhere is evicted for a better one,
    /// not only the last of each run (a cheap run with a dear last one
    /// cannot hold the room); its sender's later ones go with it.
    #[test]
    fn the_cheapest_pending_anywhere_is_evicted() {
        let p = pool_with(limits(4, 100, 4, 4));
        let s = signer(1);
        p.add(tx(&s, 0, 10, 1), s.address(), 0, RICH, 1).unwrap();
        for n in 1..3 {
            p.add(tx(&s, n, 10, 1), s.address(), 0, RICH, 1).unwrap();
        }
        p.add(tx(&s, 3, 100, 90), s.address(), 0, RICH, 1).unwrap();
        let honest = signer(2);
        p.add(tx(&honest, 0, 10, 2), honest.address(), 0, RICH, 1).unwrap();
        // Its cheap nonce 2 (the highest of the cheapest) and the dear one
        // after it left.
        assert_eq!(p.pending_nonce(s.address(), 0), 2);
        assert_eq!(p.stats().pending, 3);
        p.add(tx(&honest, 1, 10, 2), honest.address(), 0, RICH, 1).unwrap();
        // The same refused transaction again costs no scan, and is refused.
        let late = signer(3);
        for _ in 0..3 {
            assert_eq!(
                p.add(tx(&late, 0, 10, 1), late.address(), 0, RICH, 1),
                Err(PoolError::PoolFull)
            );
        }
    }

    #[test]
    fn per_sender_pending_limit() {
        let p = pool();
        let s = signer(3);
        for n in 0..4 {
            p.add(tx(&s, n, 10, 1), s.address(), 0, RICH, 1).unwrap();
        }
        let e = p.add(tx(&s, 4, 10, 1), s.address(), 0, RICH, 1).unwrap_err();
        assert!(matches!(e, PoolError::SenderLimit { kind: "pending", .. }));
        assert!(e.to_string().contains("mempool.max-pending-per-sender"), "{e}");
    }

    #[test]
    fn rejected_transactions_leave_the_pool() {
        let p = pool();
        let s = signer(1);
        let h = p.add(tx(&s, 0, 10, 1), s.address(), 0, RICH, 1).unwrap();
        p.on_block(std::iter::empty(), &[(h, "out of gas".into())], &[]);
        assert!(p.get(&h).is_none());
        assert_eq!(p.stats(), PoolStats::default());
    }

    /// Accepted transactions come back from the journal after a restart; a
    /// torn last record (a kill during the write) is skipped; transactions
    /// mined meanwhile are not brought back.
    #[test]
    fn the_journal_brings_pooled_transactions_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("txpool.journal");
        let cfg = PoolConfig { chain_id: CHAIN, ..Default::default() };
        let (s1, s2) = (signer(1), signer(2));
        let hashes: Vec<B256> = {
            let p = Mempool::with_journal(cfg.clone(), Journal::open(&path).unwrap());
            let mut h = Vec::new();
            for n in 0..3 {
                h.push(p.add(tx(&s1, n, 10, 1), s1.address(), 0, RICH, 1).unwrap());
            }
            h.push(p.add(tx(&s2, 4, 10, 1), s2.address(), 0, RICH, 1).unwrap());
            h
        };
        // a torn record at the end
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&[0, 0, 0, 90, 1, 2])
            .unwrap();
        let p = Mempool::with_journal(cfg.clone(), Journal::open(&path).unwrap());
        // s1's nonce 0 was mined before the restart
        let (kept, dropped) =
            p.reload(|a| if a == s1.address() { (1, RICH) } else { (0, RICH) }, 1);
        assert_eq!((kept, dropped), (3, 0));
        assert!(p.get(&hashes[0]).is_none());
        for h in &hashes[1..] {
            assert!(p.get(h).is_some());
        }
        // the rewritten journal holds exactly those
        let again = Mempool::with_journal(cfg.clone(), Journal::open(&path).unwrap());
        assert_eq!(again.reload(|_| (0, RICH), 1), (3, 0));
        // A replaced transaction and a rejected one stay gone after a restart;
        // the replacement comes back.
        let s3 = signer(3);
        let replacement = {
            let p = Mempool::with_journal(cfg.clone(), Journal::open(&path).unwrap());
            let first = p.add(tx(&s3, 0, 10, 1), s3.address(), 0, RICH, 1).unwrap();
            let second = p.add(tx(&s3, 0, 20, 2), s3.address(), 0, RICH, 1).unwrap();
            let refused = p.add(tx(&s3, 1, 10, 1), s3.address(), 0, RICH, 1).unwrap();
            p.on_block(std::iter::empty(), &[(refused, "out of gas".into())], &[]);
            assert!(p.get(&first).is_none());
            second
        };
        let p = Mempool::with_journal(cfg, Journal::open(&path).unwrap());
        p.reload(|_| (0, RICH), 1);
        assert!(p.get(&replacement).is_some());
        assert_eq!(p.pending_nonce(s3.address(), 0), 1, "the refused nonce 1 did not come back");
    }

    use std::io::Write as _;
}
