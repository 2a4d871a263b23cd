#![doc = include_str!("../README.md")]

use infra_primitives::{DepositTx, SealedBlock};
use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
};
use tokio::{sync::broadcast, task::JoinSet};
pub use tokio_util::sync::CancellationToken;

/// Events every component may listen to.
#[derive(Debug, Clone)]
pub enum Event {
    /// A block was sealed (or imported, on a validator) and committed to the
    /// database.
    BlockSealed(Arc<SealedBlock>),
    /// Derivation re-executed a batch from L1 and compared the output its
    /// proposer claimed with its own.
    BatchDerived(BatchVerdict),
    /// The RPC pooled a transaction (its EIP-2718 encoding, without blobs).
    PendingTx(alloy::primitives::Bytes),
}

/// What derivation found for one batch on L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchVerdict {
    /// The batch's index in the rollup contract.
    pub index: u64,
    pub first_block: u64,
    pub last_block: u64,
    pub l1_block: u64,
    pub claimed_state_root: alloy::primitives::B256,
    pub claimed_block_hash: alloy::primitives::B256,
    /// The context the next block starts from, as claimed.
    pub claimed_next_base_fee: u64,
    pub claimed_next_deposit_nonce: u64,
    /// The state root and hash of `last_block` as derived from L1 data.
    pub derived_state_root: alloy::primitives::B256,
    pub derived_block_hash: alloy::primitives::B256,
    pub derived_next_base_fee: u64,
    pub derived_next_deposit_nonce: u64,
}

impl BatchVerdict {
    /// The claimed output is the one derived.
    pub fn valid(&self) -> bool {
        self.claimed_state_root == self.derived_state_root
            && self.claimed_block_hash == self.derived_block_hash
            && self.claimed_next_base_fee == self.derived_next_base_fee
            && self.claimed_next_deposit_nonce == self.derived_next_deposit_nonce
    }
}

/// The broadcast side of the bus. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Bus {
    events: broadcast::Sender<Event>,
}

impl Bus {
    pub fn new(capacity: usize) -> Self {
        Self { events: broadcast::channel(capacity).0 }
    }

    /// Publishes an event; having no listener is fine.
    pub fn publish(&self, event: Event) {
        let _ = self.events.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn subscriber_count(&self) -> usize {
        self.events.receiver_count()
    }
}

/// Confirmed L1 deposits on their way to the sequencer, keyed by bridge nonce.
/// The L1 watcher fills it; the sequencer reads the run that continues its
/// deposit cursor. Inserting a nonce twice keeps the first copy, so re-reading L1
/// never duplicates a deposit; what the chain already applied is pruned.
#[derive(Debug, Clone, Default)]
pub struct DepositInbox(Arc<Mutex<BTreeMap<u64, DepositTx>>>);

impl DepositInbox {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, DepositTx>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn push(&self, deposit: DepositTx) {
        self.lock().entry(deposit.nonce).or_insert(deposit);
    }

    /// Forgets deposits at or above `nonce` (their L1 blocks were reorged out
    /// before the chain applied them).
    pub fn forget_from(&self, nonce: u64) {
        let _ = self.lock().split_off(&nonce);
    }

