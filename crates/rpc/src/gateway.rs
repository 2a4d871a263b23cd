//! The RPC gateway in front of JSON-RPC: API keys (stored hashed in the node's
//! database), per-key method allow-lists, rate limits per key and per IP with a
//! cost per method, CORS, request ids, and the operator endpoints (`/metrics`,
//! `/health`, `/ready`, `/dashboard`).

use crate::{eth::RpcContext, ops::Ops};
use alloy::primitives::{B256, keccak256};
use infra_storage::Store;
use jsonrpsee::{
    server::{HttpBody, HttpRequest, HttpResponse},
    types::ErrorObjectOwned,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

/// Requests per second with a burst (the bucket's size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

/// How the gateway treats requests.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Every JSON-RPC request needs a valid key (`/v1/<key>`, `X-API-Key` or
    /// `Authorization: Bearer`).
    pub require_keys: bool,
    /// Origins browsers may call from (`*`: any); empty: no CORS headers.
    pub cors: Vec<String>,
    /// Limit per client IP address (none: unlimited).
    pub ip_rate: Option<Rate>,
    /// Limit per key, unless the key has its own.
    pub key_rate: Rate,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            require_keys: false,
            cors: Vec::new(),
            ip_rate: None,
            key_rate: Rate { per_second: 100, burst: 200 },
        }
    }
}

/// What one call costs against a rate limit: heavy methods more.
pub fn method_cost(method: &str) -> u32 {
    match method {
        "eth_call"
        | "eth_estimateGas"
        | "eth_getLogs"
        | "eth_getFilterLogs"
        | "eth_createAccessList" => 10,
        m if m.starts_with("debug_") => 20,
        "infra_getStateWitness" => 20,
        _ => 1,
    }
}

/// Methods a read-only key may not call.
pub const SEND_METHODS: [&str; 2] = ["eth_sendRawTransaction", "eth_sendTransaction"];

// ---- keys ----

/// An API key as stored (the secret is not: the table is keyed by its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// Public handle: `k_` and the first 12 hex digits of the secret's hash
    /// (unique among the node's keys).
    pub id: String,
    pub project: String,
    pub name: String,
    /// Unix seconds.
    pub created_at: u64,
    pub revoked: bool,
    /// Allowed methods (`eth_call`, or a prefix such as `eth_*`); none: all.
    pub methods: Option<Vec<String>>,
    /// May not send transactions.
    pub read_only: bool,
    /// Its own rate limit, instead of the gateway's default.
    pub rate: Option<Rate>,
}

impl KeyRecord {
    /// Whether this key may call `method`.
    pub fn allows(&self, method: &str) -> bool {
        if self.read_only && SEND_METHODS.contains(&method) {
            return false;
        }
        match &self.methods {
            None => true,
            Some(list) => list.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => method.starts_with(prefix),
                None => p == method,
            }),
        }
    }
}

/// What a new key may do.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewKey {
    pub project: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub rate: Option<Rate>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Storage(#[from] infra_storage::StorageError),
    #[error("corrupt key record: {0}")]
    Corrupt(String),
    #[error("no API key with id {0:?}")]
    Unknown(String),
    #[error("{0}")]
    Invalid(String),
    #[error("no randomness: {0}")]
    Random(String),
}

/// Secrets look like `ink_` and 64 hex digits (256 random bits).
pub const KEY_PREFIX: &str = "ink_";

fn secret_hash(secret: &str) -> B256 {
    keccak256(secret.as_bytes())
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Creates a key; returns its secret (shown once, never stored) and record.
pub fn create_key(store: &Store, new: NewKey) -> Result<(String, KeyRecord), KeyError> {
    let project = new.project.trim();
    if project.is_empty() || project.len() > 64 {
        return Err(KeyError::Invalid("project: 1 to 64 characters".into()));
    }
    if let Some(r) = new.rate
        && (r.per_second == 0 || r.burst == 0)
    {
        return Err(KeyError::Invalid("rate: perSecond and burst must be at least 1".into()));
    }
    let taken: std::collections::HashSet<String> =
        list_keys(store)?.into_iter().map(|k| k.id).collect();
    let (secret, hash, id) = loop {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| KeyError::Random(e.to_string()))?;
        let secret = format!("{KEY_PREFIX}{}", alloy::hex::encode(raw));
        let hash = secret_hash(&secret);
        let id = format!("k_{}", &alloy::hex::encode(hash)[..12]);
        if !taken.contains(&id) {
            break (secret, hash, id);
        }
    };
    let record = KeyRecord {
        id,
        project: project.to_string(),
        name: new.name,
        created_at: now_s(),
        revoked: false,
        methods: new.methods.filter(|m| !m.is_empty()),
        read_only: new.read_only,
        rate: new.rate,
    };
    store.put_api_key(hash, &encode(&record)?)?;
    Ok((secret, record))
}

