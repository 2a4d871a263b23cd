use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    eips::Encodable2718,
    primitives::{Address, B256, U256},
};
use infra_execution::{TX_GAS_LIMIT_CAP, intrinsic_gas};
use parking_lot::RwLock;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// Largest accepted transaction, as geth's pool (128 KiB).
const MAX_TX_BYTES: usize = 128 * 1024;

#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub chain_id: u64,
    pub block_gas_limit: u64,
    pub min_tip_wei: u128,
    pub max_per_sender: usize,
    pub max_total: usize,
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
            max_per_sender: 64,
            max_total: 10_000,
            accept_blobs: false,
        }
    }
}

/// Why a transaction was refused. The messages follow geth's, which wallets match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("nonce too low: address {address}, tx: {tx} state: {state}")]
    NonceTooLow { address: Address, tx: u64, state: u64 },
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
    #[error("txpool is full")]
    PoolFull,
    #[error("account limit exceeded: {address} has {count} pending transactions")]
    SenderLimit { address: Address, count: usize },
}

#[derive(Debug, Clone)]
struct PoolTx {
    tx: TxEnvelope,
    hash: B256,
    max_fee: u128,
    tip: u128,
}

impl PoolTx {
    fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        let room = self.max_fee.checked_sub(u128::from(base_fee))?;
        Some(room.min(self.tip))
    }
}

#[derive(Debug, Default)]
struct Inner {
    senders: HashMap<Address, BTreeMap<u64, PoolTx>>,
    by_hash: HashMap<B256, (Address, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    pub total: usize,
    pub senders: usize,
}

/// The pool. All methods take `&self`; it is shared between RPC and the sequencer.
#[derive(Debug)]
pub struct Mempool {
    cfg: PoolConfig,
    inner: RwLock<Inner>,
}

fn bump(old: u128) -> u128 {
    old.saturating_add(old / 10).saturating_add(u128::from(!old.is_multiple_of(10)))
}

impl Mempool {
    pub fn new(cfg: PoolConfig) -> Self {
        Self { cfg, inner: RwLock::new(Inner::default()) }
    }

    pub fn config(&self) -> &PoolConfig {
        &self.cfg
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
        let hash = *tx.tx_hash();
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
        let want = intrinsic_gas(&tx, sender);
        if tx.gas_limit() < want {
            return Err(PoolError::IntrinsicGasTooLow { have: tx.gas_limit(), want });
        }
        let nonce = tx.nonce();
        if nonce < state_nonce {
            return Err(PoolError::NonceTooLow { address: sender, tx: nonce, state: state_nonce });
        }
        if max_fee < u128::from(base_fee) {
            return Err(PoolError::FeeCapBelowBaseFee { address: sender, max_fee, base_fee });
        }
        if tip < self.cfg.min_tip_wei {
            return Err(PoolError::TipTooLow { tip, min: self.cfg.min_tip_wei });
        }
        let cost = U256::from(tx.gas_limit())
            .saturating_mul(U256::from(max_fee))
            .saturating_add(tx.value());
        if balance < cost {
            return Err(PoolError::InsufficientFunds {
                address: sender,
                have: balance,
                want: cost,
            });
        }

        let mut inner = self.inner.write();
        if inner.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let total = inner.by_hash.len();
        let queue = inner.senders.entry(sender).or_default();
        let replaced = match queue.get(&nonce) {
            Some(old) => {
                if max_fee < bump(old.max_fee) || tip < bump(old.tip) {
                    return Err(PoolError::ReplacementUnderpriced);
                }
                Some(old.hash)
            }
            None => {
                if queue.len() >= self.cfg.max_per_sender {
                    return Err(PoolError::SenderLimit { address: sender, count: queue.len() });
                }
                if total >= self.cfg.max_total {
                    return Err(PoolError::PoolFull);
                }
                None
            }
        };
        queue.insert(nonce, PoolTx { tx, hash, max_fee, tip });
        if let Some(old) = replaced {
            inner.by_hash.remove(&old);
        }
        inner.by_hash.insert(hash, (sender, nonce));
        Ok(hash)
    }

    /// A pooled transaction and its sender.
    pub fn get(&self, hash: &B256) -> Option<(TxEnvelope, Address)> {
        let inner = self.inner.read();
        let (sender, nonce) = inner.by_hash.get(hash)?;
        inner.senders.get(sender)?.get(nonce).map(|p| (p.tx.clone(), *sender))
    }

