//! The node's operational status, as the node's components report it: served
//! as `infra_status`, `infra_getBatchByBlock`, `infra_rollupConfig`, on the
//! dashboard and in `/metrics`.

use crate::{
    eth::{RpcContext, RpcResult, err, internal},
    metrics::{Metrics, set},
};
use alloy::primitives::{Address, B256, U64};
use parking_lot::RwLock;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};

/// One batch in the rollup contract.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchView {
    pub index: u64,
    pub first_block: U64,
    pub last_block: U64,
    /// "pending", "challenged", "finalized", "superseded" (zk ranges) or
    /// "rolledBack" (removed by a lost dispute, before being posted again).
    pub status: String,
    pub state_root: B256,
    pub l1_block: U64,
}

/// What the node reads of its rollup on L1.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L1View {
    pub rollup: Address,
    pub bridge: Address,
    pub dispute_game: Option<Address>,
    pub l1_chain_id: u64,
    pub l1_head: U64,
    pub batch_count: u64,
    pub next_to_finalize: u64,
    /// Every batch, oldest first.
    pub batches: Vec<BatchView>,
}

impl L1View {
    /// The last L2 block of the newest final batch.
    pub fn finalized_block(&self) -> Option<u64> {
        let last = self.next_to_finalize.checked_sub(1)?;
        self.batches.iter().find(|b| b.index == last).map(|b| b.last_block.to())
    }