fn encode(r: &KeyRecord) -> Result<Vec<u8>, KeyError> {
    serde_json::to_vec(r).map_err(|e| KeyError::Corrupt(e.to_string()))
}

fn decode(raw: &[u8]) -> Result<KeyRecord, KeyError> {
    serde_json::from_slice(raw).map_err(|e| KeyError::Corrupt(e.to_string()))
}

/// Every key, oldest first.
pub fn list_keys(store: &Store) -> Result<Vec<KeyRecord>, KeyError> {
    let mut keys = store
        .reader()?
        .api_keys()?
        .iter()
        .map(|(_, raw)| decode(raw))
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(keys)
}

/// Revokes the key with public id `id`; requests with it are refused from then on.
pub fn revoke_key(store: &Store, id: &str) -> Result<KeyRecord, KeyError> {
    let keys = store.reader()?.api_keys()?;
    for (hash, raw) in keys {
        let mut record = decode(&raw)?;
        if record.id == id {
            record.revoked = true;
            store.put_api_key(hash, &encode(&record)?)?;
            return Ok(record);
        }
    }
    Err(KeyError::Unknown(id.to_string()))
}

fn find_key(store: &Store, hash: B256) -> Result<Option<KeyRecord>, KeyError> {
    store.reader()?.api_key(hash)?.map(|raw| decode(&raw)).transpose()
}

// ---- rate limits ----

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets, one per scope (a key id, an IP address).
#[derive(Default)]
struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
    swept: Mutex<Option<Instant>>,
}

impl Limiter {
    /// Takes `cost` from every scope's bucket, or from none: on refusal, which
    /// scope refused and when it will have enough.
    fn take(&self, scopes: &[(String, Rate)], cost: u32) -> Result<(), (usize, Duration)> {
        let mut buckets = self.buckets.lock();
        if buckets.len() > 100_000 {
            // Forget idle clients (a bucket idle for a minute has refilled, at
            // the rates one would set), at most every ten seconds.
            let mut swept = self.swept.lock();
            if swept.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                buckets.retain(|_, b| b.at.elapsed() < Duration::from_secs(60));
                *swept = Some(Instant::now());
            }
        }
        let now = Instant::now();
        for (i, (scope, rate)) in scopes.iter().enumerate() {
            let burst = f64::from(rate.burst.max(1));
            let per_s = f64::from(rate.per_second.max(1));
            let b = buckets.entry(scope.clone()).or_insert(Bucket { tokens: burst, at: now });
            b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_s).min(burst);
            b.at = now;
            // A request dearer than the whole burst goes through on a full
            // bucket and leaves it in debt: the rate holds over time.
            let need = f64::from(cost).min(burst);
            if b.tokens < need {
                return Err((i, Duration::from_secs_f64((need - b.tokens) / per_s)));
            }
        }
        for (scope, _) in scopes {
            if let Some(b) = buckets.get_mut(scope) {
                b.tokens -= f64::from(cost);
            }
        }
        Ok(())
    }
}

// ---- admission ----

/// Why the gateway refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    KeyRequired,
    UnknownKey,
    Revoked(String),
    MethodNotAllowed { method: String, key: String },
    AdminRemote,
    RateLimited { scope: &'static str, retry_after: Duration },
}

/// How long a valid key's record is reused before it is read again.
const KEY_CACHE_TTL: Duration = Duration::from_secs(1);

/// EIP-1193's "Unauthorized".
pub const UNAUTHORIZED: i32 = 4100;
/// EIP-1474's "Limit exceeded".
pub const LIMIT_EXCEEDED: i32 = -32005;

