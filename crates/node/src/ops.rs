//! Keeps the RPC's view of the node's components current (`infra_status`, the
//! dashboard, `/metrics`): the network, derivation, disputes, and the rollup's
//! batches as L1 has them.

use alloy::primitives::U256;
use alloy::providers::{DynProvider, Provider};
use infra_bus::{Actor, ActorError, CancellationToken};
use infra_l1::{Deployment, Rollup};
use infra_rpc::{BatchView, DerivationView, DisputesView, L1View, Ops, P2pView};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// The components a node runs, each optional.
pub struct OpsMonitor {
    pub ops: Arc<Ops>,
    pub poll: Duration,
    pub l1: Option<(DynProvider, Deployment)>,
    pub p2p: Option<Arc<Mutex<infra_p2p::P2pStatus>>>,
    pub derivation: Option<Arc<Mutex<infra_derivation::DerivationStatus>>>,
    pub disputes: Option<Arc<Mutex<infra_challenger::PlayerStatus>>>,
}

fn status_name(s: u8) -> &'static str {
    match s {
        1 => "pending",
        2 => "challenged",
        3 => "finalized",
        4 => "superseded",
        _ => "rolledBack",
    }
}

impl OpsMonitor {
    fn local(&self) {
        let p2p = self.p2p.as_ref().and_then(|s| s.lock().ok()).map(|s| P2pView {
            peer_id: s.peer_id.clone(),
            peers: s.peers.len(),
            banned: s.banned.len(),
            listen: s.listen_addrs.iter().map(ToString::to_string).collect(),
        });
        let derivation =
            self.derivation.as_ref().and_then(|s| s.lock().ok()).map(|s| DerivationView {
                safe_head: s.safe_head,
                l1_block: s.l1_block,
                batches: s.batches,
                invalid_outputs: s.invalid_outputs.len(),
            });
        let disputes = self.disputes.as_ref().and_then(|s| s.lock().ok()).map(|s| DisputesView {
            opened: s.opened.clone(),
            won: s.won.clone(),
            lost: s.lost.clone(),
            moves: s.moves,
        });
        self.ops.update(|v| {
            v.p2p = p2p;
            v.derivation = derivation;
            v.disputes = disputes;
        });
    }

    /// Reads the batches L1 has that are new or may still change.
    async fn l1(&self, provider: &DynProvider, d: &Deployment) -> Result<(), String> {
        let rollup = Rollup::new(d.rollup, provider.clone());
        let e = |e: alloy::contract::Error| e.to_string();
        let count: u64 = rollup.batchCount().call().await.map_err(e)?.try_into().unwrap_or(0);
        let next: u64 = rollup.nextToFinalize().call().await.map_err(e)?.try_into().unwrap_or(0);
        let l1_head = provider.get_block_number().await.map_err(|e| e.to_string())?;
        let mut batches =
            self.ops.view.read().l1.as_ref().map(|l| l.batches.clone()).unwrap_or_default();
        // Batches past the count were rolled back (a lost dispute).
        for b in batches.iter_mut().skip(count as usize) {
            b.status = "rolledBack".into();
        }
        for i in 0..count {
            let known = batches.get(i as usize);
            if known.is_some_and(|b| b.status == "finalized" || b.status == "superseded") {
                continue;
            }
            let b = rollup.getBatch(U256::from(i)).call().await.map_err(e)?;
            let view = BatchView {
                index: i,
                first_block: alloy::primitives::U64::from(b.firstBlock),
                last_block: alloy::primitives::U64::from(b.lastBlock),
                status: status_name(b.status).into(),
                state_root: b.stateRoot,
                l1_block: alloy::primitives::U64::from(b.l1Block),
            };
            match batches.get_mut(i as usize) {
                Some(slot) => *slot = view,
                None => batches.push(view),
            }
        }
        self.ops.update(|v| {
            v.l1 = Some(L1View {
                rollup: d.rollup,
                bridge: d.bridge,
                dispute_game: d.dispute_game,
                l1_chain_id: d.l1_chain_id,
                l1_head: alloy::primitives::U64::from(l1_head),
                batch_count: count,
                next_to_finalize: next,
                batches,
            });
        });
        Ok(())
    }
}

impl Actor for OpsMonitor {
    const NAME: &'static str = "ops";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        let mut warned = false;
        loop {
            self.local();
            if let Some((provider, d)) = &self.l1 {
                match self.l1(provider, d).await {
                    Ok(()) => warned = false,
                    Err(e) if !warned => {
                        tracing::warn!(target: "ops", "reading the rollup's batches on L1: {e}");
                        warned = true;
                    }
                    Err(_) => {}
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}