    /// The last L2 block in any batch still on L1.
    pub fn batched_block(&self) -> Option<u64> {
        self.batches.iter().filter(|b| b.status != "rolledBack").map(|b| b.last_block.to()).max()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct P2pView {
    pub peer_id: String,
    pub peers: usize,
    pub banned: usize,
    pub listen: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputesView {
    pub opened: Vec<u64>,
    pub won: Vec<u64>,
    pub lost: Vec<u64>,
    pub moves: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DerivationView {
    pub safe_head: u64,
    pub l1_block: u64,
    pub batches: u64,
    pub invalid_outputs: usize,
}

/// Everything the node's components report; each part is absent when the node
/// does not run that component.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpsView {
    pub role: String,
    /// "zk", "optimistic", or absent without settlement.
    pub settlement: Option<String>,
    pub p2p: Option<P2pView>,
    pub l1: Option<L1View>,
    pub disputes: Option<DisputesView>,
    pub derivation: Option<DerivationView>,
}

/// The shared status: written by the node, read by the RPC.
#[derive(Debug, Default)]
pub struct Ops {
    pub view: RwLock<OpsView>,
    pub metrics: Metrics,
    /// Set once the node has started every component (`/ready`).
    pub ready: AtomicBool,
    /// Calls per API key id since start.
    pub key_usage: parking_lot::Mutex<std::collections::HashMap<String, crate::gateway::KeyUsage>>,
    /// Valid keys read in the last second, by secret hash (cleared when this
    /// node revokes one; a revocation by another process applies within a second).
    pub key_cache: parking_lot::Mutex<
        std::collections::HashMap<
            B256,
            (std::time::Instant, std::sync::Arc<crate::gateway::KeyRecord>),
        >,
    >,
}

impl Ops {
    pub fn update(&self, f: impl FnOnce(&mut OpsView)) {
        f(&mut self.view.write());
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

fn hex(n: u64) -> String {
    format!("{n:#x}")
}

impl RpcContext {
    fn safe_block(&self, r: &infra_storage::StateReader<'_>) -> RpcResult<u64> {
        Ok(self.number_of(r, alloy::eips::BlockNumberOrTag::Safe)?.unwrap_or_default())
    }

    /// Pending (executable) and queued pool transactions (the pool keeps both
    /// counts as it changes).
    pub fn pool_counts(&self) -> (usize, usize) {
        let st = self.pool.stats();
        (st.pending, st.queued)
    }

    /// `infra_status`: the chain and every component at a glance.
    pub fn status(&self) -> RpcResult<Value> {
        let r = self.reader()?;
        let head = self.head(&r)?;
        let safe = self.safe_block(&r)?;
        drop(r);
        let v = self.ops.view.read().clone();
        let finalized = v.l1.as_ref().and_then(L1View::finalized_block);
        let (pending, queued) = self.pool_counts();
        Ok(json!({
            "chainId": hex(self.chain.chain_id),
            "role": v.role,
            "settlement": v.settlement,
            "head": hex(head),
            "safe": hex(safe),
            "finalized": finalized.map(hex),
            "mempool": { "pending": pending, "queued": queued },
            "p2p": v.p2p,
            "l1": v.l1.as_ref().map(|l1| {
                // Newest first.
                let recent = l1.batches.iter().rev().take(20).cloned().collect::<Vec<_>>();
                json!({
                    "rollup": l1.rollup,
                    "l1Head": l1.l1_head,
                    "batchCount": l1.batch_count,
                    "nextToFinalize": l1.next_to_finalize,
                    "batches": recent,
                })
            }),
            "proofs": (v.settlement.as_deref() == Some("zk")).then(|| v.l1.as_ref().map(|l1| json!({
                "proved": l1.next_to_finalize,
                "lastProvedBatch": l1.next_to_finalize.checked_sub(1),
            }))).flatten(),
            "disputes": v.disputes,
            "derivation": v.derivation,
        }))
    }

    /// `infra_getBatchByBlock`: the batch on L1 that holds block `number`, and
    /// its output's status (null: not batched yet).
    pub fn batch_by_block(&self, number: U64) -> RpcResult<Option<BatchView>> {
        let n: u64 = number.to();
        let v = self.ops.view.read();
        let l1 = v.l1.as_ref().ok_or_else(|| {
            err(-32000, "this node does not follow L1 (no settlement configured)")
        })?;
        if let Some(oldest) = l1.batches.first()
            && oldest.index > 0
            && n < oldest.first_block.to::<u64>()
        {
            return Err(err(
                -32000,
                format!(
                    "block {n} is in a batch older than the {} newest this node keeps in view (from batch {})",
                    l1.batches.len(),
                    oldest.index
                ),
            ));
        }
        Ok(l1
            .batches
            .iter()
            .rev()
            .find(|b| {
                b.status != "rolledBack"
                    && b.first_block.to::<u64>() <= n
                    && n <= b.last_block.to::<u64>()
            })
            .cloned())
    }

    /// `infra_rollupConfig`: the chain's parameters and its L1 contracts.
    pub fn rollup_config(&self) -> RpcResult<Value> {
        let c = &self.chain;
        let v = self.ops.view.read();
        let mut cfg = serde_json::to_value(c).map_err(internal)?;
        if let Some(obj) = cfg.as_object_mut() {
            obj.insert("role".into(), json!(v.role));
            obj.insert(
                "l1".into(),
                match &v.l1 {
                    Some(l1) => json!({
                        "chainId": l1.l1_chain_id,
                        "rollup": l1.rollup,
                        "bridge": l1.bridge,
                        "disputeGame": l1.dispute_game,
                    }),
                    None => Value::Null,
                },
            );
        }
        Ok(cfg)
    }

    /// Sets the scrape-time gauges from the chain and the components' status.
    pub fn refresh_gauges(&self) {
        let m = &self.ops.metrics;
        let Ok(r) = self.reader() else { return };
        let Ok(head) = self.head(&r) else { return };
        set(&m.head, head);
        set(&m.safe_head, self.safe_block(&r).unwrap_or(head));
        drop(r);
        let (pending, queued) = self.pool_counts();
        set(&m.mempool_pending, pending as u64);
        set(&m.mempool_queued, queued as u64);
        set(&m.filters, self.filters.installed() as u64);
        let v = self.ops.view.read();
        if let Some(l1) = &v.l1 {
            set(&m.batches_posted, l1.batch_count);
            set(&m.batch_lag, head.saturating_sub(l1.batched_block().unwrap_or(0)));
            let fin = l1.finalized_block().unwrap_or(0);
            set(&m.finalized_head, fin);
            set(&m.finality_lag, head.saturating_sub(fin));
            if v.settlement.as_deref() == Some("zk") {
                set(&m.proofs, l1.next_to_finalize);
            }
        }
        if let Some(p) = &v.p2p {
            set(&m.peers, p.peers as u64);
        }
        if let Some(d) = &v.disputes {
            let open = d.opened.len().saturating_sub(d.won.len() + d.lost.len());
            set(&m.disputes_open, open as u64);
        }
    }
}