impl Refusal {
    fn reason(&self) -> &'static str {
        match self {
            Refusal::KeyRequired => "key_required",
            Refusal::UnknownKey => "unknown_key",
            Refusal::Revoked(_) => "revoked_key",
            Refusal::MethodNotAllowed { .. } => "method_not_allowed",
            Refusal::AdminRemote => "admin_remote",
            Refusal::RateLimited { .. } => "rate_limited",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Refusal::KeyRequired | Refusal::UnknownKey => 401,
            Refusal::RateLimited { .. } => 429,
            _ => 403,
        }
    }

    pub fn error(&self) -> ErrorObjectOwned {
        let (code, msg) = match self {
            Refusal::KeyRequired => (
                UNAUTHORIZED,
                "API key required: call /v1/<key> or send the X-API-Key header".to_string(),
            ),
            Refusal::UnknownKey => (UNAUTHORIZED, "invalid API key".to_string()),
            Refusal::Revoked(id) => (UNAUTHORIZED, format!("API key {id} has been revoked")),
            Refusal::MethodNotAllowed { method, key } => {
                (UNAUTHORIZED, format!("method {method} is not allowed for API key {key}"))
            }
            Refusal::AdminRemote => {
                (UNAUTHORIZED, "admin_ methods are served to localhost only".to_string())
            }
            Refusal::RateLimited { scope, retry_after } => (
                LIMIT_EXCEEDED,
                format!(
                    "rate limit exceeded ({scope}): retry in {} ms",
                    retry_after.as_millis().max(1)
                ),
            ),
        };
        ErrorObjectOwned::owned(code, msg, None::<()>)
    }

    fn retry_after_s(&self) -> Option<u64> {
        match self {
            Refusal::RateLimited { retry_after, .. } => {
                Some(retry_after.as_secs_f64().ceil().max(1.0) as u64)
            }
            _ => None,
        }
    }
}

/// Who is calling: set on each HTTP request and WebSocket connection, read by
/// the per-call admission.
#[derive(Debug, Clone)]
pub struct Caller {
    pub ip: IpAddr,
    pub key: Option<Arc<KeyRecord>>,
    /// The hash of the key's secret: a WebSocket session re-reads the record on
    /// each call, so a revocation ends it.
    key_hash: Option<B256>,
    /// On loopback, with no proxy header: may call `admin_` methods.
    pub local: bool,
    pub ws: bool,
    /// The first refusal of an HTTP request, for its status code.
    refusal: Arc<Mutex<Option<Refusal>>>,
}

/// Per-key counters since the node started.
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyUsage {
    pub requests: u64,
    pub rejected: u64,
    pub last_used: Option<u64>,
}

/// The gateway: shared by every connection.
pub struct Gateway {
    pub cfg: GatewayConfig,
    store: Store,
    ops: Arc<Ops>,
    limiter: Limiter,
    /// Registered method names (metrics label only these).
    methods: std::collections::HashSet<String>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl Gateway {
    pub fn new(
        cfg: GatewayConfig,
        ctx: &RpcContext,
        methods: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            cfg,
            store: ctx.store.clone(),
            ops: ctx.ops.clone(),
            limiter: Limiter::default(),
            methods: methods.into_iter().collect(),
        }
    }

    fn count(&self, reason: &'static str) {
        self.ops.metrics.refused.get_or_create(&vec![("reason", reason.to_string())]).inc();
    }

    /// The key a request names, checked, with its hash. `Ok(None)`: none named.
    fn authenticate(
        &self,
        secret: Option<&str>,
    ) -> Result<Option<(Arc<KeyRecord>, B256)>, Refusal> {
        let Some(secret) = secret else { return Ok(None) };
        let hash = secret_hash(secret);
        self.lookup(hash).map(|k| Some((k, hash)))
    }

    fn lookup(&self, hash: B256) -> Result<Arc<KeyRecord>, Refusal> {
        if let Some((at, k)) = self.ops.key_cache.lock().get(&hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(k.clone());
        }
        match find_key(&self.store, hash) {
            Ok(Some(k)) if k.revoked => Err(Refusal::Revoked(k.id)),
            Ok(Some(k)) => {
                let k = Arc::new(k);
                let mut cache = self.ops.key_cache.lock();
                if cache.len() >= 10_000 {
                    cache.clear();
                }
                cache.insert(hash, (Instant::now(), k.clone()));
                Ok(k)
            }
            Ok(None) => Err(Refusal::UnknownKey),
            Err(e) => {
                tracing::error!(target: "rpc", "API key lookup: {e}");
                Err(Refusal::UnknownKey)
            }
        }
    }

