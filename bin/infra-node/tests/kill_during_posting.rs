//! kill -9 the sequencer again and again while it posts batches to anvil, and
//! restart it: every L2 block ends up on L1 exactly once, in order, and every
//! deposit is applied exactly once. Runs the real binary: `deploy`, then
//! `--role sequencer --l1.rpc --deployment`.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use infra_config::DEV_CHAIN_ID;
use infra_e2e::{
    process::NodeProcess,
    settle::{check_batches, start_anvil},
};
use infra_l1::{Bridge, Deployment, Rollup};
use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_infra-node");

fn genesis() -> String {
    infra_e2e::settle::repo_root().join("genesis/dev.json").to_string_lossy().into_owned()
}

/// The sequencer on `datadir`, on any free RPC port; ready once it answers.
async fn start(
    datadir: &Path,
    l1: &str,
    deployment: &Path,
    key: &str,
    da: &str,
) -> eyre::Result<(NodeProcess, String)> {
    let config = datadir.parent().unwrap_or(datadir).join("chain.toml");
    let mut cmd = Command::new(BIN);
    cmd.args(["--role", "sequencer", "--genesis", &genesis()])
        .arg("--config")
        .arg(&config)
        .arg("--datadir")
        .arg(datadir)
        .args(["--rpc.port", "0", "--l1.rpc", l1, "--l1.poll-ms", "200"])
        .args(["--l1.confirmations", "1", "--sequencer.block-time-ms", "250", "--batch.da", da])
        .arg("--deployment")
        .arg(deployment)
        .env("INFRA_L1_KEY", key)
        .env("INFRA_LOG", "warn");
    let node = NodeProcess::spawn(cmd)?;
    let url = node.rpc_url(DEV_CHAIN_ID).await?;
    Ok((node, url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_posting_calldata_loses_and_repeats_nothing() -> eyre::Result<()> {
    kill_9_while_posting("calldata").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_posting_blobs_loses_and_repeats_nothing() -> eyre::Result<()> {
    kill_9_while_posting("blob").await
}

/// Four rounds of: start the real binary on anvil, deposit on L1, send L2
/// transfers, kill -9 at a different point of the posting cycle. Then a final run
/// catches up, and L1 must hold every L2 block exactly once (decoded from the
/// batches) and L2 every deposit exactly once.
async fn kill_9_while_posting(da: &str) -> eyre::Result<()> {
    let anvil = start_anvil().await?;
    let dir = tempfile::tempdir()?;
    let batcher = dev_key_hex(9)?;
    let deployment_file = dir.path().join("deployment.json");
    let config = dir.path().join("chain.toml");
    std::fs::write(&config, "[chain]\n")?;
    let status = Command::new(BIN)
        .args(["deploy", "--l1.rpc", &anvil.url, "--genesis", &genesis()])
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(&deployment_file)
        .env("INFRA_L1_KEY", &batcher)
        .stdout(Stdio::null())
        .status()?;
    assert!(status.success(), "infra-node deploy");
    let d: Deployment = serde_json::from_str(&std::fs::read_to_string(&deployment_file)?)?;

    let datadir = dir.path().join("data");
    let alice = dev_signer(0)?;
    let l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(alice.clone()))
        .connect_http(anvil.url.parse()?)
        .erased();
    let bridge = Bridge::new(d.bridge, &l1);
    let recipients: Vec<Address> = (0..4).map(|_| PrivateKeySigner::random().address()).collect();

    let mut sent = 0u64;
    for round in 0..4u64 {
        let (child, url) = start(&datadir, &anvil.url, &deployment_file, &batcher, da).await?;
        let l2 = ProviderBuilder::new().connect_http(url.parse()?).erased();
        let l2w = ProviderBuilder::new()
            .wallet(EthereumWallet::from(alice.clone()))
            .connect_http(url.parse()?)
            .erased();
        // A deposit per round and a stream of L2 transfers.
        let _pending = bridge
            .depositETH(recipients[round as usize], 100_000, Bytes::new())
            .value(U256::from(round + 1))
            .send()
            .await?;
        for _ in 0..6 {
            let tx = alloy::rpc::types::TransactionRequest::default()
                .to(Address::repeat_byte(0x77))
                .value(U256::from(1));
            if l2w.send_transaction(tx).await.is_ok() {
                sent += 1;
            }
            tokio::time::sleep(Duration::from_millis(150 + 70 * round)).await;
        }
        let _ = l2.get_block_number().await?;
        // kill -9, at a different point of the posting cycle each round.
        child.kill()?;
    }

    // A final run: let it catch up, then check L1 against the L2 chain.
    let (child, url) = start(&datadir, &anvil.url, &deployment_file, &batcher, da).await?;
    let l2: DynProvider = ProviderBuilder::new().connect_http(url.parse()?).erased();
    let rollup = Rollup::new(d.rollup, &l1);
    let mut covered = None;
    for _ in 0..150 {
        let head = l2.get_block_number().await?;
        let mut balances_ok = true;
        for (i, r) in recipients.iter().enumerate() {
            balances_ok &= l2.get_balance(*r).await? == U256::from(i as u64 + 1);
        }
        if balances_ok && rollup.nextBlock().call().await? > head {
            covered = Some(head);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let head = covered.expect("every deposit applied once and every L2 block posted");
    assert!(sent > 0, "transactions were accepted");
    // Batches on L1, decoded: contiguous from block 1, each block once, equal to L2.
    let blob_batches = check_batches(&l1, &l2, &d, head).await?;
    assert_eq!(blob_batches > 0, da == "blob", "batches went where --batch.da said");
    child.kill()?;
    Ok(())
}

fn dev_signer(i: u32) -> eyre::Result<PrivateKeySigner> {
    Ok(infra_config::dev_signer(i)?)
}

fn dev_key_hex(i: u32) -> eyre::Result<String> {
    Ok(alloy::hex::encode_prefixed(dev_signer(i)?.to_bytes()))
}
