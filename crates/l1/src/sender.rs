//! The L1 transaction sender: one key, its own nonce, fee bumping and
//! resubmission until a transaction is mined.

use alloy::{
    consensus::{
        BlobTransactionSidecar, SignableTransaction, TxEip1559, TxEip4844, TxEip4844Variant,
        TxEip4844WithSidecar, TxEnvelope,
    },
    eips::{Encodable2718, eip4844::DATA_GAS_PER_BLOB},
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
};
use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};
use tokio::sync::{Mutex, MutexGuard, Notify};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The call reverts at the current L1 state: nothing was sent, no nonce used.
    #[error("L1 call would revert: {0}")]
    WouldRevert(String),
    /// It was mined and reverted (the state changed between estimate and inclusion).
    #[error("L1 transaction {hash} reverted in block {block}")]
    Reverted { hash: B256, block: u64 },
    #[error(
        "L1 transaction with nonce {nonce} cannot be mined: L1 counts only {on_l1} transactions of this key (an L1 reorg removed one); it is retried from L1 state"
    )]
    NonceGap { nonce: u64, on_l1: u64 },
    #[error("L1 transaction with nonce {nonce} not mined after {attempts} attempts")]
    NotMined { nonce: u64, attempts: u32 },
    #[error("L1 RPC: {0}")]
    Rpc(String),
    #[error("signing: {0}")]
    Sign(String),
}

/// A revert from `eth_estimateGas` in words: the rollup's or bridge's custom
/// error by name when the data is one (`WrongFirstBlock(8, 1)`), else the node's
/// message.
fn revert_reason(e: &alloy::transports::TransportError) -> String {
    use crate::bindings::{
        BatchVerifierBn254::BatchVerifierBn254Errors, Bridge::BridgeErrors,
        FaultGame::FaultGameErrors, PreimageOracle::PreimageOracleErrors, Rollup::RollupErrors,
    };
    if let Some(payload) = e.as_error_resp() {
        // Both verifiers share their errors (BatchVerifier's).
        if let Some(err) = payload.as_decoded_interface_error::<BatchVerifierBn254Errors>() {
            return format!("BatchVerifier reverts with {err:?}");
        }
        if let Some(err) = payload.as_decoded_interface_error::<RollupErrors>() {
            return format!("Rollup reverts with {err:?}");
        }
        if let Some(err) = payload.as_decoded_interface_error::<BridgeErrors>() {
            return format!("Bridge reverts with {err:?}");
        }
        if let Some(err) = payload.as_decoded_interface_error::<FaultGameErrors>() {
            return format!("FaultGame reverts with {err:?}");
        }
        if let Some(err) = payload.as_decoded_interface_error::<PreimageOracleErrors>() {
            return format!("PreimageOracle reverts with {err:?}");
        }
    }
    e.to_string()
}

fn rpc(e: impl std::fmt::Display) -> SendError {
    SendError::Rpc(e.to_string())
}

/// How the sender prices and retries.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Resubmit with higher fees when not mined after this long.
    pub resubmit_after: Duration,
    /// Percent added to every fee on a resubmission (at least 10: nodes refuse
    /// smaller replacement bumps). Blob transactions double their fees instead,
    /// as blob pools require.
    pub fee_bump_percent: u64,
    /// Give up after this many submissions of one transaction.
    pub max_attempts: u32,
    /// How often to look for the receipt.
    pub poll: Duration,
    /// The most this sender pays per gas (`maxFeePerGas`), bumps included; `None`:
    /// no cap. While the L1 base fee is above it the transaction waits in the pool
    /// (and the sender logs a warning) instead of paying more.
    pub max_fee_per_gas: Option<u128>,
    /// The most it pays per blob gas (`maxFeePerBlobGas`); `None`: no cap.
    pub max_fee_per_blob_gas: Option<u128>,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            resubmit_after: Duration::from_secs(24),
            fee_bump_percent: 15,
            max_attempts: 10,
            poll: Duration::from_millis(500),
            max_fee_per_gas: None,
            max_fee_per_blob_gas: None,
        }
    }
}