    /// May `caller` call `method` at all (keys, allow-lists, the admin namespace)?
    fn check(&self, caller: &Caller, method: &str) -> Result<(), Refusal> {
        if method.starts_with("admin_") {
            return if caller.local { Ok(()) } else { Err(Refusal::AdminRemote) };
        }
        if caller.ws
            && let Some(hash) = caller.key_hash
        {
            self.lookup(hash)?;
        }
        match &caller.key {
            Some(k) if !k.allows(method) => {
                Err(Refusal::MethodNotAllowed { method: method.to_string(), key: k.id.clone() })
            }
            Some(_) => Ok(()),
            None if self.cfg.require_keys => Err(Refusal::KeyRequired),
            None => Ok(()),
        }
    }

    /// Charges `cost` to the caller's key and IP.
    fn charge(&self, caller: &Caller, cost: u32) -> Result<(), Refusal> {
        let mut scopes: Vec<(String, Rate)> = Vec::with_capacity(2);
        let mut names = Vec::with_capacity(2);
        if let Some(k) = &caller.key {
            scopes.push((format!("key:{}", k.id), k.rate.unwrap_or(self.cfg.key_rate)));
            names.push("key");
        }
        if let Some(rate) = self.cfg.ip_rate {
            scopes.push((format!("ip:{}", caller.ip), rate));
            names.push("ip");
        }
        if scopes.is_empty() {
            return Ok(());
        }
        self.limiter.take(&scopes, cost).map_err(|(i, retry_after)| {
            let scope = names[i];
            self.ops.metrics.rate_limited.get_or_create(&vec![("scope", scope.to_string())]).inc();
            Refusal::RateLimited { scope, retry_after }
        })
    }

    /// Admits the calls `methods` of one request (a batch counts once, at the sum
    /// of its costs): per method, `Ok` or why not.
    fn admit(&self, caller: &Caller, methods: &[&str]) -> Vec<Result<(), Refusal>> {
        let mut verdicts: Vec<Result<(), Refusal>> =
            methods.iter().map(|m| self.check(caller, m)).collect();
        let cost: u32 = methods
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| v.is_ok())
            .map(|(m, _)| method_cost(m))
            .sum();
        if cost > 0
            && let Err(r) = self.charge(caller, cost)
        {
            for v in verdicts.iter_mut().filter(|v| v.is_ok()) {
                *v = Err(r.clone());
            }
        }
        if let Some(k) = &caller.key {
            let refused = verdicts.iter().filter(|v| v.is_err()).count() as u64;
            let mut usage = self.ops.key_usage.lock();
            let u = usage.entry(k.id.clone()).or_default();
            u.requests += methods.len() as u64;
            u.rejected += refused;
            u.last_used = Some(now_s());
        }
        for r in verdicts.iter().filter_map(|v| v.as_ref().err()) {
            self.count(r.reason());
        }
        verdicts
    }

    fn label(&self, method: &str) -> String {
        if self.methods.contains(method) { method.to_string() } else { "other".to_string() }
    }

    /// Admission of the calls of one request (a batch is charged as one): a
    /// refusal's JSON-RPC error for each refused call; the first refusal is
    /// kept for the HTTP status when every call was refused.
    pub(crate) fn admit_calls(
        &self,
        caller: &Caller,
        methods: &[&str],
    ) -> Vec<Result<(), ErrorObjectOwned>> {
        let verdicts = self.admit(caller, methods);
        if let Some(Err(first)) = verdicts.first()
            && verdicts.iter().all(Result::is_err)
        {
            *caller.refusal.lock() = Some(first.clone());
        }
        verdicts.into_iter().map(|v| v.map_err(|r| r.error())).collect()
    }

    pub(crate) fn observe(&self, method: &str, took: Duration, outcome: &'static str) {
        let m = &self.ops.metrics;
        let label = self.label(method);
        m.rpc_requests
            .get_or_create(&vec![("method", label.clone()), ("outcome", outcome.to_string())])
            .inc();
        m.rpc_latency.get_or_create(&vec![("method", label)]).observe(took.as_secs_f64());
    }
}

// ---- the per-call middleware (HTTP and WebSocket alike) ----

