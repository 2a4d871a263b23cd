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
        2 => "invalid",
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
            moves: s.moves + s.steps.len() as u64,
        });
        self.ops.update(|v| {
            v.p2p = p2p;
            v.derivation = derivation;
            v.disputes = disputes;
        });
    }

    /// Reads what changed on L1 since the last poll, within bounds: new batches
    /// (the newest `WINDOW` at most), the ones that just became final, and a few
    /// still-pending ones in turn (a dispute may have challenged them).
    async fn l1(
        &self,
        provider: &DynProvider,
        d: &Deployment,
        cursor: &mut u64,
    ) -> Result<(), String> {
        let rollup = Rollup::new(d.rollup, provider.clone());
        let e = |e: alloy::contract::Error| e.to_string();
        let count: u64 = rollup.batchCount().call().await.map_err(e)?.try_into().unwrap_or(0);
        let next: u64 = rollup.nextToFinalize().call().await.map_err(e)?.try_into().unwrap_or(0);
        let l1_head = provider.get_block_number().await.map_err(|e| e.to_string())?;
        let (mut batches, old_next) = match &self.ops.view.read().l1 {
            Some(l) => (l.batches.clone(), l.next_to_finalize),
            None => (Vec::new(), 0),
        };
        let start = count.saturating_sub(WINDOW);
        batches.retain(|b| b.index >= start);
        // Batches past the count were rolled back (a lost dispute).
        for b in batches.iter_mut().filter(|b| b.index >= count) {
            b.status = "rolledBack".into();
        }
        let known = |batches: &[BatchView], i: u64| batches.iter().position(|b| b.index == i);
        let mut read: Vec<u64> = (start..count)
            .filter(|i| known(&batches, *i).is_none_or(|p| batches[p].status == "rolledBack"))
            .collect();
        let finalized: Vec<u64> =
            (old_next.max(start)..next.min(count)).filter(|i| !read.contains(i)).collect();
        read.extend(finalized);
        let pending: Vec<u64> = batches
            .iter()
            .filter(|b| b.index >= next && b.index < count && !read.contains(&b.index))
            .map(|b| b.index)
            .collect();
        if !pending.is_empty() {
            for k in 0..pending.len().min(PENDING_PER_POLL) {
                read.push(pending[(*cursor as usize + k) % pending.len()]);
            }
            *cursor = cursor.wrapping_add(PENDING_PER_POLL as u64);
        }
        let mut result = Ok(());
        for i in read {
            let b = match rollup.getBatch(U256::from(i)).call().await {
                Ok(b) => b,
                Err(err) => {
                    // Keep what was read so far.
                    result = Err(e(err));
                    break;
                }
            };
            let view = BatchView {
                index: i,
                first_block: alloy::primitives::U64::from(b.firstBlock),
                last_block: alloy::primitives::U64::from(b.lastBlock),
                // A pending batch with a game open on it is under challenge.
                status: if b.status == 1 && b.openGames > 0 {
                    "challenged".into()
                } else {
                    status_name(b.status).into()
                },
                state_root: b.stateRoot,
                l1_block: alloy::primitives::U64::from(b.l1Block),
            };
            match known(&batches, i) {
                Some(p) => batches[p] = view,
                None => batches.push(view),
            }
        }
        batches.sort_by_key(|b| b.index);
        self.ops.update(|v| {
            v.l1 = Some(L1View {
                rollup: d.rollup,
                bridge: d.bridge,
                dispute_game: d.fault_game.as_ref().map(|g| g.game),
                l1_chain_id: d.l1_chain_id,
                l1_head: alloy::primitives::U64::from(l1_head),
                batch_count: count,
                next_to_finalize: next,
                batches,
            });
        });
        result
    }
}

/// The newest batches kept in view (`infra_getBatchByBlock` answers for them).
const WINDOW: u64 = 1_000;
/// Pending batches re-read per poll, in turn.
const PENDING_PER_POLL: usize = 20;

impl Actor for OpsMonitor {
    const NAME: &'static str = "ops";
    async fn run(self, cancel: CancellationToken) -> Result<(), ActorError> {
        let mut warned = false;
        let mut cursor = 0u64;
        loop {
            self.local();
            if let Some((provider, d)) = &self.l1 {
                match self.l1(provider, d, &mut cursor).await {
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
