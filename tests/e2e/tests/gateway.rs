//! The RPC gateway on a running node: API keys (missing, wrong, revoked,
//! method-restricted; kept across restarts, never stored in plain text), rate
//! limits under a burst with no starvation of other keys, CORS, request and
//! response limits, and the operator endpoints.

use alloy::providers::{Provider, ProviderBuilder};
use infra_config::ChainConfig;
use infra_e2e::{DevNode, node_config};
use infra_node_core::start_node;
use infra_rpc::{GatewayConfig, Rate};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn chain() -> ChainConfig {
    ChainConfig { block_time_ms: 200, ..ChainConfig::dev() }
}

async fn start(gateway: GatewayConfig, dir: Option<std::path::PathBuf>) -> eyre::Result<DevNode> {
    infra_e2e::init_logs();
    let tmp = tempfile::tempdir()?;
    let path = dir.unwrap_or_else(|| tmp.path().to_path_buf());
    let mut cfg = node_config(path, chain(), None)?;
    cfg.rpc.gateway = gateway;
    cfg.rpc.max_batch = 10;
    cfg.rpc.max_logs_range = 100;
    Ok(DevNode::new(start_node(cfg).await?, tmp))
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn code(&self) -> Option<i64> {
        self.body["error"]["code"].as_i64()
    }
    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> eyre::Result<Reply> {
    let mut req = client.post(url).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let rp = req.send().await?;
    let status = rp.status().as_u16();
    let headers = rp.headers().clone();
    let text = rp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Reply { status, headers, body })
}

