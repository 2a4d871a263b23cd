//! JSON-RPC over WebSocket: calls answered as over HTTP (the same envelopes,
//! admission and methods), and `eth_subscribe` feeds. Each connection has one
//! bounded send queue (`rpc.ws_queue` messages): a subscriber that falls that
//! far behind is disconnected with a close frame saying why (1008, as geth
//! closes slow clients), so it never slows the node or other clients, and
//! never silently loses a notification it is still connected for.
//!
//! Notifications are made once per event for every subscriber (a new head's
//! JSON, a pending transaction's hash and, on first demand, its full JSON),
//! not once per subscriber.

use crate::{
    eth::invalid_params,
    gateway::Caller,
    jsonrpc::{self, Dispatcher},
};
use alloy::rpc::types::Filter;
use futures::{SinkExt as _, StreamExt as _};
use infra_primitives::SealedBlock;
use jsonrpsee::{server::StopHandle, types::ErrorObjectOwned};
use parking_lot::Mutex;
use serde_json::value::RawValue;
use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
    time::Duration,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message,
        protocol::{CloseFrame, Role, WebSocketConfig, frame::coding::CloseCode},
    },
};

/// Most subscriptions one connection may hold.
const MAX_SUBSCRIPTIONS: usize = 1_024;
/// Calls of one connection in progress at once.
const MAX_IN_FLIGHT: usize = 64;

/// A bus event, made ready for every subscriber once.
#[derive(Debug)]
pub(crate) enum FeedEvent {
    Block {
        block: Arc<SealedBlock>,
        /// The `newHeads` JSON.
        head: Option<Box<RawValue>>,
        /// The block's logs with their JSON, made on first demand.
        logs: OnceLock<Vec<(alloy::rpc::types::Log, Box<RawValue>)>>,
    },
    Pending {
        raw: alloy::primitives::Bytes,
        hash: Option<Box<RawValue>>,
        full: OnceLock<Option<Box<RawValue>>>,
    },
}

fn raw_json<T: serde::Serialize>(v: &T) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(v).ok()
}

impl FeedEvent {
    pub(crate) fn block(block: Arc<SealedBlock>) -> Self {
        let head = raw_json(&crate::convert::rpc_header(&block));
        FeedEvent::Block { block, head, logs: OnceLock::new() }
    }

    /// A pooled transaction (its EIP-2718 bytes) and its hash.
    pub(crate) fn pending(raw: alloy::primitives::Bytes, hash: alloy::primitives::B256) -> Self {
        FeedEvent::Pending { hash: raw_json(&hash), raw, full: OnceLock::new() }
    }

    fn full_pending(raw: &[u8]) -> Option<Box<RawValue>> {
        use alloy::{consensus::transaction::SignerRecoverable, eips::Decodable2718};
        let tx = alloy::consensus::TxEnvelope::decode_2718(&mut &raw[..]).ok()?;
        let sender = tx.recover_signer().ok()?;
        raw_json(&crate::convert::pending_tx(tx, sender))
    }
}

/// What an `eth_subscribe` follows.
enum Feed {
    Heads,
    Logs(Box<Filter>),
    /// Pool transactions: hashes, or whole transactions.
    Pending {
        full: bool,
    },
}

impl Feed {
    fn parse(params: Option<&RawValue>) -> Result<Self, ErrorObjectOwned> {
        let values: Vec<serde_json::Value> = match params {
            Some(p) => serde_json::from_str(p.get()).map_err(|e| invalid_params(e.to_string()))?,
            None => Vec::new(),
        };
        let kind = values.first().and_then(|v| v.as_str()).unwrap_or_default();
        let opt = values.get(1).filter(|v| !v.is_null());
        Ok(match kind {
            "newHeads" => Feed::Heads,
            "logs" => Feed::Logs(Box::new(match opt {
                Some(v) => serde_json::from_value(v.clone())
                    .map_err(|e| invalid_params(format!("invalid argument 1: {e}")))?,
                None => Filter::default(),
            })),
            "newPendingTransactions" => Feed::Pending {
                full: match opt {
                    None => false,
                    Some(serde_json::Value::Bool(b)) => *b,
                    Some(_) => return Err(invalid_params("invalid argument 1: want a boolean")),
                },
            },
            other => {
                return Err(invalid_params(format!(
                    "unsupported subscription {other:?}; supported: \"newHeads\", \"logs\", \"newPendingTransactions\""
                )));
            }
        })
    }

