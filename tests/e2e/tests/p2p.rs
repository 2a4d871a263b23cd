//! Three nodes on 127.0.0.1 over libp2p: a sequencer and two validators (one
//! started late), settling to anvil. Validators follow the sequencer's signed
//! blocks by gossip, a late one catches up by sync, transactions sent to a
//! validator reach the sequencer, and a peer gossiping blocks signed by another
//! key is banned.

use alloy::{
    network::EthereumWallet,
    primitives::U256,
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use infra_batcher::DataAvailability;
use infra_config::ChainConfig;
use infra_e2e::{
    DevNode, node_config,
    settle::{BATCHER_INDEX, l1_settings, l2_transfer, start_anvil, test_chain, wait_for},
};
use infra_node_core::{P2pSettings, ValidatorSettings, deploy_contracts, start_node};
use std::time::{Duration, Instant};

fn provider(url: &str) -> eyre::Result<DynProvider> {
    Ok(ProviderBuilder::new().connect_http(url.parse()?).erased())
}

fn p2p_status(node: &DevNode) -> infra_p2p::P2pStatus {
    node.node.p2p.as_ref().expect("p2p").lock().expect("status").clone()
}

/// The node's dialable address (`/ip4/127.0.0.1/tcp/N/p2p/ID`).
fn bootnode(node: &DevNode) -> eyre::Result<infra_p2p::Multiaddr> {
    let s = p2p_status(node);
    let addr = s.listen_addrs.first().ok_or_else(|| eyre::eyre!("no listen address"))?;
    Ok(format!("{addr}/p2p/{}", s.peer_id).parse()?)
}

fn p2p(
    bootnodes: Vec<infra_p2p::Multiaddr>,
    signer: Option<PrivateKeySigner>,
) -> eyre::Result<P2pSettings> {
    Ok(P2pSettings { listen: "/ip4/127.0.0.1/tcp/0".parse()?, bootnodes, signer })
}

async fn start(mut cfg: infra_node_core::NodeConfig) -> eyre::Result<DevNode> {
    infra_e2e::init_logs();
    let tmp = tempfile::tempdir()?;
    cfg.datadir = tmp.path().to_path_buf();
    Ok(DevNode::new(start_node(cfg).await?, tmp))
}

async fn head(url: &str) -> eyre::Result<u64> {
    Ok(provider(url)?.get_block_number().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sequencer_and_two_validators_stay_in_sync_over_libp2p() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    let chain = test_chain();
    let genesis = infra_config::parse_genesis(infra_config::DEV_GENESIS_JSON, "dev")?;
    let key = infra_config::dev_signer(BATCHER_INDEX)?;
    assert_eq!(key.address(), chain.sequencer, "the dev sequencer signs with dev key 9");
    let d = deploy_contracts(&anvil.url, key.clone(), &chain, &genesis, None, None, None).await?;

    // The sequencer: settles to anvil, signs and gossips its blocks.
    let mut cfg = node_config(Default::default(), chain.clone(), None)?;
    cfg.l1 = Some(l1_settings(&anvil.url, &d, DataAvailability::Calldata, 1, None)?);
    cfg.p2p = Some(p2p(vec![], Some(key))?);
    let seq = start(cfg).await?;
    let validator = |boot: Vec<infra_p2p::Multiaddr>| -> eyre::Result<infra_node_core::NodeConfig> {
        let mut cfg = node_config(Default::default(), chain.clone(), None)?;
        cfg.validator = Some(ValidatorSettings {
            l1_rpc: anvil.url.clone(),
            deployment: d.clone(),
            poll: Duration::from_millis(200),
            challenger_key: None,
        });
        cfg.p2p = Some(p2p(boot, None)?);
        Ok(cfg)
    };
    let v1 = start(validator(vec![bootnode(&seq)?])?).await?;
    wait_for("v1 to connect", Duration::from_secs(20), async || {
        Ok((!p2p_status(&v1).peers.is_empty()).then_some(()))
    })
    .await?;

    // v1 follows by gossip: each block shows up there shortly after it is sealed.
    let mut lags = Vec::new();
    for _ in 0..4 {
        let n = l2_transfer(&seq.http_url).await?;
        let sealed = Instant::now();
        wait_for("v1 to import the block", Duration::from_secs(20), async || {
            Ok((head(&v1.http_url).await? >= n).then_some(()))
        })
        .await?;
        lags.push(sealed.elapsed());
    }
    eprintln!("seal -> validator head (after the wallet saw its receipt): {lags:?}");
    assert!(p2p_status(&v1).blocks_imported >= 4, "{:?}", p2p_status(&v1));

    // A transaction sent to v1 is forwarded to the sequencer and mined.
    let user = PrivateKeySigner::random();
    let v1_wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(infra_config::dev_signer(3)?))
        .connect_http(v1.http_url.parse()?)
        .erased();
    let receipt = v1_wallet
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default()
                .to(user.address())
                .value(U256::from(12345)),
        )
        .await?
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await?;
    assert!(receipt.status());
    assert_eq!(provider(&seq.http_url)?.get_balance(user.address()).await?, U256::from(12345));

    // v2 starts late, knowing only v1: it syncs the blocks it missed.
    let v2 = start(validator(vec![bootnode(&v1)?])?).await?;
    let target = head(&seq.http_url).await?;
    wait_for("v2 to catch up", Duration::from_secs(30), async || {
        Ok((head(&v2.http_url).await? >= target).then_some(()))
    })
    .await?;
    assert!(p2p_status(&v2).blocks_synced > 0, "v2 caught up by sync: {:?}", p2p_status(&v2));
    let last = l2_transfer(&seq.http_url).await?;
    for v in [&v1, &v2] {
        wait_for("validators at the new head", Duration::from_secs(20), async || {
            Ok((head(&v.http_url).await? >= last).then_some(()))
        })
        .await?;
        for n in 1..=last {
            let a = provider(&seq.http_url)?.get_block_by_number(n.into()).await?;
            let b = provider(&v.http_url)?.get_block_by_number(n.into()).await?;
            assert_eq!(a.map(|b| b.header.hash), b.map(|b| b.header.hash), "block {n}");
        }
    }

    // A rogue node gossips blocks signed by another key: v1 bans it. The rogue
    // believes in its own key, so it would ban v1 for relaying the real
    // sequencer's blocks first: it joins while the chain is idle (the sequencer
    // seals a couple of empty blocks after each inclusion, then stops).
    let mut idle = (head(&seq.http_url).await?, Instant::now());
    wait_for("the sequencer to go idle", Duration::from_secs(30), async || {
        let now = head(&seq.http_url).await?;
        if now != idle.0 {
            idle = (now, Instant::now());
        }
        Ok((idle.1.elapsed() > Duration::from_millis(3 * chain.block_time_ms)).then_some(()))
    })
    .await?;
    let rogue_key = PrivateKeySigner::random();
    let rogue_chain = ChainConfig { sequencer: rogue_key.address(), ..chain.clone() };
    let mut cfg = node_config(Default::default(), rogue_chain, None)?;
    cfg.empty_blocks = true;
    cfg.p2p = Some(p2p(vec![bootnode(&v1)?], Some(rogue_key))?);
    let rogue = start(cfg).await?;
    let rogue_id: infra_p2p::PeerId = p2p_status(&rogue).peer_id.parse()?;
    wait_for("v1 to ban the rogue peer", Duration::from_secs(30), async || {
        Ok(p2p_status(&v1).banned.contains(&rogue_id).then_some(()))
    })
    .await?;
    assert!(!p2p_status(&v1).peers.contains(&rogue_id));
    // v1 still follows the real sequencer.
    let last = l2_transfer(&seq.http_url).await?;
    wait_for("v1 still following", Duration::from_secs(20), async || {
        Ok((head(&v1.http_url).await? >= last).then_some(()))
    })
    .await?;
    let a = provider(&seq.http_url)?.get_block_by_number(last.into()).await?;
    let b = provider(&v1.http_url)?.get_block_by_number(last.into()).await?;
    assert_eq!(a.map(|b| b.header.hash), b.map(|b| b.header.hash));
    Ok(())
}
