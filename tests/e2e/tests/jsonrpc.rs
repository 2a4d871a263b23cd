//! JSON-RPC 2.0 exactly, on the L2 and on the embedded dev L1 (one server):
//! ids echoed as sent, the spec's error codes for what is not JSON or not a
//! request, strict parameters; and WebSocket subscribers that never read are
//! disconnected with a close frame that says why, without slowing anyone else.

use futures::{SinkExt as _, StreamExt as _};
use infra_config::ChainConfig;
use infra_e2e::{DevNode, dev_node, node_config};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

async fn post(url: &str, body: impl Into<reqwest::Body>) -> eyre::Result<(u16, String)> {
    let rp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    Ok((rp.status().as_u16(), rp.text().await?))
}

async fn call(url: &str, body: &str) -> eyre::Result<Value> {
    let (status, text) = post(url, body.to_string()).await?;
    assert_eq!(status, 200, "{body} -> {text}");
    Ok(serde_json::from_str(&text)?)
}

fn code(v: &Value) -> i64 {
    v["error"]["code"].as_i64().unwrap_or_else(|| panic!("an error: {v}"))
}

/// Every case of the issue, on one URL.
async fn conformance(url: &str, chain_id: u64) -> eyre::Result<()> {
    let chain = format!("{chain_id:#x}");
    // Ids: strings and any JSON number come back exactly as sent.
    for id in ["-5", "1.5", "18446744073709551616", "\"x\"", "null", "0"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId","params":[]}}"#);
        let (_, text) = post(url, body.clone()).await?;
        assert_eq!(text, format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"{chain}"}}"#), "{body}");
    }
    // An id of another type: -32600 with id null.
    for id in ["{}", "[1]", "true"] {
        let v =
            call(url, &format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId"}}"#)).await?;
        assert_eq!(code(&v), -32600, "{v}");
        assert_eq!(v["id"], Value::Null);
    }
    // JSON that is not a request: -32600; bytes that are not JSON: -32700.
    for body in ["\"x\"", "null", "5", "[]"] {
        let v = call(url, body).await?;
        assert_eq!(code(&v), -32600, "{body}: {v}");
    }
    let v = call(url, "{\"jsonrpc\":").await?;
    assert_eq!(code(&v), -32700, "{v}");
    let bad_utf8 =
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"web3_sha3\",\"params\":[\"\xff\"]}".to_vec();
    let (_, text) = post(url, bad_utf8).await?;
    assert_eq!(code(&serde_json::from_str(&text)?), -32700, "{text}");
    // A batch answers each call with its own id, invalid members included.
    let v = call(url, r#"[{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}, 5, {"jsonrpc":"2.0","method":"eth_chainId"}]"#).await?;
    let arr = v.as_array().expect("an array");
    assert_eq!(arr.len(), 2, "the notification gets no response: {v}");
    assert_eq!(arr[0]["id"], 7);
    assert_eq!(code(&arr[1]), -32600);
    // Subscriptions over HTTP: geth's answer.
    let v = call(url, r#"{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}"#)
        .await?;
    assert_eq!(code(&v), -32601);
    assert_eq!(v["error"]["message"], "notifications not supported");
    // Parameters: counts, quantities, data, tags, ranges.
    let addr = "\"0x0000000000000000000000000000000000000001\"";
    for params in [
        format!("[{addr}, \"latest\", 1]"),
        format!("[{addr}, \"LATEST\"]"),
        format!("[{addr}, \"10\"]"),
        format!("[{addr}, \"0x01\"]"),
        format!("[{addr}, 10]"),
        format!("[{addr}, \"\"]"),
    ] {
        let v = call(
            url,
            &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":{params}}}"#),
        )
        .await?;
        assert_eq!(code(&v), -32602, "eth_getBalance {params}: {v}");
    }
    let v = call(
        url,
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xabc"]}"#,
    )
    .await?;
    assert_eq!(code(&v), -32602, "{v}");
    let v = call(url, r#"{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x5","toBlock":"0x2"}]}"#).await?;
    assert_eq!(code(&v), -32602, "{v}");
    // And what is right still works.
    let v = call(
        url,
        &format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[{addr}, "latest"]}}"#
        ),
    )
    .await?;
    assert!(v["result"].is_string(), "{v}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_2_0_exactly_on_the_l2_and_the_dev_l1() -> eyre::Result<()> {
    let dev = dev_node(200).await?;
    conformance(&dev.http_url, infra_config::DEV_CHAIN_ID).await?;
    let dir = tempfile::tempdir()?;
    let l1 = infra_devnet::start_l1(dir.path().to_path_buf(), None).await?;
    conformance(&l1.http_url, infra_devnet::chain().chain_id).await?;

    // Over a WebSocket: the same answers, ids as sent.
    let (mut ws, _) = tokio_tungstenite::connect_async(dev.ws_url.as_str()).await?;
    for (body, want) in [
        (r#"{"jsonrpc":"2.0","id":-5,"method":"eth_chainId"}"#, json!(-5)),
        (r#"{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}"#, Value::Null),
        (r#""x""#, Value::Null),
    ] {
        ws.send(Message::text(body)).await?;
        let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("an answer to {body}") };
        let v: Value = serde_json::from_str(&t)?;
        assert_eq!(v["id"], want, "{body}: {v}");
    }
    // A text frame that is not UTF-8 fails the connection as RFC 6455 says
    // (close 1007, with the reason); over HTTP the same bytes got -32700.
    ws.send(Message::Frame(tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}".to_vec(),
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    )))
    .await?;
    match ws.next().await {
        Some(Ok(Message::Close(Some(f)))) => {
            assert_eq!(f.code, CloseCode::Invalid, "{f:?}");
        }
        other => panic!("a close frame (1007) for invalid UTF-8, got {other:?}"),
    }
    Ok(())
}

/// Submits `n` transfers from dev accounts 5..=9 as fast as one client can.
async fn submit(url: &str, n: usize) -> eyre::Result<Duration> {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxEnvelope},
        eips::Encodable2718,
        network::TxSignerSync,
        primitives::{Address, TxKind, U256},
    };
    let client = reqwest::Client::new();
    let signers: Vec<_> = (5..10).map(infra_config::dev_signer).collect::<Result<_, _>>()?;
    let mut bodies = Vec::with_capacity(n);
    let mut nonces = std::collections::HashMap::new();
    for (i, s) in signers.iter().cycle().take(n).enumerate() {
        let v: Value = client
            .post(url)
            .json(&json!({"jsonrpc":"2.0","id":1,"method":"eth_getTransactionCount","params":[s.address(), "pending"]}))
            .send()
            .await?
            .json()
            .await?;
        let start = u64::from_str_radix(
            v["result"].as_str().unwrap_or("0x0").trim_start_matches("0x"),
            16,
        )?;
        let nonce = nonces.entry(s.address()).or_insert(start);
        let mut t = TxEip1559 {
            chain_id: infra_config::DEV_CHAIN_ID,
            nonce: *nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(Address::repeat_byte(0x42)),
            value: U256::from(i as u64 + 1),
            ..Default::default()
        };
        *nonce += 1;
        let sig = s.sign_transaction_sync(&mut t)?;
        let raw = alloy::hex::encode_prefixed(TxEnvelope::from(t.into_signed(sig)).encoded_2718());
        bodies
            .push(json!({"jsonrpc":"2.0","id":i,"method":"eth_sendRawTransaction","params":[raw]}));
    }
    let started = Instant::now();
    for b in bodies {
        let v: Value = client.post(url).json(&b).send().await?.json().await?;
        assert!(v["result"].is_string(), "accepted: {v}");
    }
    Ok(started.elapsed())
}

