#![doc = include_str!("../README.md")]

use infra_primitives::SealedBlock;
use std::{future::Future, sync::Arc};
use tokio::{sync::broadcast, task::JoinSet};
pub use tokio_util::sync::CancellationToken;

/// Events every component may listen to.
#[derive(Debug, Clone)]
pub enum Event {
    /// A block was sealed and committed to the database.
    BlockSealed(Arc<SealedBlock>),
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

    #[tokio::test]
    async fn events_reach_subscribers() {
        let bus = Bus::new(4);
        let mut rx = bus.subscribe();
        let block = SealedBlock::new(Default::default(), vec![], vec![], vec![]);
        bus.publish(Event::BlockSealed(Arc::new(block.clone())));
        let Event::BlockSealed(got) = rx.recv().await.unwrap();
        assert_eq!(got.hash, block.hash);
    }
}
