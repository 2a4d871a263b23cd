//! Gossip latency on loopback: from the moment the sequencer announces a sealed
//! block (its `newHeads` notification, after the durable commit) to the moment
//! a validator announces the same block (after libp2p gossip, the signature
//! check, re-execution and its own commit). Two in-process nodes on 127.0.0.1,
//! the validator also deriving from anvil (the pinned npm package, as the tests
//! use it). A load tool, not a criterion bench: it prints percentiles.

use alloy::providers::{Provider, ProviderBuilder, WsConnect};
use futures::StreamExt;
use infra_batcher::DataAvailability;
use infra_e2e::{
    DevNode, node_config,
    settle::{BATCHER_INDEX, l1_settings, start_anvil},
};
use infra_node_core::{P2pSettings, ValidatorSettings, deploy_contracts, start_node};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const BLOCKS: u64 = 60;
const BLOCK_TIME_MS: u64 = 200;

async fn start(mut cfg: infra_node_core::NodeConfig) -> eyre::Result<DevNode> {
    let tmp = tempfile::tempdir()?;
    cfg.datadir = tmp.path().to_path_buf();
    Ok(DevNode::new(start_node(cfg).await?, tmp))
}

type Seen = Arc<Mutex<BTreeMap<u64, Instant>>>;

/// Records when each block number is announced on `ws`.
async fn watch(ws: String, seen: Seen) -> eyre::Result<()> {
    let p = ProviderBuilder::new().connect_ws(WsConnect::new(ws)).await?;
    let mut heads = p.subscribe_blocks().await?.into_stream();
    while let Some(h) = heads.next().await {
        seen.lock().map_err(|_| eyre::eyre!("lock"))?.insert(h.number, Instant::now());
        if h.number >= BLOCKS {
            break;
        }
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    let mut chain = infra_e2e::settle::test_chain();
    chain.block_time_ms = BLOCK_TIME_MS;
    let genesis = infra_config::parse_genesis(infra_config::DEV_GENESIS_JSON, "dev")?;
    let key = infra_config::dev_signer(BATCHER_INDEX)?;
    let d = deploy_contracts(&anvil.url, key.clone(), &chain, &genesis, None, None, None).await?;
    let mut cfg = node_config(Default::default(), chain.clone(), None)?;
    cfg.l1 = Some(l1_settings(&anvil.url, &d, DataAvailability::Calldata, 1, None)?);
    cfg.empty_blocks = true;
    cfg.p2p = Some(P2pSettings {
        listen: "/ip4/127.0.0.1/tcp/0".parse()?,
        bootnodes: vec![],
        signer: Some(key),
    });
    let seq = start(cfg).await?;
    let status = seq
        .node
        .p2p
        .as_ref()
        .ok_or_else(|| eyre::eyre!("p2p"))?
        .lock()
        .map_err(|_| eyre::eyre!("lock"))?
        .clone();
    let boot = format!("{}/p2p/{}", status.listen_addrs[0], status.peer_id).parse()?;
    let mut cfg = node_config(Default::default(), chain, None)?;
    cfg.validator = Some(ValidatorSettings {
        l1_rpc: anvil.url.clone(),
        deployment: d,
        poll: Duration::from_millis(200),
        challenger_key: None,
    });
    cfg.p2p = Some(P2pSettings {
        listen: "/ip4/127.0.0.1/tcp/0".parse()?,
        bootnodes: vec![boot],
        signer: None,
    });
    let v = start(cfg).await?;
    let (s_seen, v_seen): (Seen, Seen) = Default::default();
    let a = tokio::spawn(watch(seq.ws_url.clone(), s_seen.clone()));
    let b = tokio::spawn(watch(v.ws_url.clone(), v_seen.clone()));
    tokio::time::timeout(Duration::from_secs(BLOCKS * BLOCK_TIME_MS / 1000 * 4 + 60), async {
        let _ = a.await;
        let _ = b.await;
    })
    .await?;
    let (s, v_) = (
        s_seen.lock().map_err(|_| eyre::eyre!("lock"))?,
        v_seen.lock().map_err(|_| eyre::eyre!("lock"))?,
    );
    let mut lat: Vec<Duration> = s
        .iter()
        .filter_map(|(n, t)| v_.get(n).map(|tv| tv.saturating_duration_since(*t)))
        .collect();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "SUMMARY gossip/loopback: {} empty blocks at {BLOCK_TIME_MS} ms; seal announced -> validator head announced: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (block time {BLOCK_TIME_MS} ms)",
        lat.len(),
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(pct(0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
    drop(v);
    drop(seq);
    Ok(())
}