    /// The results `ev` gives this feed.
    fn results(&self, ev: &FeedEvent) -> Vec<Box<RawValue>> {
        match (self, ev) {
            (Feed::Heads, FeedEvent::Block { head: Some(h), .. }) => vec![h.clone()],
            (Feed::Logs(f), FeedEvent::Block { block, logs, .. }) => logs
                .get_or_init(|| {
                    crate::convert::block_logs(block)
                        .into_iter()
                        .filter_map(|l| raw_json(&l).map(|j| (l, j)))
                        .collect()
                })
                .iter()
                .filter(|(l, _)| f.matches(&l.inner))
                .map(|(_, j)| j.clone())
                .collect(),
            (Feed::Pending { full: false }, FeedEvent::Pending { hash: Some(h), .. }) => {
                vec![h.clone()]
            }
            (Feed::Pending { full: true }, FeedEvent::Pending { raw, full, .. }) => {
                full.get_or_init(|| FeedEvent::full_pending(raw)).iter().cloned().collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Why a connection is being closed.
#[derive(Debug, Clone)]
struct Closing {
    code: CloseCode,
    reason: String,
}

/// One connection's shared state.
struct Conn {
    out: mpsc::UnboundedSender<String>,
    close: watch::Sender<Option<Closing>>,
    subs: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Messages and bytes queued and not yet written, and their limits.
    queued: std::sync::atomic::AtomicUsize,
    queued_bytes: std::sync::atomic::AtomicUsize,
    queue: usize,
    queue_bytes: usize,
}

impl Conn {
    fn close(&self, code: CloseCode, reason: String) {
        self.close.send_if_modified(|c| {
            if c.is_some() {
                return false;
            }
            *c = Some(Closing { code, reason });
            true
        });
    }

    fn is_closing(&self) -> bool {
        self.close.borrow().is_some()
    }

    /// Queues a message (a response or a notification) without waiting: a
    /// queue over its limit, in messages or bytes, closes the connection.
    fn push(&self, msg: String) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.queued.fetch_add(1, Relaxed) + 1;
        let bytes = self.queued_bytes.fetch_add(msg.len(), Relaxed) + msg.len();
        if n > self.queue || bytes > self.queue_bytes {
            self.close(
                CloseCode::Policy,
                format!(
                    "client too slow: {} messages or {} MiB not read (rpc.ws_queue)",
                    self.queue,
                    self.queue_bytes >> 20
                ),
            );
            return false;
        }
        self.out.send(msg).is_ok()
    }
}

/// What a WebSocket connection needs from the server.
pub(crate) struct WsShared {
    pub dispatcher: Arc<Dispatcher>,
    pub feed: broadcast::Sender<Arc<FeedEvent>>,
    /// Messages queued for one connection before it counts as too slow.
    pub queue: usize,
    /// Bytes queued for one connection before it counts as too slow.
    pub queue_bytes: usize,
    pub max_message_bytes: usize,
    pub stop: StopHandle,
}

/// Answers an upgrade request (`101`) and serves the connection once hyper
/// hands it over.
pub(crate) fn upgrade(
    mut req: hyper::Request<hyper::body::Incoming>,
    shared: Arc<WsShared>,
    caller: Caller,
    permit: Arc<tokio::sync::OwnedSemaphorePermit>,
) -> jsonrpsee::server::HttpResponse {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    let h = req.headers();
    let key = h.get("sec-websocket-key").map(|k| derive_accept_key(k.as_bytes()));
    let version_ok = h.get("sec-websocket-version").is_some_and(|v| v.as_bytes() == b"13");
    let (Some(accept), true) = (key, version_ok) else {
        let mut rp = jsonrpsee::server::HttpResponse::new(
            "a WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13".into(),
        );
        *rp.status_mut() = http::StatusCode::BAD_REQUEST;
        return rp;
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let cfg = WebSocketConfig::default()
                    .max_message_size(Some(shared.max_message_bytes))
                    .max_frame_size(Some(shared.max_message_bytes));
                let ws = WebSocketStream::from_raw_socket(
                    hyper_util::rt::TokioIo::new(upgraded),
                    Role::Server,
                    Some(cfg),
                )
                .await;
                serve(ws, shared, caller, permit).await;
            }
            Err(e) => tracing::debug!(target: "rpc", "websocket upgrade: {e}"),
        }
    });
    let mut rp = jsonrpsee::server::HttpResponse::new(jsonrpsee::server::HttpBody::empty());
    *rp.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    let hs = rp.headers_mut();
    hs.insert(http::header::UPGRADE, http::HeaderValue::from_static("websocket"));
    hs.insert(http::header::CONNECTION, http::HeaderValue::from_static("Upgrade"));
    if let Ok(v) = http::HeaderValue::from_str(&accept) {
        hs.insert("sec-websocket-accept", v);
    }
    rp
}

