//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4).

use prometheus_client::{
    encoding::text::encode,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 50 µs .. ~13 s.
    Histogram::new(exponential_buckets(0.00005, 2.0, 19))
}

/// Every series the node exports. Counters move as things happen; gauges are
/// set from the chain and the node's status at each scrape.
pub struct Metrics {
    registry: Registry,
    pub blocks: Counter,
    pub transactions: Counter,
    pub gas_used: Counter,
    pub head: Gauge,
    pub safe_head: Gauge,
    pub finalized_head: Gauge,
    pub mempool_pending: Gauge,
    pub mempool_queued: Gauge,
    pub batch_lag: Gauge,
    pub finality_lag: Gauge,
    pub batches_posted: Gauge,
    pub proofs: Gauge,
    pub disputes_open: Gauge,
    pub peers: Gauge,
    pub rpc_requests: Family<Labels, Counter>,
    pub rpc_latency: Family<Labels, Histogram, fn() -> Histogram>,
    pub rate_limited: Family<Labels, Counter>,
    pub refused: Family<Labels, Counter>,
    pub filters: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("infra");
        let m = Self {
            registry: Registry::default(),
            blocks: Counter::default(),
            transactions: Counter::default(),
            gas_used: Counter::default(),
            head: Gauge::default(),
            safe_head: Gauge::default(),
            finalized_head: Gauge::default(),
            mempool_pending: Gauge::default(),
            mempool_queued: Gauge::default(),
            batch_lag: Gauge::default(),
            finality_lag: Gauge::default(),
            batches_posted: Gauge::default(),
            proofs: Gauge::default(),
            disputes_open: Gauge::default(),
            peers: Gauge::default(),
            rpc_requests: Family::default(),
            rpc_latency: Family::new_with_constructor(latency_histogram),
            rate_limited: Family::default(),
            refused: Family::default(),
            filters: Gauge::default(),
        };
        registry.register("blocks", "Blocks sealed or imported since start", m.blocks.clone());
        registry.register(
            "transactions",
            "Transactions in those blocks (deposits included)",
            m.transactions.clone(),
        );
        registry.register("gas_used", "Gas used by those blocks", m.gas_used.clone());
        registry.register("head_block", "Number of the newest block", m.head.clone());
        registry.register(
            "safe_block",
            "Newest block derived from L1 (validators; the head on a sequencer)",
            m.safe_head.clone(),
        );
        registry.register(
            "finalized_block",
            "Last L2 block of the newest batch final on L1",
            m.finalized_head.clone(),
        );
        registry.register(
            "mempool_pending",
            "Pool transactions ready to be included",
            m.mempool_pending.clone(),
        );
        registry.register(
            "mempool_queued",
            "Pool transactions waiting for a nonce gap",
            m.mempool_queued.clone(),
        );
        registry.register(
            "batch_lag_blocks",
            "Blocks sealed but not yet in a batch on L1",
            m.batch_lag.clone(),
        );
        registry.register(
            "finality_lag_blocks",
            "Blocks not yet final on L1 (proof or challenge period pending)",
            m.finality_lag.clone(),
        );
        registry.register(
            "batches_posted",
            "Batches in the rollup contract",
            m.batches_posted.clone(),
        );
        registry.register("proofs", "Batches proven on L1 (zk settlement)", m.proofs.clone());
        registry.register(
            "disputes_open",
            "Dispute games this node plays that are open",
            m.disputes_open.clone(),
        );
        registry.register("p2p_peers", "Connected peers", m.peers.clone());
        registry.register(
            "rpc_requests",
            "JSON-RPC calls by method and outcome (ok, error, refused, rate_limited)",
            m.rpc_requests.clone(),
        );
        registry.register(
            "rpc_request_duration_seconds",
            "JSON-RPC call latency by method",
            m.rpc_latency.clone(),
        );
        registry.register(
            "rpc_rate_limited",
            "Calls refused by a rate limit, by scope (key, ip)",
            m.rate_limited.clone(),
        );
        registry.register(
            "rpc_refused",
            "Requests refused by the gateway, by reason",
            m.refused.clone(),
        );
        registry.register("rpc_filters", "Installed polled filters", m.filters.clone());
        // Series that exist before the first event, so dashboards see zeros.
        for scope in ["key", "ip"] {
            m.rate_limited.get_or_create(&vec![("scope", scope.to_string())]).inc_by(0);
        }
        for reason in ["key_required", "unknown_key", "revoked_key", "method_not_allowed"] {
            m.refused.get_or_create(&vec![("reason", reason.to_string())]).inc_by(0);
        }
        Self { registry, ..m }
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Sets a gauge from an unsigned count.
pub fn set(g: &Gauge, v: u64) {
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
}
