//! The README's one-machine network, as an operator runs it: `infra-node --dev`
//! (sequencer + embedded L1), and two `--role validator` processes joining it
//! over libp2p and deriving from its L1. They stay on the sequencer's chain; a
//! validator killed with SIGKILL and restarted resumes from its database (not
//! from genesis) and ends on the same head.

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use infra_config::DEV_CHAIN_ID;
use infra_e2e::{
    process::NodeProcess,
    settle::{l2_transfer, wait_for},
};
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_infra-node");

fn spawn(args: &[String]) -> eyre::Result<NodeProcess> {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("INFRA_LOG", "info");
    NodeProcess::spawn(cmd)
}

fn provider(url: &str) -> eyre::Result<DynProvider> {
    Ok(ProviderBuilder::new().connect_http(url.parse()?).erased())
}

/// A validator on any free RPC and p2p port (it prints the ones it got).
fn validator_args(datadir: &Path, l1: &str, deployment: &Path, boot: &str) -> Vec<String> {
    let genesis = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../genesis/dev.json");
    [
        "--role",
        "validator",
        "--genesis",
        &genesis.to_string_lossy(),
        "--datadir",
        &datadir.to_string_lossy(),
        "--rpc.port",
        "0",
        "--l1.rpc",
        l1,
        "--deployment",
        &deployment.to_string_lossy(),
        "--l1.poll-ms",
        "200",
        "--p2p.listen",
        "/ip4/127.0.0.1/tcp/0",
        "--p2p.bootnode",
        boot,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

async fn head(url: &str) -> eyre::Result<u64> {
    Ok(provider(url)?.get_block_number().await?)
}

async fn same_block(a: &str, b: &str, n: u64) -> eyre::Result<bool> {
    let x = provider(a)?.get_block_by_number(n.into()).await?.map(|b| b.header.hash);
    let y = provider(b)?.get_block_by_number(n.into()).await?.map(|b| b.header.hash);
    Ok(x.is_some() && x == y)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sequencer_and_two_validator_processes_stay_in_sync_and_survive_kill_9()
-> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let seq_dir = dir.path().join("seq");
    let seq = spawn(&[
        "--dev".into(),
        "--datadir".into(),
        seq_dir.to_string_lossy().into_owned(),
        "--rpc.port".into(),
        "0".into(),
        "--sequencer.block-time-ms".into(),
        "250".into(),
    ])?;
    let seq_url = seq.rpc_url(DEV_CHAIN_ID).await?;
    let l1 = seq.banner("L1 RPC URL:").await?;
    let boot = seq.banner("P2P address:").await?;
    let deployment = seq_dir.join("l1").join("deployment.json");
    let mut urls = Vec::new();
    let mut validators = Vec::new();
    for name in ["v1", "v2"] {
        let v = spawn(&validator_args(&dir.path().join(name), &l1, &deployment, &boot))?;
        urls.push(v.rpc_url(DEV_CHAIN_ID).await?);
        validators.push(v);
    }
    let mut last = 0;
    for _ in 0..3 {
        last = l2_transfer(&seq_url).await?;
    }
    for url in &urls {
        wait_for("a validator at the sequencer's head", Duration::from_secs(30), async || {
            Ok(same_block(&seq_url, url, last).await?.then_some(()))
        })
        .await?;
    }

    // kill -9 v1 once it has derived something from L1, then restart it.
    // Two batches: the record written after the first is surely on disk.
    wait_for("v1 to derive two batches from L1", Duration::from_secs(60), async || {
        let derived = validators[0].text().matches("batch derived: output matches").count();
        if derived < 2 {
            last = l2_transfer(&seq_url).await?;
        }
        Ok((derived >= 2).then_some(()))
    })
    .await
    .map_err(|e| {
        let text = validators[0].text();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        eyre::eyre!("{e}; v1 log tail: {tail:#?}")
    })?;
    let v1 = validators.remove(0);
    drop(v1); // SIGKILL
    for _ in 0..2 {
        last = l2_transfer(&seq_url).await?;
    }
    let v1 = spawn(&validator_args(&dir.path().join("v1"), &l1, &deployment, &boot))?;
    let v1_url = v1.rpc_url(DEV_CHAIN_ID).await?;
    let resumed = v1.banner("Head:").await?;
    assert!(resumed.parse::<u64>()? > 0, "v1 restarted from its database, head {resumed}");
    wait_for("v1 back at the sequencer's head", Duration::from_secs(60), async || {
        Ok(same_block(&seq_url, &v1_url, last).await?.then_some(()))
    })
    .await?;
    assert!(v1.text().contains("resuming derivation"), "derivation resumed: {}", v1.text());
    assert!(!v1.text().contains("initialised genesis"), "no new genesis after the restart");
    for n in 1..=last {
        assert!(same_block(&seq_url, &v1_url, n).await?, "block {n}");
        assert!(same_block(&seq_url, &urls[1], n).await?, "block {n}");
    }
    assert!(head(&v1_url).await? >= last);
    Ok(())
}