/// A transaction to send.
#[derive(Debug, Clone)]
pub struct L1Tx {
    pub to: TxKind,
    pub input: Bytes,
    pub value: U256,
    /// EIP-4844 blobs (makes it a type-3 transaction; `to` must be a call).
    pub sidecar: Option<BlobTransactionSidecar>,
}

impl L1Tx {
    pub fn call(to: Address, input: Bytes) -> Self {
        Self { to: TxKind::Call(to), input, value: U256::ZERO, sidecar: None }
    }

    pub fn create(code: Bytes) -> Self {
        Self { to: TxKind::Create, input: code, value: U256::ZERO, sidecar: None }
    }
}

/// Fees of one submission.
#[derive(Debug, Clone, Copy)]
struct Fees {
    max_fee: u128,
    tip: u128,
    blob_fee: u128,
}

impl Fees {
    fn bumped(self, percent: u64) -> Self {
        let up = |v: u128| v.saturating_mul(100 + u128::from(percent)).div_ceil(100).max(v + 1);
        Self { max_fee: up(self.max_fee), tip: up(self.tip), blob_fee: up(self.blob_fee) }
    }

    /// These fees held to the caps (the tip never above the max fee); whether a
    /// cap bit.
    fn capped(self, max_fee: Option<u128>, blob_fee: Option<u128>) -> (Self, bool) {
        let max_fee_c = max_fee.map_or(self.max_fee, |c| self.max_fee.min(c));
        let blob_fee_c = blob_fee.map_or(self.blob_fee, |c| self.blob_fee.min(c));
        let capped =
            Self { max_fee: max_fee_c, tip: self.tip.min(max_fee_c), blob_fee: blob_fee_c };
        let bit = capped.max_fee != self.max_fee || capped.blob_fee != self.blob_fee;
        (capped, bit)
    }
}

/// Sends transactions from one key, one at a time, in nonce order; urgent
/// ones ([`TxSender::send_urgent`]: moves in a fault game, which run on a
/// clock) before any other still waiting its turn.
#[derive(Debug)]
pub struct TxSender {
    provider: DynProvider,
    signer: PrivateKeySigner,
    chain_id: u64,
    config: SenderConfig,
    /// The next nonce to use; `None` until read from L1. Held while one
    /// transaction is sent and mined.
    nonce: Mutex<Option<u64>>,
    /// Urgent transactions waiting for the nonce; others wait while any is.
    urgent: AtomicUsize,
    /// Notified when the last urgent one waiting takes its turn.
    urgent_done: Notify,
}