    /// The nonce the sender's next transaction should use: the state nonce plus
    /// the gap-free run of pooled transactions after it.
    pub fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        let inner = self.inner.read();
        let mut next = state_nonce;
        if let Some(queue) = inner.senders.get(&sender) {
            for nonce in queue.range(state_nonce..).map(|(n, _)| *n) {
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
        for (sender, queue) in &inner.senders {
            let nonce = nonce_of(*sender);
            if let Some(p) = queue.get(&nonce)
                && let Some(tip) = p.effective_tip(base_fee)
            {
                heap.push((tip, std::cmp::Reverse(p.hash), *sender, nonce));
            }
        }
        let mut out = Vec::new();
        while let Some((_, _, sender, nonce)) = heap.pop() {
            let Some(queue) = inner.senders.get(&sender) else { continue };
            let Some(p) = queue.get(&nonce) else { continue };
            out.push((p.tx.clone(), sender));
            let next = nonce.saturating_add(1);
            if let Some(n) = queue.get(&next)
                && let Some(tip) = n.effective_tip(base_fee)
            {
                heap.push((tip, std::cmp::Reverse(n.hash), sender, next));
            }
        }
        out
    }

    /// After a block: drops transactions of `senders` below their new state nonce,
    /// and the `rejected` ones (the EVM refused them).
    pub fn on_block(&self, senders: impl IntoIterator<Item = (Address, u64)>, rejected: &[B256]) {
        let mut inner = self.inner.write();
        let mut drop: Vec<B256> = Vec::new();
        for (sender, state_nonce) in senders {
            if let Some(queue) = inner.senders.get_mut(&sender) {
                let keep = queue.split_off(&state_nonce);
                drop.extend(queue.values().map(|p| p.hash));
                *queue = keep;
            }
        }
        for hash in rejected {
            if let Some((sender, nonce)) = inner.by_hash.get(hash).copied() {
                if let Some(queue) = inner.senders.get_mut(&sender) {
                    queue.remove(&nonce);
                }
                drop.push(*hash);
            }
        }
        for hash in drop {
            inner.by_hash.remove(&hash);
        }
        inner.senders.retain(|_, q| !q.is_empty());
    }

    pub fn stats(&self) -> PoolStats {
        let inner = self.inner.read();
        PoolStats { total: inner.by_hash.len(), senders: inner.senders.len() }
    }

    /// Number of pending (executable) and queued (behind a gap) transactions.
    pub fn status(&self, mut nonce_of: impl FnMut(Address) -> u64) -> (usize, usize) {
        let inner = self.inner.read();
        let mut pending = 0usize;
        for (sender, queue) in &inner.senders {
            let mut next = nonce_of(*sender);
            for n in queue.keys() {
                if *n == next {
                    pending += 1;
                    next += 1;
                }
            }
        }
        (pending, inner.by_hash.len() - pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxLegacy},
        network::TxSignerSync,
        primitives::TxKind,
        signers::local::PrivateKeySigner,
    };

    const CHAIN: u64 = 5;

    fn signer(i: u8) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap()
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

    fn pool() -> Mempool {
        Mempool::new(PoolConfig {
            chain_id: CHAIN,
            max_per_sender: 4,
            max_total: 6,
            ..Default::default()
        })
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
        assert_eq!(p.status(|_| 0), (3, 1));
        let best: Vec<_> = p.best(1, |_| 0).into_iter().map(|(t, a)| (a, t.nonce())).collect();
        assert_eq!(best, vec![(s2.address(), 0), (s2.address(), 1), (s1.address(), 0)]);
        // filling the gap makes nonce 2 executable
        p.add(tx(&s1, 1, 100, 1), s1.address(), 0, RICH, 1).unwrap();
        assert_eq!(p.pending_nonce(s1.address(), 0), 3);
        p.on_block([(s1.address(), 2), (s2.address(), 2)], &[]);
        assert_eq!(p.stats().total, 1);
        let best: Vec<_> = p.best(1, |_| 2).into_iter().map(|(t, _)| t.nonce()).collect();
        assert_eq!(best, vec![2]);
    }

    #[test]
    fn limits() {
        let p = pool();
        let s = signer(3);
        for n in 0..4 {
            p.add(tx(&s, n, 10, 1), s.address(), 0, RICH, 1).unwrap();
        }
        assert!(matches!(
            p.add(tx(&s, 4, 10, 1), s.address(), 0, RICH, 1),
            Err(PoolError::SenderLimit { .. })
        ));
        let t = signer(4);
        p.add(tx(&t, 0, 10, 1), t.address(), 0, RICH, 1).unwrap();
        p.add(tx(&t, 1, 10, 1), t.address(), 0, RICH, 1).unwrap();
        assert_eq!(p.add(tx(&t, 2, 10, 1), t.address(), 0, RICH, 1), Err(PoolError::PoolFull));
    }
}