/// Resolves once the connection is closing.
async fn closed(rx: &mut watch::Receiver<Option<Closing>>) {
    loop {
        if rx.borrow_and_update().is_some() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn serve<S>(
    ws: WebSocketStream<S>,
    shared: Arc<WsShared>,
    caller: Caller,
    permit_of_connection: Arc<tokio::sync::OwnedSemaphorePermit>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let (close_tx, mut close_rx) = watch::channel::<Option<Closing>>(None);
    let conn = Arc::new(Conn {
        out: out_tx,
        close: close_tx,
        subs: Mutex::new(HashMap::new()),
        queued: Default::default(),
        queued_bytes: Default::default(),
        queue: shared.queue.max(1),
        queue_bytes: shared.queue_bytes,
    });

    // The writer: the queue to the socket, until closed.
    let mut writer_close = close_rx.clone();
    let counters = conn.clone();
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                _ = closed(&mut writer_close) => break,
                msg = out_rx.recv() => {
                    let Some(msg) = msg else { break };
                    counters.queued.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    counters.queued_bytes.fetch_sub(msg.len(), std::sync::atomic::Ordering::Relaxed);
                    tokio::select! {
                        r = sink.send(Message::text(msg)) => if r.is_err() { return },
                        // A client that does not read can hold a send
                        // forever: a close gives up on it.
                        _ = closed(&mut writer_close) => break,
                    }
                }
            }
        }
        let closing = writer_close.borrow().clone();
        if let Some(c) = closing {
            tracing::info!(target: "rpc", code = u16::from(c.code), reason = %c.reason, "closing a WebSocket connection");
            let frame = CloseFrame { code: c.code, reason: c.reason.into() };
            // A client that reads again within the half minute gets the
            // frame after what was already on its way.
            let _ = tokio::time::timeout(
                Duration::from_secs(30),
                sink.send(Message::Close(Some(frame))),
            )
            .await;
        }
    });

    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    let stopped = shared.stop.clone().shutdown();
    tokio::pin!(stopped);
    loop {
        let msg = tokio::select! {
            _ = &mut stopped => {
                conn.close(CloseCode::Away, "the node is stopping".into());
                break;
            }
            _ = closed(&mut close_rx) => break,
            msg = stream.next() => msg,
        };
        let bytes = match msg {
            Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
            Some(Ok(Message::Binary(b))) => b.to_vec(),
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => continue, // ping, pong: answered by the library
            // A text frame that is not UTF-8 fails the connection (RFC 6455,
            // 1007), with the reason; over HTTP the same bytes are a -32700.
            Some(Err(tokio_tungstenite::tungstenite::Error::Utf8(e))) => {
                conn.close(CloseCode::Invalid, format!("invalid UTF-8 in a text frame: {e}"));
                break;
            }
            Some(Err(e)) => {
                tracing::debug!(target: "rpc", "websocket read: {e}");
                break;
            }
        };
        let permit = tokio::select! {
            _ = closed(&mut close_rx) => break,
            p = in_flight.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        while tasks.try_join_next().is_some() {}
        let (shared, conn, caller) = (shared.clone(), conn.clone(), caller.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let msg = jsonrpc::parse(&bytes, shared.dispatcher.max_batch);
            let starts: Arc<Mutex<Vec<oneshot::Sender<()>>>> = Arc::default();
            let answer = shared
                .dispatcher
                .answer(&caller, msg, |method, params| {
                    let (shared, conn, starts) = (shared.clone(), conn.clone(), starts.clone());
                    async move { subscription(&shared, &conn, &starts, &method, params.as_deref()) }
                })
                .await;
            if let Some(text) = answer {
                conn.push(text);
            }
            // Subscriptions send only after their id has gone out.
            for s in starts.lock().drain(..) {
                let _ = s.send(());
            }
        });
    }
    conn.close(CloseCode::Normal, String::new());
    tasks.abort_all();
    for (_, task) in conn.subs.lock().drain() {
        task.abort();
    }
    drop(permit_of_connection);
    let _ = writer.await;
}