/// Admission and metrics for every JSON-RPC call.
const DASHBOARD: &str = include_str!("../assets/dashboard.html");

fn response(status: u16, content_type: &'static str, body: impl Into<HttpBody>) -> HttpResponse {
    let mut rp = HttpResponse::new(body.into());
    *rp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    rp.headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    rp
}

/// Most bytes of an oversized body read (and dropped) before answering 413: a
/// client still sending it would otherwise see its connection reset instead of
/// the answer. Beyond this the connection is closed.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
/// Longest time spent reading an oversized body before answering 413.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The answer to a request whose declared body (`len` bytes) is over `max`
/// (`rpc.max_request_bytes`): 413 with a JSON-RPC error, after reading the body
/// (up to [`DRAIN_BYTES`]) so that the client gets to read it.
pub async fn too_large(
    req: hyper::Request<hyper::body::Incoming>,
    len: u64,
    max: u64,
) -> HttpResponse {
    use hyper::body::Body as _;
    let mut body = req.into_body();
    let mut read = 0u64;
    // A slow sender gets DRAIN_TIME, not a connection held open at will.
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while read < len.min(DRAIN_BYTES) {
            match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(frame)) => {
                    read = read.saturating_add(frame.data_ref().map_or(0, |d| d.len() as u64));
                }
                _ => break,
            }
        }
    })
    .await;
    body_too_large(&format!("request body of {len} bytes"), max, read < len)
}

/// 413 with a JSON-RPC error naming the limit; `close`: the rest of the body
/// was not read, so the connection cannot carry another request.
fn body_too_large(what: &str, max: u64, close: bool) -> HttpResponse {
    let e = ErrorObjectOwned::owned(
        -32600,
        format!("{what} is over the limit of {max} bytes (rpc.max_request_bytes)"),
        None::<()>,
    );
    let mut rp = json_error(413, &e);
    if close {
        rp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    rp
}

fn json_error(status: u16, e: &ErrorObjectOwned) -> HttpResponse {
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": null, "error": e }).to_string();
    response(status, "application/json", body)
}

/// The key a request names: `/v1/<key>`, `X-API-Key`, or `Authorization: Bearer`.
fn request_key<B>(req: &HttpRequest<B>) -> Option<String> {
    if let Some(rest) = req.uri().path().strip_prefix("/v1/") {
        let key = rest.trim_end_matches('/');
        if !key.is_empty() {
            return Some(key.to_string());
        }
    }
    let h = req.headers();
    if let Some(v) = h.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    h.get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_string())
}

/// Exactly what jsonrpsee takes for a WebSocket handshake.
fn is_upgrade<B>(req: &HttpRequest<B>) -> bool {
    jsonrpsee::server::ws::is_upgrade_request(req)
}

/// The request comes from the node's own machine and from no web page but the
/// node's own (the dashboard): a loopback peer, no proxy header, a loopback
/// `Host`, and no `Origin` or the node's own (`http://` and that `Host`).
fn operator_request<B>(peer: std::net::SocketAddr, req: &HttpRequest<B>) -> bool {
    let h = req.headers();
    let own_page = match (h.get(http::header::ORIGIN), h.get(http::header::HOST)) {
        (None, _) => true,
        (Some(o), Some(host)) => o.as_bytes() == [b"http://".as_slice(), host.as_bytes()].concat(),
        (Some(_), None) => false,
    };
    let proxied = ["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|k| h.contains_key(*k));
    let host_local = match h.get(http::header::HOST).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(host) => {
            let name = match host.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => host.rsplit_once(':').map_or(host, |(n, _)| n),
            };
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
        }
    };
    peer.ip().to_canonical().is_loopback() && !proxied && own_page && host_local
}

impl Gateway {
    fn allowed_origin(&self, origin: Option<&http::HeaderValue>) -> Option<http::HeaderValue> {
        let origin = origin?;
        let o = origin.to_str().ok()?;
        if self.cfg.cors.iter().any(|c| c == "*") {
            return Some(http::HeaderValue::from_static("*"));
        }
        self.cfg.cors.iter().any(|c| c.eq_ignore_ascii_case(o)).then(|| origin.clone())
    }

    fn cors_headers(&self, rp: &mut HttpResponse, origin: Option<http::HeaderValue>) {
        let Some(origin) = origin else { return };
        let h = rp.headers_mut();
        h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(http::header::VARY, http::HeaderValue::from_static("origin"));
        h.insert(
            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            http::HeaderValue::from_static("retry-after, x-request-id"),
        );
    }
}

