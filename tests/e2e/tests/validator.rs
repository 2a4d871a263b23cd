//! Validators deriving the chain from L1 alone (anvil, the pinned npm package):
//! the same blocks, state root for state root, as the sequencer; wrong claimed
//! outputs noticed; an L1 reorg survived; a restart resumes where it stopped.

use alloy::{
    network::EthereumWallet,
    primitives::{Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use infra_batcher::DataAvailability;
use infra_e2e::{
    DevNode,
    settle::{
        l1_settings, l2_transfer, settled_chain, settled_node, start_anvil, start_l2_with,
        start_validator, test_chain, wait_for,
    },
};
use infra_l1::{Bridge, Deployment};
use std::time::Duration;

fn provider(url: &str) -> eyre::Result<DynProvider> {
    Ok(ProviderBuilder::new().connect_http(url.parse()?).erased())
}

fn status(node: &DevNode) -> infra_node_core::DerivationStatus {
    node.node.derivation.as_ref().expect("a validator").lock().expect("status").clone()
}

/// Deposits 0.5 ETH on L1 to a fresh L2 address.
async fn deposit(l1_url: &str, d: &Deployment) -> eyre::Result<()> {
    let l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(infra_config::dev_signer(1)?))
        .connect_http(l1_url.parse()?)
        .erased();
    let to = PrivateKeySigner::random().address();
    let receipt = Bridge::new(d.bridge, &l1)
        .depositETH(to, 100_000, Bytes::new())
        .value(U256::from(500_000_000_000_000_000u64))
        .send()
        .await?
        .get_receipt()
        .await?;
    eyre::ensure!(receipt.status(), "deposit reverted");
    Ok(())
}

/// Waits until the validator's safe head reaches `block`.
async fn safe_through(v: &DevNode, block: u64, secs: u64) -> eyre::Result<()> {
    wait_for(
        &format!("the validator to derive block {block}"),
        Duration::from_secs(secs),
        async || Ok((status(v).safe_head >= block).then_some(())),
    )
    .await
}

/// Blocks 1..=`through` have the same hash and state root on both nodes.
async fn same_chain(a: &str, b: &str, through: u64) -> eyre::Result<()> {
    let (a, b) = (provider(a)?, provider(b)?);
    for n in 1..=through {
        let x = a.get_block_by_number(n.into()).await?.ok_or_else(|| eyre::eyre!("block {n}"))?;
        let y = b.get_block_by_number(n.into()).await?.ok_or_else(|| eyre::eyre!("block {n}"))?;
        eyre::ensure!(x.header.hash == y.header.hash, "block {n}: hashes differ");
        eyre::ensure!(x.header.state_root == y.header.state_root, "block {n}: state roots differ");
    }
    Ok(())
}

/// A validator that reaches only L1 derives the sequencer's chain (blob batches,
/// deposits, transfers), block hash for block hash; killed and restarted, it
/// resumes from its safe head instead of re-deriving from genesis.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn validator_derives_the_chain_from_l1_alone_and_resumes() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    // Blobs: an optimistic chain without the dispute game (which needs calldata).
    let chain = test_chain();
    let (seq, d) = settled_chain(&anvil.url, DataAvailability::Blob, 1, None, chain).await?;
    deposit(&anvil.url, &d).await?;
    let mut last = 0;
    for _ in 0..3 {
        last = l2_transfer(&seq.http_url).await?;
    }
    let v = start_validator(&anvil.url, &d, None, test_chain()).await?;
    safe_through(&v, last, 60).await?;
    same_chain(&seq.http_url, &v.http_url, last).await?;
    let s = status(&v);
    assert!(s.invalid_outputs.is_empty(), "every claimed output matches: {s:?}");
    let safe = provider(&v.http_url)?
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Safe)
        .await?
        .ok_or_else(|| eyre::eyre!("no safe block"))?;
    assert!(safe.header.number >= last, "the `safe` tag is the derived head");
    assert!(s.batches >= 1 && s.executed >= last, "{s:?}");
    eprintln!("derived {} blocks from {} batches", s.executed, s.batches);

    // Stop it without a clean shutdown of its derivation (the task is dropped
    // mid-poll), then restart on the same datadir.
    let dir = v.datadir.path().to_path_buf();
    let safe_before = s.safe_head;
    let DevNode { node, datadir: keep, .. } = v;
    node.cancel_token().cancel();
    node.wait().await?;
    for _ in 0..2 {
        last = l2_transfer(&seq.http_url).await?;
    }
    let v = start_validator(&anvil.url, &d, Some(dir), test_chain()).await?;
    safe_through(&v, last, 60).await?;
    same_chain(&seq.http_url, &v.http_url, last).await?;
    let s = status(&v);
    // (The sequencer may have sealed blocks past `last`: count from the new safe head.)
    assert!(
        s.executed <= s.safe_head - safe_before,
        "after the restart only blocks after the safe head {safe_before} are executed: {s:?}"
    );
    drop(keep);
    Ok(())
}