/// 20 connections subscribed to full pending transactions, heads and logs
/// that never read: each is closed with 1008 and a reason once its queue is
/// full, and the node keeps serving everyone else.
/// A WebSocket client whose socket buffer is small, so that not reading
/// shows on the server soon.
async fn idle_client(
    url: &str,
) -> eyre::Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> {
    let addr: std::net::SocketAddr = url.trim_start_matches("ws://").parse()?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4_096)?;
    let stream = socket.connect(addr).await?;
    Ok(tokio_tungstenite::client_async(url, stream).await?.0)
}

/// 20 connections subscribed to full pending transactions, heads and logs
/// that never read: each is closed with 1008 and a reason once its queue is
/// full, and the node keeps serving everyone else, a reading subscriber
/// getting every notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscribers_are_disconnected_and_slow_no_one() -> eyre::Result<()> {
    let datadir = tempfile::tempdir()?;
    let mut cfg = node_config(
        datadir.path().to_path_buf(),
        ChainConfig { block_time_ms: 200, ..ChainConfig::dev() },
        None,
    )?;
    cfg.rpc.ws_queue = 64;
    let dev = DevNode::new(infra_node_core::start_node(cfg).await?, datadir);
    let mut idle = Vec::new();
    for _ in 0..20 {
        let mut ws = idle_client(&dev.ws_url).await?;
        for (i, p) in
            [json!(["newPendingTransactions", true]), json!(["newHeads"]), json!(["logs", {}])]
                .into_iter()
                .enumerate()
        {
            ws.send(Message::text(
                json!({"jsonrpc":"2.0","id":i,"method":"eth_subscribe","params":p}).to_string(),
            ))
            .await?;
            let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("subscribed") };
            assert!(serde_json::from_str::<Value>(&t)?["result"].is_string(), "{t}");
        }
        idle.push(ws); // never read again
    }
    // A subscriber that reads.
    const N: usize = 3_000;
    let (mut reader, _) = tokio_tungstenite::connect_async(dev.ws_url.as_str()).await?;
    reader
        .send(Message::text(r#"{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newPendingTransactions"]}"#))
        .await?;
    let reading = tokio::spawn(async move {
        let mut n = 0usize;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while n < N {
            match tokio::time::timeout_at(deadline, reader.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.contains("eth_subscription") => n += 1,
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        n
    });

    let took = submit(&dev.http_url, N).await?;
    eprintln!("{N} submissions with 20 idle subscribers: {took:?}");

    // Each idle connection ends with a close frame naming the reason (read
    // side by side: the server waits a while for a client to take it).
    let closes = idle.into_iter().map(|mut ws| async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
                Ok(Some(Ok(Message::Close(f)))) => return Ok(f),
                Ok(Some(Ok(_))) => continue,
                other => return Err(format!("a close frame, got {other:?}")),
            }
        }
    });
    for (i, frame) in futures::future::join_all(closes).await.into_iter().enumerate() {
        let frame = frame.map_err(|e| eyre::eyre!("connection {i}: {e}"))?;
        let frame = frame.expect("a close frame with a reason");
        assert_eq!(frame.code, CloseCode::Policy);
        assert!(frame.reason.contains("client too slow"), "{}", frame.reason);
    }
    // The node still answers.
    call(&dev.http_url, r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#).await?;
    let got = reading.await?;
    assert_eq!(got, N, "the reading subscriber got every pending transaction");
    Ok(())
}