impl TxSender {
    pub async fn new(
        provider: DynProvider,
        signer: PrivateKeySigner,
        config: SenderConfig,
    ) -> Result<Self, SendError> {
        let chain_id = provider.get_chain_id().await.map_err(rpc)?;
        Ok(Self {
            provider,
            signer,
            chain_id,
            config,
            nonce: Mutex::new(None),
            urgent: AtomicUsize::new(0),
            urgent_done: Notify::new(),
        })
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Waits until no transaction of this key is pending on L1 (one sent before a
    /// restart is mined or dropped), up to `timeout`. Returns whether it settled.
    pub async fn wait_idle(&self, timeout: Duration) -> Result<bool, SendError> {
        let started = Instant::now();
        loop {
            let pending =
                self.provider.get_transaction_count(self.address()).pending().await.map_err(rpc)?;
            let latest =
                self.provider.get_transaction_count(self.address()).latest().await.map_err(rpc)?;
            if pending <= latest {
                *self.nonce.lock().await = Some(latest);
                return Ok(true);
            }
            if started.elapsed() >= timeout {
                return Ok(false);
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    /// Simulates `tx` at the latest L1 state.
    pub async fn simulate(&self, tx: &L1Tx) -> Result<u64, SendError> {
        let mut req = TransactionRequest::default()
            .from(self.address())
            .input(tx.input.clone().into())
            .value(tx.value);
        req.to = Some(tx.to);
        if let Some(sidecar) = &tx.sidecar {
            req.blob_versioned_hashes = Some(sidecar.versioned_hashes().collect());
            req.max_fee_per_blob_gas =
                Some(self.provider.get_blob_base_fee().await.map_err(rpc)?.max(1) * 2);
            req.sidecar = Some(sidecar.clone().into());
        }
        self.provider.estimate_gas(req).await.map_err(|e| SendError::WouldRevert(revert_reason(&e)))
    }

    fn capped(&self, fees: Fees) -> Fees {
        let (capped, bit) =
            fees.capped(self.config.max_fee_per_gas, self.config.max_fee_per_blob_gas);
        if bit {
            tracing::warn!(
                target: "l1",
                wanted_max_fee = fees.max_fee,
                wanted_blob_fee = fees.blob_fee,
                max_fee = capped.max_fee,
                blob_fee = capped.blob_fee,
                "L1 fees are above the configured cap: the transaction waits at the cap"
            );
        }
        capped
    }

    async fn fees(&self, blob: bool) -> Result<Fees, SendError> {
        let est = self.provider.estimate_eip1559_fees().await.map_err(rpc)?;
        let blob_fee = if blob {
            self.provider.get_blob_base_fee().await.map_err(rpc)?.max(1).saturating_mul(2)
        } else {
            0
        };
        let tip = est.max_priority_fee_per_gas.max(1);
        Ok(Fees { max_fee: est.max_fee_per_gas.max(tip), tip, blob_fee })
    }

    /// The raw (network form, with any sidecar) transaction and its hash (which
    /// never covers the sidecar).
    fn sign(
        &self,
        tx: &L1Tx,
        nonce: u64,
        gas: u64,
        fees: Fees,
    ) -> Result<(Vec<u8>, B256), SendError> {
        let sign_err = |e: alloy::signers::Error| SendError::Sign(e.to_string());
        match (&tx.sidecar, tx.to) {
            (Some(sidecar), TxKind::Call(to)) => {
                let mut inner = TxEip4844 {
                    chain_id: self.chain_id,
                    nonce,
                    gas_limit: gas,
                    max_fee_per_gas: fees.max_fee,
                    max_priority_fee_per_gas: fees.tip,
                    to,
                    value: tx.value,
                    access_list: Default::default(),
                    blob_versioned_hashes: sidecar.versioned_hashes().collect(),
                    max_fee_per_blob_gas: fees.blob_fee,
                    input: tx.input.clone(),
                };
                let sig = self.signer.sign_transaction_sync(&mut inner).map_err(sign_err)?;
                let with_sidecar =
                    TxEip4844WithSidecar::from_tx_and_sidecar(inner, sidecar.clone());
                let signed = TxEip4844Variant::TxEip4844WithSidecar(with_sidecar).into_signed(sig);
                let env = TxEnvelope::from(signed);
                Ok((env.encoded_2718(), *env.tx_hash()))
            }
            (Some(_), TxKind::Create) => {
                Err(SendError::Sign("a blob transaction cannot create a contract".into()))
            }
            (None, to) => {
                let mut inner = TxEip1559 {
                    chain_id: self.chain_id,
                    nonce,
                    gas_limit: gas,
                    max_fee_per_gas: fees.max_fee,
                    max_priority_fee_per_gas: fees.tip,
                    to,
                    value: tx.value,
                    access_list: Default::default(),
                    input: tx.input.clone(),
                };
                let sig = self.signer.sign_transaction_sync(&mut inner).map_err(sign_err)?;
                let env = TxEnvelope::from(inner.into_signed(sig));
                Ok((env.encoded_2718(), *env.tx_hash()))
            }
        }
    }

    /// The nonce, in turn: an urgent sender's turn comes before any other's
    /// still waiting (the one being mined finishes first: one nonce at a time).
    async fn turn(&self, urgent: bool) -> MutexGuard<'_, Option<u64>> {
        if urgent {
            // Counted while it waits, however the wait ends (a send dropped
            // while waiting must not hold the others back for good).
            let _waiting = UrgentWaiting::new(self);
            return self.nonce.lock().await;
        }
        loop {
            // Registered before the check, so a notification between the two
            // is not lost.
            let done = self.urgent_done.notified();
            if self.urgent.load(Ordering::SeqCst) == 0 {
                let slot = self.nonce.lock().await;
                if self.urgent.load(Ordering::SeqCst) == 0 {
                    return slot;
                }
                // An urgent one came while this waited in the queue: after it.
            }
            done.await;
        }
    }

    /// Sends `tx` and waits until it is mined: simulates first (a revert costs
    /// nothing), then submits, resubmitting with bumped fees (same nonce) while it
    /// is not mined. Returns the receipt of whichever submission was mined.
    pub async fn send(&self, tx: L1Tx) -> Result<TransactionReceipt, SendError> {
        self.send_in_turn(tx, false).await
    }

    /// [`TxSender::send`], before every other transaction still waiting its
    /// turn: for moves in a fault game, which run on a clock while the
    /// batcher posts and finalizes from the same key.
    pub async fn send_urgent(&self, tx: L1Tx) -> Result<TransactionReceipt, SendError> {
        self.send_in_turn(tx, true).await
    }

    /// Several urgent transactions at once, pipelined: each is simulated (one
    /// that would revert is not sent and uses no nonce), then they are signed
    /// with consecutive nonces and submitted in that order without waiting for
    /// one another, so they can all land in the next L1 block. Moves in a fault
    /// game: an attacker who posts k claims at once must not delay the answer to
    /// the last by k L1 blocks. A result per transaction, in order.
    pub async fn send_urgent_all(
        &self,
        txs: &[L1Tx],
    ) -> Vec<Result<TransactionReceipt, SendError>> {
        if txs.is_empty() {
            return Vec::new();
        }
        let mut nonce_slot = self.turn(true).await;
        let start = async {
            let nonce = self.next_nonce(&nonce_slot).await?;
            let balance = self.provider.get_balance(self.address()).await.map_err(rpc)?;
            Ok::<_, SendError>((nonce, balance))
        };
        let (first, mut balance) = match start.await {
            Ok(s) => s,
            Err(e) => return txs.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut results: Vec<Option<Result<TransactionReceipt, SendError>>> =
            txs.iter().map(|_| None).collect();
        let mut flights = Vec::new();
        let mut at = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            match self.prepare(tx, first + flights.len() as u64).await {
                // Each is simulated alone: what the ones before it spend (bonds
                // as value, gas) must leave enough for it, or it is not sent.
                Ok(f) => match balance.checked_sub(f.most_spent()) {
                    Some(left) => {
                        balance = left;
                        flights.push(f);
                        at.push(i);
                    }
                    None => {
                        results[i] = Some(Err(SendError::WouldRevert(format!(
                            "the key's balance, less what the transactions sent with it may spend, does not cover {} wei",
                            f.most_spent()
                        ))))
                    }
                },
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        let (mined, clean) = self.mine_all(&mut flights).await;
        *nonce_slot = clean.then_some(first + flights.len() as u64);
        for (i, r) in at.into_iter().zip(mined) {
            results[i] = Some(r);
        }
        results.into_iter().map(|r| r.expect("every transaction has a result")).collect()
    }

    async fn send_in_turn(&self, tx: L1Tx, urgent: bool) -> Result<TransactionReceipt, SendError> {
        let mut nonce_slot = self.turn(urgent).await;
        let nonce = self.next_nonce(&nonce_slot).await?;
        let mut flights = [self.prepare(&tx, nonce).await?];
        let (mut mined, clean) = self.mine_all(&mut flights).await;
        *nonce_slot = clean.then_some(nonce.saturating_add(1));
        mined.pop().expect("one result")
    }

    /// The nonce to use next, from what this sender used (`slot`) and L1's
    /// count of this key's transactions, pool included. Below what this sender
    /// used means an L1 reorg removed a mined transaction of ours: its work is
    /// redone by the caller (the poster re-reads `nextBlock()`), and the nonce is
    /// reused so no gap blocks what follows.
    async fn next_nonce(&self, slot: &Option<u64>) -> Result<u64, SendError> {
        let on_l1 =
            self.provider.get_transaction_count(self.address()).pending().await.map_err(rpc)?;
        Ok(match *slot {
            Some(n) if on_l1 < n => {
                tracing::warn!(target: "l1", expected = n, on_l1, "L1 reorg removed a transaction of ours: reusing its nonce");
                on_l1
            }
            Some(n) => n.max(on_l1),
            None => on_l1,
        })
    }

    /// Simulates `tx` (a revert costs nothing) and prices it, for `nonce`.
    async fn prepare<'a>(&self, tx: &'a L1Tx, nonce: u64) -> Result<InFlight<'a>, SendError> {
        if tx.sidecar.is_some() && tx.to == TxKind::Create {
            return Err(SendError::Sign("a blob transaction cannot create a contract".into()));
        }
        let estimate = self.simulate(tx).await?;
        let gas = estimate.saturating_add(estimate / 5).saturating_add(10_000);
        let blob = tx.sidecar.is_some();
        let bump = if blob { 100 } else { self.config.fee_bump_percent.max(10) };
        let fees = self.capped(self.fees(blob).await?);
        Ok(InFlight { tx, nonce, gas, fees, bump, sent: Vec::new() })
    }

    /// Signs `f` at its fees and submits it. An error the node gives because an
    /// earlier submission was mined meanwhile, or is already in its pool, is no
    /// error: that one is waited on.
    async fn submit(&self, f: &mut InFlight<'_>, attempt: u32) -> Result<(), SendError> {
        let (raw, hash) = self.sign(f.tx, f.nonce, f.gas, f.fees)?;
        if let Err(e) = self.provider.send_raw_transaction(&raw).await {
            let msg = e.to_string().to_lowercase();
            let known = msg.contains("already known") || msg.contains("already imported");
            let replaced = msg.contains("nonce too low") || msg.contains("underpriced");
            if !(known || (replaced && !f.sent.is_empty())) {
                return Err(rpc(e));
            }
        }
        f.sent.push(hash);
        let (nonce, max_fee, blob) = (f.nonce, f.fees.max_fee, f.tx.sidecar.is_some());
        tracing::info!(target: "l1", %hash, nonce, attempt, max_fee, blob, "sent L1 transaction");
        Ok(())
    }

    /// Submits `flights` (consecutive nonces) in nonce order and waits until
    /// each is mined, resubmitting those not mined with bumped fees (same
    /// nonce). A result per flight, and whether every one was mined (so the
    /// nonces after them are the next to use; else L1 is asked again).
    async fn mine_all(
        &self,
        flights: &mut [InFlight<'_>],
    ) -> (Vec<Result<TransactionReceipt, SendError>>, bool) {
        let mut done: Vec<Option<Result<TransactionReceipt, SendError>>> =
            flights.iter().map(|_| None).collect();
        let mut clean = true;
        'attempts: for attempt in 1..=self.config.max_attempts {
            for (i, f) in flights.iter_mut().enumerate() {
                if done[i].is_some() {
                    continue;
                }
                if let Err(e) = self.submit(f, attempt).await {
                    if !f.sent.is_empty() {
                        // A resubmission refused: an earlier one may still be
                        // mined, so it is waited on (and tried again next time).
                        tracing::warn!(target: "l1", nonce = f.nonce, attempt, "resubmission refused: {e}");
                        continue;
                    }
                    // A nonce the node did not take: the ones after it cannot be
                    // mined until it is, so those not sent yet are not sent.
                    clean = false;
                    let refused = f.nonce;
                    done[i] = Some(Err(e));
                    for (d, later) in done.iter_mut().zip(flights.iter()).skip(i + 1) {
                        if d.is_none() && later.sent.is_empty() {
                            *d = Some(Err(SendError::Rpc(format!(
                                "not sent: L1 refused the transaction with nonce {refused} before it"
                            ))));
                        }
                    }
                    break;
                }
            }
            let deadline = Instant::now() + self.config.resubmit_after;
            // The first looks come soon (an L1 that mines on arrival has the
            // receipts at once), then every `poll`.
            let mut wait = Duration::from_millis(10);
            while Instant::now() < deadline && done.iter().any(Option::is_none) {
                tokio::time::sleep(wait.min(self.config.poll)).await;
                wait = wait.saturating_mul(2);
                for (i, f) in flights.iter().enumerate() {
                    if done[i].is_some() {
                        continue;
                    }
                    for h in &f.sent {
                        match self.provider.get_transaction_receipt(*h).await {
                            Ok(Some(receipt)) => {
                                done[i] = Some(if receipt.status() {
                                    Ok(receipt)
                                } else {
                                    Err(SendError::Reverted {
                                        hash: *h,
                                        block: receipt.block_number.unwrap_or_default(),
                                    })
                                });
                                break;
                            }
                            Ok(None) => {}
                            Err(e) => {
                                clean = false;
                                fail_waiting(&mut done, &rpc(e));
                                break 'attempts;
                            }
                        }
                    }
                }
            }
            if done.iter().all(Option::is_some) {
                break;
            }
            // Not all mined yet. A nonce below one waiting that no transaction
            // here will fill (one of ours before these, or one here given up or
            // mined and then removed by an L1 reorg) leaves a gap no fee bump
            // fills: give up on those above it (the caller retries from L1
            // state, with the nonce reused). A missing nonce of one still
            // waiting is filled by its resubmission below, in nonce order.
            let on_l1 = match self.provider.get_transaction_count(self.address()).pending().await {
                Ok(n) => n,
                Err(e) => {
                    clean = false;
                    fail_waiting(&mut done, &rpc(e));
                    break;
                }
            };
            let first = flights.first().map_or(0, |f| f.nonce);
            let unfilled: Vec<u64> = flights
                .iter()
                .zip(&done)
                .filter(|(_, d)| d.is_some())
                .map(|(f, _)| f.nonce)
                .collect();
            let gap = |nonce: u64| {
                on_l1 < nonce
                    && (on_l1 < first || unfilled.iter().any(|n| (on_l1..nonce).contains(n)))
            };
            // Fees now, once for all (on an error, each is bumped from its own).
            let (mut plain, mut blobs) = (None, None);
            for (i, f) in flights.iter_mut().enumerate() {
                if done[i].is_some() {
                    continue;
                }
                if gap(f.nonce) {
                    clean = false;
                    done[i] = Some(Err(SendError::NonceGap { nonce: f.nonce, on_l1 }));
                    continue;
                }
                let blob = f.tx.sidecar.is_some();
                let slot = if blob { &mut blobs } else { &mut plain };
                if slot.is_none() {
                    *slot = Some(self.fees(blob).await.ok());
                }
                let bumped = f.fees.bumped(f.bump);
                let current = slot.flatten().unwrap_or(bumped);
                f.fees = self.capped(Fees {
                    max_fee: bumped.max_fee.max(current.max_fee),
                    tip: bumped.tip.max(current.tip),
                    blob_fee: bumped.blob_fee.max(current.blob_fee),
                });
            }
        }
        let results = done
            .into_iter()
            .zip(flights.iter())
            .map(|(d, f)| {
                d.unwrap_or_else(|| {
                    clean = false;
                    Err(SendError::NotMined { nonce: f.nonce, attempts: self.config.max_attempts })
                })
            })
            .collect();
        (results, clean)
    }
}

/// Gives every transaction still waiting in `done` the error `e` (an L1 RPC
/// failure while waiting: the caller retries from L1 state).
fn fail_waiting(done: &mut [Option<Result<TransactionReceipt, SendError>>], e: &SendError) {
    for d in done.iter_mut().filter(|d| d.is_none()) {
        *d = Some(Err(e.clone()));
    }
}

/// One transaction of ours being mined: what it carries, its nonce, gas and
/// current fees, and the hash of every submission of it.
struct InFlight<'a> {
    tx: &'a L1Tx,
    nonce: u64,
    gas: u64,
    fees: Fees,
    bump: u64,
    sent: Vec<B256>,
}

impl InFlight<'_> {
    /// The most it may take from the key's balance: its value and its gas
    /// (and blob gas) at its current fees.
    fn most_spent(&self) -> U256 {
        let blobs = self.tx.sidecar.as_ref().map_or(0, |s| s.versioned_hashes().count() as u64);
        let gas = U256::from(self.gas) * U256::from(self.fees.max_fee)
            + U256::from(blobs * BLOB_GAS) * U256::from(self.fees.blob_fee);
        self.tx.value.saturating_add(gas)
    }
}

/// An urgent send waiting for its turn: counted from `new` to drop.
struct UrgentWaiting<'a>(&'a TxSender);

impl<'a> UrgentWaiting<'a> {
    fn new(sender: &'a TxSender) -> Self {
        sender.urgent.fetch_add(1, Ordering::SeqCst);
        Self(sender)
    }
}

impl Drop for UrgentWaiting<'_> {
    fn drop(&mut self) {
        if self.0.urgent.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.urgent_done.notify_waiters();
        }
    }
}