fn call(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

async fn create_key(
    client: &reqwest::Client,
    url: &str,
    spec: Value,
) -> eyre::Result<(String, String)> {
    let r = post(client, url, &call("admin_createKey", json!([spec])), &[]).await?;
    eyre::ensure!(r.status == 200, "admin_createKey: {} {}", r.status, r.body);
    let key = r.body["result"]["key"].as_str().ok_or_else(|| eyre::eyre!("no key: {}", r.body))?;
    let id = r.body["result"]["id"].as_str().ok_or_else(|| eyre::eyre!("no id"))?;
    Ok((key.to_string(), id.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_keys_are_checked_and_kept_hashed_across_restarts() -> eyre::Result<()> {
    let gw = GatewayConfig { require_keys: true, ..GatewayConfig::default() };
    let node = start(gw.clone(), None).await?;
    let url = node.http_url.clone();
    let c = reqwest::Client::new();
    let chain_id = call("eth_chainId", json!([]));

    // The operator creates keys from this machine (admin_ on loopback).
    let (full, full_id) =
        create_key(&c, &url, json!({"project": "acme", "name": "backend"})).await?;
    let (ro, _) = create_key(&c, &url, json!({"project": "acme", "readOnly": true})).await?;
    let (narrow, narrow_id) =
        create_key(&c, &url, json!({"project": "beta", "methods": ["eth_chainId", "net_*"]}))
            .await?;
    assert!(full.starts_with("ink_") && full.len() == 68);

    // No key.
    let r = post(&c, &url, &chain_id, &[]).await?;
    assert_eq!((r.status, r.code()), (401, Some(4100)), "{}", r.body);
    assert!(r.message().contains("API key required"), "{}", r.message());
    // A wrong key.
    let r = post(&c, &format!("{url}/v1/ink_{}", "0".repeat(64)), &chain_id, &[]).await?;
    assert_eq!((r.status, r.code()), (401, Some(4100)));
    assert_eq!(r.message(), "invalid API key");
    // A valid key: in the path, as a header, as a bearer token.
    for (u, h) in [
        (format!("{url}/v1/{full}"), vec![]),
        (url.clone(), vec![("x-api-key", full.as_str())]),
        (url.clone(), vec![("authorization", &*format!("Bearer {full}"))]),
    ] {
        let r = post(&c, &u, &chain_id, &h).await?;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["result"], json!("0x343a"));
    }
    // Libraries use it as the URL.
    let p = ProviderBuilder::new().connect_http(format!("{url}/v1/{full}").parse()?);
    assert_eq!(p.get_chain_id().await?, 13370);
    // A read-only key may read, not send.
    let r = post(&c, &format!("{url}/v1/{ro}"), &call("eth_blockNumber", json!([])), &[]).await?;
    assert_eq!(r.status, 200);
    let r =
        post(&c, &format!("{url}/v1/{ro}"), &call("eth_sendRawTransaction", json!(["0x02"])), &[])
            .await?;
    assert_eq!((r.status, r.code()), (403, Some(4100)), "{}", r.body);
    assert!(r.message().contains("eth_sendRawTransaction is not allowed"), "{}", r.message());
    // A key restricted to some methods; in a batch only the others are refused.
    let batch = json!([
        call("eth_chainId", json!([])),
        call("eth_blockNumber", json!([])),
        call("net_version", json!([]))
    ]);
    let r = post(&c, &format!("{url}/v1/{narrow}"), &batch, &[]).await?;
    assert_eq!(r.status, 200, "a batch with answers is not an HTTP error");
    let items = r.body.as_array().ok_or_else(|| eyre::eyre!("batch reply: {}", r.body))?;
    assert_eq!(items.len(), 3);
    let refused: Vec<&Value> = items.iter().filter(|i| i.get("error").is_some()).collect();
    assert_eq!(refused.len(), 1, "{}", r.body);
    assert_eq!(refused[0]["error"]["code"], json!(4100));
    assert!(refused[0]["error"]["message"].as_str().unwrap_or_default().contains(&narrow_id));
    // admin_ is refused through a proxy (not this machine's operator).
    let r = post(
        &c,
        &format!("{url}/v1/{full}"),
        &call("admin_listKeys", json!([])),
        &[("x-forwarded-for", "203.0.113.9")],
    )
    .await?;
    assert_eq!(r.code(), Some(4100));
    assert!(r.message().contains("localhost only"), "{}", r.message());
    // Nor from a web page on this machine (it sends an Origin).
    let r =
        post(&c, &url, &call("admin_listKeys", json!([])), &[("origin", "http://evil.example")])
            .await?;
    assert_eq!(r.code(), Some(4100), "{}", r.body);
    // Revoked: refused from the next call on, also on a socket opened before.
    let ws = ProviderBuilder::new()
        .connect_ws(alloy::providers::WsConnect::new(format!("{}/v1/{full}", node.ws_url)))
        .await?;
    assert_eq!(ws.get_chain_id().await?, 13370);
    let r = post(&c, &url, &call("admin_revokeKey", json!([full_id])), &[]).await?;
    assert_eq!(r.body["result"]["revoked"], json!(true), "{}", r.body);
    let r = post(&c, &format!("{url}/v1/{full}"), &chain_id, &[]).await?;
    assert_eq!((r.status, r.code()), (403, Some(4100)));
    assert!(r.message().contains("revoked"), "{}", r.message());
    let e = ws.get_block_number().await.expect_err("revoked on the open socket");
    assert_eq!(e.as_error_resp().map(|p| p.code), Some(4100), "{e}");
    // Usage per key, for the operator.
    let r = post(&c, &url, &call("admin_listKeys", json!([])), &[]).await?;
    let keys = r.body["result"].as_array().ok_or_else(|| eyre::eyre!("{}", r.body))?;
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.get("key").is_none()), "no secret in a listing");
    let narrow_usage =
        keys.iter().find(|k| k["id"] == json!(narrow_id)).ok_or_else(|| eyre::eyre!("narrow"))?;
    assert_eq!(narrow_usage["usage"]["requests"], json!(3));
    assert_eq!(narrow_usage["usage"]["rejected"], json!(1));

    // Restart on the same datadir: keys and revocations hold.
    let DevNode { node: running, datadir, .. } = node;
    running.cancel_token().cancel();
    running.wait().await?;
    let dir = datadir.path().to_path_buf();
    // Never in plain text: the database holds no secret.
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(dir.join("db"))? {
        let p = entry?.path();
        if p.is_file() {
            raw.extend(std::fs::read(&p)?);
        }
    }
    for secret in [&full, &ro, &narrow] {
        let hex = secret.trim_start_matches("ink_").as_bytes();
        assert!(!raw.windows(hex.len()).any(|w| w == hex), "a secret is stored in plain text");
    }
    assert!(
        raw.windows(narrow_id.len()).any(|w| w == narrow_id.as_bytes()),
        "the records are there"
    );
    let node = start(gw, Some(dir)).await?;
    let url = node.http_url.clone();
    let r = post(&c, &format!("{url}/v1/{ro}"), &chain_id, &[]).await?;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&c, &format!("{url}/v1/{full}"), &chain_id, &[]).await?;
    assert_eq!(r.status, 403, "still revoked");
    drop(datadir);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limits_hold_under_a_burst_and_other_keys_keep_answers() -> eyre::Result<()> {
    let rate = Rate { per_second: 50, burst: 50 };
    let gw = GatewayConfig { require_keys: true, key_rate: rate, ..GatewayConfig::default() };
    let node = start(gw, None).await?;
    let url = node.http_url.clone();
    let c = reqwest::Client::new();
    let (noisy, _) = create_key(&c, &url, json!({"project": "noisy"})).await?;
    let (quiet, _) = create_key(&c, &url, json!({"project": "quiet"})).await?;
    let (heavy, _) =
        create_key(&c, &url, json!({"project": "heavy", "rate": {"perSecond": 1, "burst": 10}}))
            .await?;

    // The load: 16 connections firing as fast as they can for ~2 s.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(2);
    let mut load = Vec::new();
    for _ in 0..16 {
        let (c, u) = (c.clone(), format!("{url}/v1/{noisy}"));
        load.push(tokio::spawn(async move {
            let (mut ok, mut limited, mut retry_after_ok) = (0u64, 0u64, true);
            while Instant::now() < deadline {
                let r = post(&c, &u, &call("eth_blockNumber", json!([])), &[]).await?;
                match r.status {
                    200 => ok += 1,
                    429 => {
                        limited += 1;
                        retry_after_ok &=
                            r.headers.get("retry-after").is_some() && r.code() == Some(-32005);
                    }
                    s => eyre::bail!("unexpected status {s}: {}", r.body),
                }
            }
            Ok::<_, eyre::Report>((ok, limited, retry_after_ok))
        }));
    }
    // Meanwhile another key asks 20 times a second and is always answered.
    let (mut quiet_ok, mut quiet_worst) = (0u32, Duration::ZERO);
    while Instant::now() < deadline {
        let t = Instant::now();
        let r = post(&c, &format!("{url}/v1/{quiet}"), &call("eth_blockNumber", json!([])), &[])
            .await?;
        assert_eq!(r.status, 200, "the quiet key was refused: {}", r.body);
        quiet_ok += 1;
        quiet_worst = quiet_worst.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut ok, mut limited) = (0, 0);
    for h in load {
        let (o, l, retry) = h.await??;
        assert!(retry, "429s carry Retry-After and JSON-RPC -32005");
        ok += o;
        limited += l;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = f64::from(rate.burst) + f64::from(rate.per_second) * elapsed;
    println!(
        "burst: {ok} answered, {limited} limited in {elapsed:.2} s (limit allows {allowed:.0}); quiet key: {quiet_ok} answered, slowest {quiet_worst:?}"
    );
    assert!(limited > 0, "the burst was limited");
    assert!((ok as f64) <= allowed + 5.0, "{ok} answers exceed the limit's {allowed:.0}");
    assert!(quiet_ok >= 10, "the quiet key kept getting answers");

    // Heavy methods cost more: eth_call is 10, the whole burst of this key.
    let u = format!("{url}/v1/{heavy}");
    let ec = call(
        "eth_call",
        json!([{"to": "0x0000000000000000000000000000000000000001", "data": "0x"}, "latest"]),
    );
    let first = post(&c, &u, &ec, &[]).await?;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = post(&c, &u, &ec, &[]).await?;
    assert_eq!((second.status, second.code()), (429, Some(-32005)), "{}", second.body);
    assert!(second.message().contains("rate limit exceeded (key)"), "{}", second.message());

    // Over WebSocket: the same limit, as JSON-RPC error -32005 on the socket.
    let ws = ProviderBuilder::new()
        .connect_ws(alloy::providers::WsConnect::new(format!("{}/v1/{heavy}", node.ws_url)))
        .await?;
    let mut codes = Vec::new();
    for _ in 0..15 {
        match ws.get_block_number().await {
            Ok(_) => codes.push(0),
            Err(e) => codes.push(e.as_error_resp().map(|p| p.code).unwrap_or(1)),
        }
    }
    assert!(codes.contains(&-32005), "WebSocket calls past the limit: {codes:?}");
    let metrics = c.get(format!("{url}/metrics")).send().await?.text().await?;
    assert!(metrics.contains("infra_rpc_rate_limited_total{scope=\"key\"}"), "{metrics}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_endpoints_cors_and_limits() -> eyre::Result<()> {
    let gw = GatewayConfig {
        cors: vec!["https://app.example".into()],
        ip_rate: Some(Rate { per_second: 1_000, burst: 1_000 }),
        ..GatewayConfig::default()
    };
    let node = start(gw, None).await?;
    let url = node.http_url.clone();
    let c = reqwest::Client::new();
    // Traffic, so the counters move.
    let wallet = infra_config::dev_signer(0)?;
    let p = ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(wallet))
        .connect_http(url.parse()?);
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(alloy::primitives::Address::repeat_byte(0x42))
        .value(alloy::primitives::U256::from(1));
    p.send_transaction(tx).await?.get_receipt().await?;

    let metrics = c.get(format!("{url}/metrics")).send().await?;
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()["content-type"].to_str()?.starts_with("text/plain; version=0.0.4"));
    let text = metrics.text().await?;
    for series in [
        "infra_blocks_total",
        "infra_transactions_total",
        "infra_gas_used_total",
        "infra_head_block",
        "infra_mempool_pending",
        "infra_batch_lag_blocks",
        "infra_finality_lag_blocks",
        "infra_p2p_peers",
        "infra_rpc_requests_total{method=\"eth_sendRawTransaction\",outcome=\"ok\"}",
        "infra_rpc_request_duration_seconds_bucket",
        "infra_rpc_rate_limited_total{scope=\"ip\"}",
        "infra_rpc_refused_total{reason=\"unknown_key\"}",
    ] {
        assert!(text.contains(series), "/metrics lacks {series}:\n{text}");
    }
    let tx_line =
        text.lines().find(|l| l.starts_with("infra_transactions_total ")).unwrap_or_default();
    assert_ne!(tx_line, "infra_transactions_total 0", "{tx_line}");

    let health = c.get(format!("{url}/health")).send().await?;
    assert_eq!(health.status(), 200);
    let a = health.headers()["x-request-id"].to_str()?.to_string();
    let ready = c.get(format!("{url}/ready")).send().await?;
    assert_eq!(ready.status(), 200);
    assert_ne!(ready.headers()["x-request-id"].to_str()?, a, "request ids differ");

    // CORS: the configured origin, and no other.
    let pre = c
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await?;
    assert_eq!(pre.status(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], "https://app.example");
    let bad = c
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://evil.example")
        .send()
        .await?;
    assert_eq!(bad.status(), 403);
    let r = post(&c, &url, &call("eth_chainId", json!([])), &[("origin", "https://app.example")])
        .await?;
    assert_eq!(r.headers["access-control-allow-origin"], "https://app.example");
    let r = post(&c, &url, &call("eth_chainId", json!([])), &[("origin", "https://evil.example")])
        .await?;
    assert!(r.headers.get("access-control-allow-origin").is_none());
    // WebSockets get no CORS from browsers: a page's handshake needs an allowed origin.
    let handshake = |origin: &'static str| {
        c.get(&url)
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("origin", origin)
            .send()
    };
    assert_eq!(handshake("https://evil.example").await?.status(), 403);
    assert_eq!(handshake("https://app.example").await?.status(), 101);

    // Limits, each with a clear error.
    let big = json!((0..11).map(|_| call("eth_chainId", json!([]))).collect::<Vec<_>>());
    let r = post(&c, &url, &big, &[]).await?;
    assert!(r.body.to_string().to_lowercase().contains("batch"), "{}", r.body);
    let huge = call("web3_sha3", json!([format!("0x{}", "00".repeat(6 * 1024 * 1024))]));
    let r = post(&c, &url, &huge, &[]).await?;
    assert_eq!(r.status, 413, "{}", r.body);
    let logs = call("eth_getLogs", json!([{"fromBlock": "0x0", "toBlock": "0x3e8"}]));
    let r = post(&c, &url, &logs, &[]).await?;
    assert_eq!(r.code(), Some(-32005), "{}", r.body);
    assert!(r.message().contains("max block range 100"), "{}", r.message());
    // Unknown paths say where RPC is.
    let r = c.get(format!("{url}/nope")).send().await?;
    assert_eq!(r.status(), 404);

    // The infra_ namespace.
    let r = post(&c, &url, &call("infra_status", json!([])), &[]).await?;
    assert_eq!(r.body["result"]["role"], json!("sequencer"), "{}", r.body);
    let r = post(&c, &url, &call("infra_rollupConfig", json!([])), &[]).await?;
    assert_eq!(r.body["result"]["chain_id"], json!(13370), "{}", r.body);
    let r = post(
        &c,
        &url,
        &call(
            "infra_getAccountProof",
            json!(["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "latest"]),
        ),
        &[],
    )
    .await?;
    assert!(r.body["result"]["valueHash"].is_string(), "{}", r.body);
    assert!(r.body["result"]["siblings"].is_array());
    Ok(())
}