static REQUEST_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A request id unique within this process run: a per-run prefix and a counter.
fn request_id() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| alloy::hex::encode(&crate::server::rand_bytes()[..4]));
    let n = REQUEST_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{n:x}")
}

/// Serves one HTTP request: operator endpoints, CORS preflights, or JSON-RPC
/// (HTTP or a WebSocket upgrade) through `rpc` with the caller attached.
pub(crate) async fn serve_http(
    gw: Arc<Gateway>,
    ctx: Arc<RpcContext>,
    peer: std::net::SocketAddr,
    req: hyper::Request<hyper::body::Incoming>,
    rpc: Arc<crate::ws::WsShared>,
    permit: Arc<tokio::sync::OwnedSemaphorePermit>,
) -> Result<HttpResponse, std::convert::Infallible> {
    let id = request_id();
    let span = tracing::debug_span!(target: "rpc", "request", id = %id, peer = %peer);
    tracing::Instrument::instrument(serve_inner(gw, ctx, peer, req, rpc, permit, id), span).await
}

async fn serve_inner(
    gw: Arc<Gateway>,
    ctx: Arc<RpcContext>,
    peer: std::net::SocketAddr,
    req: hyper::Request<hyper::body::Incoming>,
    rpc: Arc<crate::ws::WsShared>,
    permit: Arc<tokio::sync::OwnedSemaphorePermit>,
    id: String,
) -> Result<HttpResponse, std::convert::Infallible> {
    let started = Instant::now();
    let origin = gw.allowed_origin(req.headers().get(http::header::ORIGIN));
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let mut rp = if method == http::Method::OPTIONS {
        if origin.is_some() || req.headers().get(http::header::ORIGIN).is_none() {
            let mut rp = response(204, "text/plain", HttpBody::empty());
            let h = rp.headers_mut();
            h.insert(
                http::header::ACCESS_CONTROL_ALLOW_METHODS,
                http::HeaderValue::from_static("POST, GET, OPTIONS"),
            );
            h.insert(
                http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                http::HeaderValue::from_static("content-type, authorization, x-api-key"),
            );
            h.insert(http::header::ACCESS_CONTROL_MAX_AGE, http::HeaderValue::from_static("600"));
            rp
        } else {
            gw.count("cors_origin");
            response(403, "text/plain", "origin not allowed (rpc.cors)")
        }
    } else {
        match (method.as_str(), path.as_str()) {
            ("GET", "/metrics") => {
                ctx.refresh_gauges();
                response(200, "text/plain; version=0.0.4; charset=utf-8", gw.ops.metrics.render())
            }
            ("GET", "/health") => match ctx.reader().and_then(|r| ctx.head(&r)) {
                Ok(head) => response(
                    200,
                    "application/json",
                    serde_json::json!({"status": "ok", "head": format!("{head:#x}")}).to_string(),
                ),
                Err(e) => response(
                    503,
                    "application/json",
                    serde_json::json!({"status": "unhealthy", "error": e.message()}).to_string(),
                ),
            },
            ("GET", "/ready") => {
                if gw.ops.is_ready() {
                    response(200, "application/json", r#"{"status":"ready"}"#)
                } else {
                    response(503, "application/json", r#"{"status":"starting"}"#)
                }
            }
            ("GET", "/dashboard" | "/dashboard/") => {
                let mut rp = response(200, "text/html; charset=utf-8", DASHBOARD);
                let h = rp.headers_mut();
                h.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
                h.insert("x-content-type-options", http::HeaderValue::from_static("nosniff"));
                h.insert(
                    http::header::CONTENT_SECURITY_POLICY,
                    http::HeaderValue::from_static(
                        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
                    ),
                );
                rp
            }
            (_, p) if p == "/" || p.starts_with("/v1/") => {
                rpc_request(&gw, peer, req, &rpc, permit).await
            }
            _ => response(
                404,
                "text/plain",
                "not found: JSON-RPC is served at / and /v1/<key>; also /metrics, /health, /ready, /dashboard",
            ),
        }
    };
    gw.cors_headers(&mut rp, origin);
    if let Ok(v) = http::HeaderValue::from_str(&id) {
        rp.headers_mut().insert("x-request-id", v);
    }
    // Never the key itself in a log line.
    let shown = if path.starts_with("/v1/") { "/v1/<key>" } else { path.as_str() };
    tracing::debug!(target: "rpc", %method, path = shown, status = rp.status().as_u16(), took_us = started.elapsed().as_micros() as u64, "request");
    Ok(rp)
}

async fn rpc_request(
    gw: &Arc<Gateway>,
    peer: std::net::SocketAddr,
    req: hyper::Request<hyper::body::Incoming>,
    rpc: &Arc<crate::ws::WsShared>,
    permit: Arc<tokio::sync::OwnedSemaphorePermit>,
) -> HttpResponse {
    let (key, key_hash) = match gw.authenticate(request_key(&req).as_deref()) {
        Ok(Some((k, h))) => (Some(k), Some(h)),
        Ok(None) => (None, None),
        Err(r) => {
            gw.count(r.reason());
            return json_error(r.http_status(), &r.error());
        }
    };
    let local = operator_request(peer, &req);
    let ws = is_upgrade(&req);
    // Browsers apply no CORS to WebSockets: a page's socket is refused unless
    // its origin is allowed (as geth's --ws.origins).
    if ws
        && let Some(origin) = req.headers().get(http::header::ORIGIN)
        && gw.allowed_origin(Some(origin)).is_none()
    {
        gw.count("cors_origin");
        return response(403, "text/plain", "origin not allowed (rpc.cors)");
    }
    // Without a key where one is required, only the operator's admin calls
    // from this machine can pass; refuse the rest before reading the body.
    if key.is_none() && gw.cfg.require_keys && !local {
        gw.count(Refusal::KeyRequired.reason());
        return json_error(401, &Refusal::KeyRequired.error());
    }
    let caller =
        Caller { ip: peer.ip(), key, key_hash, local, ws, refusal: Arc::new(Mutex::new(None)) };
    if ws {
        return crate::ws::upgrade(req, rpc.clone(), caller, permit);
    }
    if req.method() != http::Method::POST {
        let mut rp =
            response(405, "text/plain", "JSON-RPC is served by POST (or a WebSocket upgrade)");
        rp.headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("POST, OPTIONS"));
        return rp;
    }
    let json = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return response(415, "text/plain", "Content-Type must be application/json");
    }
    let max = rpc.max_message_bytes;
    let body = {
        use http_body_util::BodyExt as _;
        match http_body_util::Limited::new(req.into_body(), max).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return body_too_large("request body", max as u64, true),
        }
    };
    let msg = crate::jsonrpc::parse(&body, rpc.dispatcher.max_batch);
    let answer = rpc.dispatcher.answer(&caller, msg, crate::jsonrpc::no_subscriptions).await;
    let mut rp = response(200, "application/json", answer.unwrap_or_default());
    if let Some(r) = caller.refusal.lock().take() {
        *rp.status_mut() =
            http::StatusCode::from_u16(r.http_status()).unwrap_or(http::StatusCode::FORBIDDEN);
        if let Some(s) = r.retry_after_s()
            && let Ok(v) = http::HeaderValue::from_str(&s.to_string())
        {
            rp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
    }
    rp
}