/// Gas one blob costs (EIP-4844).
pub const BLOB_GAS: u64 = DATA_GAS_PER_BLOB;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_urgent_transaction_goes_before_those_waiting() {
        let provider = alloy::providers::ProviderBuilder::new()
            .connect_http("http://127.0.0.1:9".parse().unwrap())
            .erased();
        let sender = std::sync::Arc::new(TxSender {
            provider,
            signer: PrivateKeySigner::random(),
            chain_id: 1,
            config: SenderConfig::default(),
            nonce: Mutex::new(None),
            urgent: AtomicUsize::new(0),
            urgent_done: Notify::new(),
        });
        let (order_tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        // One transaction is being mined (its turn held) while two normal
        // ones and then an urgent one wait.
        let held = sender.turn(false).await;
        let mut waiting = Vec::new();
        for (name, urgent) in [("post 1", false), ("post 2", false), ("move", true)] {
            let (s, o) = (sender.clone(), order_tx.clone());
            waiting.push(tokio::spawn(async move {
                let mut slot = s.turn(urgent).await;
                o.send(name).unwrap();
                *slot = Some(slot.unwrap_or(0) + 1);
                tokio::task::yield_now().await;
            }));
            // Each is queued (this runtime has one thread) before the next comes.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        for w in waiting {
            w.await.unwrap();
        }
        let mut got = Vec::new();
        while let Ok(name) = order.try_recv() {
            got.push(name);
        }
        assert_eq!(got[0], "move", "the urgent one went first: {got:?}");
        got.sort_unstable();
        assert_eq!(got, ["move", "post 1", "post 2"]);
        assert_eq!(*sender.nonce.lock().await, Some(3), "each took one turn");
        assert_eq!(sender.urgent.load(Ordering::SeqCst), 0);

        // An urgent send given up while waiting (its future dropped) leaves
        // no claim on the turn behind: the normal one waiting goes next.
        let held = sender.turn(false).await;
        let (s, o) = (sender.clone(), order_tx.clone());
        let post = tokio::spawn(async move {
            let _slot = s.turn(false).await;
            o.send("post 3").unwrap();
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let s = sender.clone();
        let urgent = tokio::spawn(async move {
            let _slot = s.turn(true).await;
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(sender.urgent.load(Ordering::SeqCst), 1);
        urgent.abort();
        assert!(urgent.await.unwrap_err().is_cancelled());
        assert_eq!(sender.urgent.load(Ordering::SeqCst), 0);
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), post)
            .await
            .expect("the normal send had its turn")
            .unwrap();
        assert_eq!(order.try_recv().unwrap(), "post 3");
    }

    #[test]
    fn bumps_raise_every_fee_by_at_least_one_wei() {
        let f = Fees { max_fee: 100, tip: 0, blob_fee: 7 }.bumped(15);
        assert_eq!((f.max_fee, f.tip, f.blob_fee), (115, 1, 9));
        let f = Fees { max_fee: 3, tip: 1, blob_fee: 1 }.bumped(100);
        assert_eq!((f.max_fee, f.tip, f.blob_fee), (6, 2, 2));
    }

    #[test]
    fn caps_hold_fees_and_keep_the_tip_under_the_max_fee() {
        let f = Fees { max_fee: 500, tip: 300, blob_fee: 40 };
        let (c, bit) = f.capped(None, None);
        assert!(!bit);
        assert_eq!((c.max_fee, c.tip, c.blob_fee), (500, 300, 40));
        let (c, bit) = f.capped(Some(200), None);
        assert!(bit);
        assert_eq!((c.max_fee, c.tip, c.blob_fee), (200, 200, 40));
        let (c, bit) = f.capped(Some(1_000), Some(10));
        assert!(bit);
        assert_eq!((c.max_fee, c.tip, c.blob_fee), (500, 300, 10));
        // Bumping at the cap leaves the fees where they are (the same signed
        // transaction, which the pool already knows).
        let (c, _) = f.capped(Some(200), Some(10));
        let (again, _) = c.bumped(15).capped(Some(200), Some(10));
        assert_eq!((again.max_fee, again.tip, again.blob_fee), (200, 200, 10));
    }
}
