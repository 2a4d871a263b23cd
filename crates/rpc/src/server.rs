use crate::eth::RpcContext;
use crate::gateway::{Gateway, GatewayConfig};
use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, Bytes, U64, U256},
    rpc::types::TransactionRequest,
};
use infra_bus::Event;
use jsonrpsee::{
    RpcModule,
    server::{ServerHandle, StopHandle, stop_channel},
    types::Params,
};
use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct RpcConfig {
    pub addr: SocketAddr,
    pub max_request_bytes: u32,
    pub max_connections: u32,
    /// Most calls in one batch request.
    pub max_batch: u32,
    pub max_response_bytes: u32,
    /// Most blocks one `eth_getLogs` may span.
    pub max_logs_range: u64,
    /// Messages queued for one WebSocket connection; a client that leaves
    /// more unread is disconnected.
    pub ws_queue: usize,
    pub gateway: GatewayConfig,
}

impl RpcConfig {
    /// Defaults for a node listening on `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            max_request_bytes: 5 * 1024 * 1024,
            max_connections: 1_000,
            max_batch: 100,
            max_response_bytes: 50 * 1024 * 1024,
            max_logs_range: crate::eth::MAX_LOG_RANGE,
            ws_queue: 4_096,
            gateway: GatewayConfig::default(),
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct RpcServer {
    pub local_addr: SocketAddr,
    pub handle: ServerHandle,
}

/// 16 random bytes (filter and subscription ids).
pub(crate) fn rand_bytes() -> [u8; 16] {
    let mut out = [0u8; 16];
    if getrandom::fill(&mut out).is_err() {
        // No system randomness: a counter and the time, hashed (unique, not secret).
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let h =
            alloy::primitives::keccak256([n.to_be_bytes().as_slice(), &t.to_be_bytes()].concat());
        out.copy_from_slice(&h[..16]);
    }
    out
}

fn opt<T: serde::de::DeserializeOwned>(
    p: &mut jsonrpsee::types::params::ParamsSequence<'_>,
) -> Result<Option<T>, jsonrpsee::types::ErrorObjectOwned> {
    p.optional_next::<T>()
}

/// `eth_call`'s fourth parameter, geth's block overrides: not supported (a
/// clear error, never ignored: a call that asked for another block context
/// must not silently run in this one).
fn no_block_overrides(
    p: &mut jsonrpsee::types::params::ParamsSequence<'_>,
) -> Result<(), jsonrpsee::types::ErrorObjectOwned> {
    match p.optional_next::<serde_json::Value>()? {
        None | Some(serde_json::Value::Null) => Ok(()),
        // An empty set overrides nothing.
        Some(serde_json::Value::Object(m)) if m.is_empty() => Ok(()),
        Some(_) => Err(jsonrpsee::types::ErrorObjectOwned::owned(
            -32602,
            "block overrides are not supported",
            None::<()>,
        )),
    }
}

/// A method answered on the connection's task: reads that take microseconds.
macro_rules! fast {
    ($m:ident, $name:literal, |$p:ident, $c:ident| $body:expr) => {
        $m.register_method($name, |params: Params<'_>, ctx: &RpcContext, _| {
            let $c: &RpcContext = ctx;
            #[allow(unused_mut)]
            let mut $p = params.sequence();
            $body
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    };
}

/// A method run on the blocking pool: execution, scans, proofs, writes.
macro_rules! reg {
    ($m:ident, $name:literal, |$p:ident, $c:ident| $body:expr) => {
        $m.register_blocking_method(
            $name,
            |params: Params<'_>, ctx: std::sync::Arc<RpcContext>, _| {
                let $c: &RpcContext = &ctx;
                #[allow(unused_mut)]
                let mut $p = params.sequence();
                $body
            },
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    };
}

fn build_module(ctx: RpcContext) -> std::io::Result<RpcModule<RpcContext>> {
    let has_blobs = ctx.blobs.is_some();
    let mut m = RpcModule::new(ctx);
    fast!(m, "eth_chainId", |_p, c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(c.chain_id()));
    fast!(m, "net_version", |_p, c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(
        c.chain.chain_id.to_string()
    ));
    fast!(m, "net_listening", |_p, _c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(true));
    fast!(m, "net_peerCount", |_p, _c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(U64::ZERO));
    fast!(m, "web3_clientVersion", |_p, c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(
        c.client_version.clone()
    ));
    fast!(m, "web3_sha3", |p, _c| {
        let data: Bytes = p.next()?;
        Ok::<_, jsonrpsee::types::ErrorObjectOwned>(alloy::primitives::keccak256(data))
    });
    fast!(m, "eth_blockNumber", |_p, c| c.block_number());
    fast!(m, "eth_blobBaseFee", |_p, c| c.blob_base_fee());
    if has_blobs {
        reg!(m, "anvil_getBlobsByTransactionHash", |p, c| c.blobs_by_tx(p.next()?));
        reg!(m, "infra_getBlobsByTransactionHash", |p, c| c.blobs_by_tx(p.next()?));
    }
    reg!(m, "eth_getBlockByNumber", |p, c| {
        let tag: BlockNumberOrTag = p.next()?;
        let full: bool = opt(&mut p)?.unwrap_or(false);
        c.get_block(BlockId::Number(tag), full)
    });
    reg!(m, "eth_getBlockByHash", |p, c| {
        let hash: B256 = p.next()?;
        let full: bool = opt(&mut p)?.unwrap_or(false);
        c.get_block(BlockId::from(hash), full)
    });
    fast!(m, "eth_getBlockTransactionCountByNumber", |p, c| c
        .block_tx_count(BlockId::Number(p.next()?)));
    fast!(m, "eth_getBlockTransactionCountByHash", |p, c| c
        .block_tx_count(BlockId::from(p.next::<B256>()?)));
    fast!(m, "eth_getTransactionByBlockNumberAndIndex", |p, c| {
        let tag: BlockNumberOrTag = p.next()?;
        c.tx_by_block_and_index(BlockId::Number(tag), p.next()?)
    });
    fast!(m, "eth_getTransactionByBlockHashAndIndex", |p, c| {
        let hash: B256 = p.next()?;
        c.tx_by_block_and_index(BlockId::from(hash), p.next()?)
    });
    fast!(m, "eth_getBalance", |p, c| {
        let a: Address = p.next()?;
        c.balance(a, opt(&mut p)?)
    });
    fast!(m, "eth_getTransactionCount", |p, c| {
        let a: Address = p.next()?;
        c.tx_count(a, opt(&mut p)?)
    });
    fast!(m, "eth_getCode", |p, c| {
        let a: Address = p.next()?;
        c.code(a, opt(&mut p)?)
    });
    fast!(m, "eth_getStorageAt", |p, c| {
        let a: Address = p.next()?;
        let slot: U256 = p.next()?;
        c.storage_at(a, slot, opt(&mut p)?)
    });
    reg!(m, "infra_getStorageProof", |p, c| {
        let a: Address = p.next()?;
        let slot: U256 = p.next()?;
        c.storage_proof(a, slot, opt(&mut p)?)
    });
    reg!(m, "infra_getWithdrawalProof", |p, c| {
        let hash: alloy::primitives::B256 = p.next()?;
        c.withdrawal_proof(hash, opt(&mut p)?)
    });
    reg!(m, "infra_getStateWitness", |p, c| {
        let pre: U64 = p.next()?;
        c.state_witness(pre, p.next()?)
    });
    fast!(m, "eth_gasPrice", |_p, c| c.gas_price());
    fast!(m, "eth_maxPriorityFeePerGas", |_p, c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(
        c.max_priority_fee()
    ));
    reg!(m, "eth_feeHistory", |p, c| {
        let count: U64 = p.next()?;
        let newest: BlockNumberOrTag = p.next()?;
        c.fee_history(count, newest, opt(&mut p)?)
    });
    reg!(m, "eth_call", |p, c| {
        let req: TransactionRequest = p.next()?;
        let id = opt(&mut p)?;
        let overrides = opt(&mut p)?;
        no_block_overrides(&mut p)?;
        c.call(req, id, overrides)
    });
    reg!(m, "eth_estimateGas", |p, c| {
        let req: TransactionRequest = p.next()?;
        let id = opt(&mut p)?;
        let overrides = opt(&mut p)?;
        no_block_overrides(&mut p)?;
        c.estimate_gas(req, id, overrides)
    });
    reg!(m, "eth_sendRawTransaction", |p, c| c.send_raw(p.next()?));
    fast!(m, "eth_getTransactionByHash", |p, c| c.tx_by_hash(p.next()?));
    fast!(m, "eth_getTransactionReceipt", |p, c| c.receipt(p.next()?));
    reg!(m, "eth_getLogs", |p, c| c.logs(p.next()?));
    fast!(m, "eth_syncing", |_p, c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(c.syncing()));
    fast!(m, "eth_accounts", |_p, _c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(
        Vec::<Address>::new()
    ));
    fast!(m, "eth_mining", |_p, _c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(false));
    fast!(m, "eth_hashrate", |_p, _c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(U64::ZERO));
    fast!(
        m,
        "eth_getUncleCountByBlockNumber",
        |_p, _c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(U64::ZERO)
    );
    fast!(m, "eth_getUncleCountByBlockHash", |_p, _c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(
        U64::ZERO
    ));

    reg!(m, "eth_getBlockReceipts", |p, c| c.block_receipts(p.next()?));
    fast!(m, "eth_newFilter", |p, c| c.new_filter(p.next()?));
    fast!(m, "eth_newBlockFilter", |_p, c| c.new_block_filter());
    fast!(m, "eth_newPendingTransactionFilter", |_p, c| c.new_pending_filter());
    reg!(m, "eth_getFilterChanges", |p, c| c.filter_changes(p.next()?));
    reg!(m, "eth_getFilterLogs", |p, c| c.filter_logs(p.next()?));
    fast!(m, "eth_uninstallFilter", |p, c| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(
        c.uninstall_filter(p.next()?)
    ));
    reg!(m, "eth_createAccessList", |p, c| {
        let req: TransactionRequest = p.next()?;
        c.create_access_list(req, opt(&mut p)?)
    });
    reg!(m, "debug_traceTransaction", |p, c| {
        let hash: B256 = p.next()?;
        c.trace_transaction(hash, opt(&mut p)?)
    });
    reg!(m, "debug_traceCall", |p, c| {
        let req: TransactionRequest = p.next()?;
        let id: Option<BlockId> = opt(&mut p)?;
        c.trace_call(req, id, opt(&mut p)?)
    });
    reg!(m, "infra_status", |_p, c| c.status());
    fast!(m, "infra_getBatchByBlock", |p, c| c.batch_by_block(p.next()?));
    fast!(m, "infra_rollupConfig", |_p, c| c.rollup_config());
    reg!(m, "infra_getAccountProof", |p, c| {
        let a: Address = p.next()?;
        c.account_proof(a, opt(&mut p)?)
    });
    reg!(m, "admin_createKey", |p, c| c.admin_create_key(p.next()?));
    fast!(m, "admin_listKeys", |_p, c| c.admin_list_keys());
    reg!(m, "admin_revokeKey", |p, c| c.admin_revoke_key(p.next()?));

    Ok(m)
}

/// A pooled transaction's hash.
fn pending_hash(raw: &[u8]) -> Option<B256> {
    use alloy::eips::Decodable2718;
    let tx = alloy::consensus::TxEnvelope::decode_2718(&mut &raw[..]).ok()?;
    Some(*tx.tx_hash())
}

/// Follows the bus for what the RPC keeps besides the database: block counters
/// for `/metrics`, pool transactions for pending filters, and the WebSocket
/// subscriptions' feed (each event made ready once for all connections).
fn spawn_feeds(
    ctx: std::sync::Arc<RpcContext>,
    feed: tokio::sync::broadcast::Sender<std::sync::Arc<crate::ws::FeedEvent>>,
    stop: StopHandle,
) {
    let mut events = ctx.bus.subscribe();
    tokio::spawn(async move {
        let stopped = stop.shutdown();
        tokio::pin!(stopped);
        loop {
            let ev = tokio::select! {
                _ = &mut stopped => return,
                ev = events.recv() => ev,
            };
            let ev = match ev {
                Ok(ev) => ev,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(target: "rpc", "the RPC missed {n} bus events (subscriptions and filters among them)");
                    continue;
                }
                Err(_) => return,
            };
            let subscribed = feed.receiver_count() > 0;
            let ready = match ev {
                Event::BlockSealed(b) => {
                    let m = &ctx.ops.metrics;
                    m.blocks.inc();
                    m.transactions.inc_by(b.tx_count() as u64);
                    m.gas_used.inc_by(b.header.gas_used);
                    subscribed.then(|| crate::ws::FeedEvent::block(b))
                }
                Event::PendingTx(raw) => {
                    let Some(hash) = pending_hash(&raw) else { continue };
                    ctx.filters.pending(hash);
                    subscribed.then(|| crate::ws::FeedEvent::pending(raw, hash))
                }
                _ => None,
            };
            if let Some(f) = ready {
                let _ = feed.send(std::sync::Arc::new(f));
            }
        }
    });
}

/// Each connection's kernel send buffer (Linux doubles it).
const SEND_BUFFER_BYTES: usize = 256 * 1024;

/// The body length a request declares (`Content-Length`).
fn declared_length<B>(req: &hyper::Request<B>) -> Option<u64> {
    req.headers().get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Starts HTTP + WebSocket JSON-RPC on `cfg.addr`, behind the gateway.
pub async fn start(cfg: RpcConfig, ctx: RpcContext) -> std::io::Result<RpcServer> {
    let module = build_module(ctx.clone())?;
    let mut names: Vec<String> = module.method_names().map(str::to_string).collect();
    names.extend(["eth_subscribe".to_string(), "eth_unsubscribe".to_string()]);
    let methods: jsonrpsee::Methods = module.into();
    let ctx = std::sync::Arc::new(ctx);
    let gateway = std::sync::Arc::new(Gateway::new(cfg.gateway.clone(), &ctx, names));
    let listener = tokio::net::TcpListener::bind(cfg.addr).await?;
    let local_addr = listener.local_addr()?;
    let (stop, handle) = stop_channel();
    let dispatcher = std::sync::Arc::new(crate::jsonrpc::Dispatcher {
        methods,
        gateway: gateway.clone(),
        max_response_bytes: cfg.max_response_bytes as usize,
        max_batch: cfg.max_batch as usize,
    });
    let (feed, _) = tokio::sync::broadcast::channel(4_096);
    let shared = std::sync::Arc::new(crate::ws::WsShared {
        dispatcher,
        feed: feed.clone(),
        queue: cfg.ws_queue,
        // Room for the largest response, and then some.
        queue_bytes: (64usize << 20).max(cfg.max_response_bytes as usize + (1 << 20)),
        max_message_bytes: cfg.max_request_bytes as usize,
        stop: stop.clone(),
    });
    spawn_feeds(ctx.clone(), feed, stop.clone());
    // Open sockets, idle keep-alive ones included: at the limit, accepting waits.
    let sockets = std::sync::Arc::new(tokio::sync::Semaphore::new(cfg.max_connections as usize));
    tokio::spawn(async move {
        let stopped = stop.clone().shutdown();
        tokio::pin!(stopped);
        loop {
            let permit = tokio::select! {
                _ = &mut stopped => return,
                p = sockets.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
            };
            let (socket, peer) = tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, go on.
                        tracing::warn!(target: "rpc", "accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = socket.set_nodelay(true);
            // A bounded kernel send buffer: what a client leaves unread stays
            // in its connection's queue, where it counts (see `ws`), not in
            // megabytes of auto-tuned socket memory.
            let _ = socket2::SockRef::from(&socket).set_send_buffer_size(SEND_BUFFER_BYTES);
            let (gateway, ctx, conn_stop, shared) =
                (gateway.clone(), ctx.clone(), stop.clone(), shared.clone());
            // Held by the connection, and by its WebSocket after an upgrade.
            let permit = std::sync::Arc::new(permit);
            let max_bytes = u64::from(cfg.max_request_bytes);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (gateway, ctx, shared, permit) =
                            (gateway.clone(), ctx.clone(), shared.clone(), permit.clone());
                        async move {
                            if let Some(len) = declared_length(&req).filter(|n| *n > max_bytes) {
                                return Ok(crate::gateway::too_large(req, len, max_bytes).await);
                            }
                            crate::gateway::serve_http(gateway, ctx, peer, req, shared, permit)
                                .await
                        }
                    },
                );
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    // A client has this long to send a request's headers
                    // (slow or idle keep-alive sockets are closed).
                    .header_read_timeout(std::time::Duration::from_secs(30))
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                    .with_upgrades();
                tokio::pin!(conn);
                tokio::select! {
                    res = conn.as_mut() => if let Err(e) = res {
                        tracing::debug!(target: "rpc", %peer, "connection: {e}");
                    },
                    _ = conn_stop.shutdown() => {
                        // Finish the request in flight, then close.
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), conn).await;
                    }
                }
            });
        }
    });
    Ok(RpcServer { local_addr, handle })
}