// ---- the admin namespace (served to localhost only, see `Gateway::check`) ----

fn key_error(e: KeyError) -> ErrorObjectOwned {
    match e {
        KeyError::Unknown(_) | KeyError::Invalid(_) => {
            ErrorObjectOwned::owned(-32602, e.to_string(), None::<()>)
        }
        other => crate::eth::internal(other),
    }
}

impl RpcContext {
    /// `admin_createKey({project, name?, methods?, readOnly?, rate?})`: the
    /// secret is in the answer only.
    pub fn admin_create_key(&self, new: NewKey) -> crate::eth::RpcResult<serde_json::Value> {
        let (secret, record) = create_key(&self.store, new).map_err(key_error)?;
        let mut v = serde_json::to_value(&record).map_err(crate::eth::internal)?;
        v["key"] = serde_json::Value::String(secret);
        Ok(v)
    }

    /// `admin_listKeys`: every key with its usage since the node started.
    pub fn admin_list_keys(&self) -> crate::eth::RpcResult<Vec<serde_json::Value>> {
        let usage = self.ops.key_usage.lock().clone();
        list_keys(&self.store)
            .map_err(key_error)?
            .into_iter()
            .map(|k| {
                let u = usage.get(&k.id).copied().unwrap_or_default();
                let mut v = serde_json::to_value(&k).map_err(crate::eth::internal)?;
                v["usage"] = serde_json::to_value(u).map_err(crate::eth::internal)?;
                Ok(v)
            })
            .collect()
    }