    /// The contiguous run of deposits from `next`, in order, while their gas
    /// limits fit `gas_budget` (the first one is always taken) and at most `max`.
    /// Deposits below `next` were applied already and are dropped.
    pub fn take(&self, next: u64, gas_budget: u64, max: usize) -> Vec<DepositTx> {
        let mut map = self.lock();
        *map = map.split_off(&next);
        let mut out = Vec::new();
        let mut gas = 0u64;
        let mut expected = next;
        for (nonce, d) in map.iter() {
            if *nonce != expected || out.len() >= max {
                break;
            }
            gas = gas.saturating_add(d.gas_limit);
            if gas > gas_budget && !out.is_empty() {
                break;
            }
            out.push(d.clone());
            expected = expected.saturating_add(1);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An actor's failure.
#[derive(Debug, thiserror::Error)]
#[error("{actor}: {message}")]
pub struct ActorError {
    pub actor: &'static str,
    pub message: String,
}

/// A component run by the supervisor until it finishes or `cancel` fires.
pub trait Actor: Send + 'static {
    const NAME: &'static str;
    fn run(self, cancel: CancellationToken) -> impl Future<Output = Result<(), ActorError>> + Send;
}

/// Runs actors; the first error cancels the others.
#[derive(Debug, Default)]
pub struct Supervisor {
    cancel: CancellationToken,
    tasks: JoinSet<Result<(), ActorError>>,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    pub fn spawn<A: Actor>(&mut self, actor: A) {
        let cancel = self.cancel.clone();
        self.tasks.spawn(async move {
            tracing::debug!(target: "bus", actor = A::NAME, "starting");
            actor.run(cancel).await
        });
    }

    /// Waits until every actor is done. Returns the first error, after cancelling
    /// and joining the rest.
    pub async fn join(mut self) -> Result<(), ActorError> {
        let mut first = Ok(());
        while let Some(res) = self.tasks.join_next().await {
            let res =
                res.unwrap_or_else(|e| Err(ActorError { actor: "task", message: e.to_string() }));
            if let Err(e) = res {
                tracing::error!(target: "bus", "{e}");
                self.cancel.cancel();
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fails;
    impl Actor for Fails {
        const NAME: &'static str = "fails";
        async fn run(self, _: CancellationToken) -> Result<(), ActorError> {
            Err(ActorError { actor: Self::NAME, message: "boom".into() })
        }
    }

    struct WaitsForCancel(Arc<std::sync::atomic::AtomicBool>);
    impl Actor for WaitsForCancel {
        const NAME: &'static str = "waits";
        async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
            cancel.cancelled().await;
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn first_error_cancels_the_rest() {
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut sup = Supervisor::new();
        sup.spawn(WaitsForCancel(flag.clone()));
        sup.spawn(Fails);
        let err = sup.join().await.unwrap_err();
        assert_eq!(err.to_string(), "fails: boom");
        assert!(flag.load(std::sync::atomic::Ordering::SeqCst));
    }

    fn deposit(nonce: u64, gas_limit: u64) -> DepositTx {
        DepositTx {
            nonce,
            l1_block: nonce,
            from: Default::default(),
            to: Default::default(),
            value: Default::default(),
            gas_limit,
            data: Default::default(),
        }
    }

    #[test]
    fn inbox_hands_out_contiguous_runs_once() {
        let inbox = DepositInbox::new();
        for n in [3, 1, 0, 1, 4] {
            inbox.push(deposit(n, 100));
        }
        let nonces = |v: Vec<DepositTx>| v.iter().map(|d| d.nonce).collect::<Vec<_>>();
        // 2 is missing: the run stops before the gap.
        assert_eq!(nonces(inbox.take(0, 1_000, 10)), vec![0, 1]);
        assert_eq!(nonces(inbox.take(2, 1_000, 10)), Vec::<u64>::new());
        assert_eq!(inbox.len(), 2, "applied deposits are pruned");
        inbox.push(deposit(2, 100));
        assert_eq!(nonces(inbox.take(2, 250, 10)), vec![2, 3], "gas budget");
        assert_eq!(nonces(inbox.take(2, 1_000, 1)), vec![2], "count cap");
        assert_eq!(nonces(inbox.take(2, 10, 10)), vec![2], "the first always fits");
        inbox.forget_from(3);
        assert_eq!(nonces(inbox.take(2, 1_000, 10)), vec![2]);
    }

    #[tokio::test]
    async fn events_reach_subscribers() {
        let bus = Bus::new(4);
        let mut rx = bus.subscribe();
        let block = SealedBlock::new(Default::default(), vec![], vec![], vec![]);
        bus.publish(Event::BlockSealed(Arc::new(block.clone())));
        let Event::BlockSealed(got) = rx.recv().await.unwrap() else { panic!("another event") };
        assert_eq!(got.hash, block.hash);
    }
}