/// A sequencer that claims a wrong root for every second batch: the validator
/// derives the true chain and reports exactly those outputs as wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn validator_notices_wrong_claimed_roots() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    let (seq, d) = settled_node(&anvil.url, DataAvailability::Calldata, 1, None).await?;
    // Restart the sequencer with fault injection on the same deployment.
    let DevNode { node, datadir, .. } = seq;
    node.cancel_token().cancel();
    node.wait().await?;
    let mut l1 = l1_settings(&anvil.url, &d, DataAvailability::Calldata, 1, None)?;
    l1.faulty_root_every = Some(2);
    let seq = start_l2_with(l1, Some(datadir.path().to_path_buf()), test_chain()).await?;
    let v = start_validator(&anvil.url, &d, None, test_chain()).await?;
    let rollup = infra_l1::Rollup::new(d.rollup, provider(&anvil.url)?);
    wait_for("three batches on L1", Duration::from_secs(60), async || {
        let _ = l2_transfer(&seq.http_url).await?;
        Ok((rollup.batchCount().call().await? >= U256::from(4)).then_some(()))
    })
    .await?;
    let b3 = rollup.getBatch(U256::from(3)).call().await?;
    safe_through(&v, b3.lastBlock, 60).await?;
    same_chain(&seq.http_url, &v.http_url, b3.lastBlock).await?;
    let s = status(&v);
    let wrong: Vec<u64> = s.invalid_outputs.iter().map(|o| o.index).collect();
    assert_eq!(wrong, vec![2], "batch 2 (and only it, of 1..=3) claimed a wrong root: {s:?}");
    let o = &s.invalid_outputs[0];
    assert_ne!(o.claimed_state_root, o.derived_state_root);
    assert_eq!(o.claimed_block_hash, o.derived_block_hash, "the blocks themselves are right");
    Ok(())
}

/// An L1 reorg that removes batches under a running validator: its safe head
/// goes back, the batches the sequencer posts again are derived, and it ends on
/// the sequencer's chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn validator_survives_an_l1_reorg() -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    let (seq, d) = settled_node(&anvil.url, DataAvailability::Calldata, 1, None).await?;
    let v = start_validator(&anvil.url, &d, None, test_chain()).await?;
    let l1 = provider(&anvil.url)?;
    let rollup = infra_l1::Rollup::new(d.rollup, l1.clone());
    // Keep the reorg clear of the deployment's blocks.
    wait_for("L1 blocks after the deployment", Duration::from_secs(30), async || {
        Ok((l1.get_block_number().await? > d.deploy_block + 3).then_some(()))
    })
    .await?;
    let mut last = 0;
    for _ in 0..2 {
        last = l2_transfer(&seq.http_url).await?;
    }
    safe_through(&v, last, 60).await?;
    // Replace the L1 blocks from the newest batch's on (with that batch).
    let count = rollup.batchCount().call().await?;
    let newest = rollup.getBatch(count - U256::from(1)).call().await?;
    let depth = l1.get_block_number().await? - newest.l1Block + 1;
    assert!(newest.l1Block > d.deploy_block);
    let _: serde_json::Value = l1
        .raw_request("anvil_reorg".into(), (depth, Vec::<(serde_json::Value, u64)>::new()))
        .await?;
    assert!(rollup.batchCount().call().await? < count, "the reorg removed a batch");
    for _ in 0..2 {
        last = l2_transfer(&seq.http_url).await?;
    }
    safe_through(&v, last, 90).await?;
    same_chain(&seq.http_url, &v.http_url, last).await?;
    assert!(status(&v).invalid_outputs.is_empty());
    Ok(())
}