/// `eth_subscribe` and `eth_unsubscribe` on one connection.
fn subscription(
    shared: &Arc<WsShared>,
    conn: &Arc<Conn>,
    starts: &Arc<Mutex<Vec<oneshot::Sender<()>>>>,
    method: &str,
    params: Option<&RawValue>,
) -> Result<Box<RawValue>, ErrorObjectOwned> {
    if method == "eth_unsubscribe" {
        let id: Vec<String> = params
            .map(|p| serde_json::from_str(p.get()))
            .transpose()
            .map_err(|e| invalid_params(e.to_string()))?
            .unwrap_or_default();
        let gone = id.first().and_then(|id| conn.subs.lock().remove(id));
        if let Some(task) = &gone {
            task.abort();
        }
        return raw_json(&gone.is_some()).ok_or_else(|| crate::eth::internal("serialize"));
    }
    let feed = Feed::parse(params)?;
    if conn.subs.lock().len() >= MAX_SUBSCRIPTIONS {
        return Err(jsonrpc::error(
            -32005,
            format!("too many subscriptions on this connection (at most {MAX_SUBSCRIPTIONS})"),
        ));
    }
    let id = format!("0x{}", alloy::hex::encode(crate::server::rand_bytes()));
    let (start_tx, start_rx) = oneshot::channel();
    starts.lock().push(start_tx);
    let mut events = shared.feed.subscribe();
    let (conn2, sub_id) = (Arc::downgrade(conn), id.clone());
    let task = tokio::spawn(async move {
        if start_rx.await.is_err() {
            return;
        }
        loop {
            let ev = match events.recv().await {
                Ok(ev) => ev,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    if let Some(c) = conn2.upgrade() {
                        c.close(
                            CloseCode::Policy,
                            format!("client too slow: {n} notifications behind"),
                        );
                    }
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let Some(c) = conn2.upgrade() else { return };
            for result in feed.results(&ev) {
                let msg = format!(
                    r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"{sub_id}","result":{}}}}}"#,
                    result.get()
                );
                if !c.push(msg) {
                    return;
                }
            }
        }
    });
    let mut subs = conn.subs.lock();
    if conn.is_closing() {
        // The connection ended meanwhile: nothing will read this.
        task.abort();
        return Err(jsonrpc::error(-32000, "the connection is closing"));
    }
    subs.insert(id.clone(), task.abort_handle());
    drop(subs);
    raw_json(&id).ok_or_else(|| crate::eth::internal("serialize"))
}