    /// `admin_revokeKey(id)`.
    pub fn admin_revoke_key(&self, id: String) -> crate::eth::RpcResult<KeyRecord> {
        let revoked = revoke_key(&self.store, &id).map_err(key_error)?;
        self.ops.key_cache.lock().clear();
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(methods: Option<&[&str]>, read_only: bool) -> KeyRecord {
        KeyRecord {
            id: "k_test".into(),
            project: "p".into(),
            name: String::new(),
            created_at: 0,
            revoked: false,
            methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
            read_only,
            rate: None,
        }
    }

    #[test]
    fn allow_lists_take_exact_names_and_prefixes() {
        let k = key(Some(&["eth_call", "net_*"]), false);
        assert!(k.allows("eth_call"));
        assert!(k.allows("net_version"));
        assert!(!k.allows("eth_callMany"));
        assert!(!k.allows("eth_sendRawTransaction"));
        let all = key(None, false);
        assert!(all.allows("eth_sendRawTransaction"));
        let ro = key(None, true);
        assert!(!ro.allows("eth_sendRawTransaction"));
        assert!(ro.allows("eth_getBalance"));
    }

    #[test]
    fn heavy_methods_cost_more() {
        assert_eq!(method_cost("eth_blockNumber"), 1);
        assert_eq!(method_cost("eth_getLogs"), 10);
        assert_eq!(method_cost("debug_traceTransaction"), 20);
    }

    #[test]
    fn buckets_refill_at_the_rate_and_charge_all_scopes_or_none() {
        let l = Limiter::default();
        let a = ("a".to_string(), Rate { per_second: 10, burst: 5 });
        let b = ("b".to_string(), Rate { per_second: 1, burst: 2 });
        // Five from a alone, then a is empty and says when it will have one.
        for _ in 0..5 {
            assert!(l.take(std::slice::from_ref(&a), 1).is_ok());
        }
        let (scope, wait) = l.take(std::slice::from_ref(&a), 1).unwrap_err();
        assert_eq!(scope, 0);
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100), "{wait:?}");
        // b refuses a cost of 3 (burst 2 caps it at 2: a full bucket pays); a
        // refusal by one scope takes nothing from the other.
        let c = ("c".to_string(), Rate { per_second: 1000, burst: 1000 });
        assert!(l.take(&[c.clone(), b.clone()], 3).is_ok());
        let before = l.buckets.lock()["c"].tokens;
        assert_eq!(l.take(&[c.clone(), b.clone()], 1).unwrap_err().0, 1);
        let after = l.buckets.lock()["c"].tokens;
        assert!(after >= before, "c was not charged for b's refusal");
        std::thread::sleep(Duration::from_millis(120));
        assert!(l.take(std::slice::from_ref(&a), 1).is_ok(), "a refilled");
    }

    #[test]
    fn keys_are_stored_by_hash_listed_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (secret, rec) = create_key(
            &store,
            NewKey { project: "acme".into(), name: "ci".into(), ..NewKey::default() },
        )
        .unwrap();
        assert!(secret.starts_with(KEY_PREFIX) && secret.len() == 68);
        assert_eq!(find_key(&store, secret_hash(&secret)).unwrap(), Some(rec.clone()));
        assert_eq!(find_key(&store, secret_hash("ink_00")).unwrap(), None);
        assert!(store.reader().unwrap().api_key(secret_hash(&secret)).unwrap().is_some());
        assert_eq!(list_keys(&store).unwrap(), vec![rec.clone()]);
        assert!(revoke_key(&store, &rec.id).unwrap().revoked);
        assert!(find_key(&store, secret_hash(&secret)).unwrap().unwrap().revoked);
        assert!(matches!(revoke_key(&store, "k_nope"), Err(KeyError::Unknown(_))));
        assert!(matches!(
            create_key(&store, NewKey { project: " ".into(), ..NewKey::default() }),
            Err(KeyError::Invalid(_))
        ));
    }
}
